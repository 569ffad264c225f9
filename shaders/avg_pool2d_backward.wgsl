// Average pooling's gradient, gathered: one invocation per input element sums dy over the windows
// covering it (oh·stride ≤ h + pad < oh·stride + kernel) and divides by the kernel area. No two
// invocations write the same element, so overlapping windows need no atomics.
// Params and its uniform `u` come from include/pool2d_params.wgsl, WORKGROUP_1D and index_1d
// from include/grid1d.wgsl (both prepended at build time).
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  if (i >= u.planes * u.in_h * u.in_w) { return; }
  let w = i % u.in_w;
  let rest = i / u.in_w;
  let h = rest % u.in_h;
  let plane = rest / u.in_h;
  let hp = h + u.pad_h;
  let wp = w + u.pad_w;
  let oh_lo = select(0u, (hp - u.kernel_h) / u.stride_h + 1u, hp >= u.kernel_h);
  let ow_lo = select(0u, (wp - u.kernel_w) / u.stride_w + 1u, wp >= u.kernel_w);
  let oh_end = min(hp / u.stride_h + 1u, u.out_h);
  let ow_end = min(wp / u.stride_w + 1u, u.out_w);
  let base = plane * u.out_h * u.out_w;
  var s = 0.0;
  for (var oh = oh_lo; oh < oh_end; oh++) {
    for (var ow = ow_lo; ow < ow_end; ow++) { s += dy[base + oh * u.out_w + ow]; }
  }
  dx[i] = s / f32(u.kernel_h * u.kernel_w);
}
