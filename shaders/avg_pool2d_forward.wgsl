// Average pooling, one invocation per output element; the divisor is the full kernel area
// (count_include_pad = true: padding counts as zeros).
// Params and its uniform `u` come from include/pool2d_params.wgsl, WORKGROUP_1D and index_1d
// from include/grid1d.wgsl (both prepended at build time).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  if (i >= u.planes * u.out_h * u.out_w) { return; }
  let ow = i % u.out_w;
  let rest = i / u.out_w;
  let oh = rest % u.out_h;
  let plane = rest / u.out_h;
  let h0 = i32(oh * u.stride_h) - i32(u.pad_h);
  let w0 = i32(ow * u.stride_w) - i32(u.pad_w);
  let hs = u32(max(h0, 0));
  let ws = u32(max(w0, 0));
  let he = u32(min(h0 + i32(u.kernel_h), i32(u.in_h)));
  let we = u32(min(w0 + i32(u.kernel_w), i32(u.in_w)));
  let base = plane * u.in_h * u.in_w;
  var s = 0.0;
  for (var h = hs; h < he; h++) {
    for (var w = ws; w < we; w++) { s += x[base + h * u.in_w + w]; }
  }
  y[i] = s / f32(u.kernel_h * u.kernel_w);
}
