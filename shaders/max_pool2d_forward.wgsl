// Max pooling, one invocation per output element: the window's maximum and its flat index
// h·in_w + w within the input plane. Padding is never read (it stands for −∞), so the clipped
// window is scanned; padding ≤ kernel/2 guarantees it is non-empty.
// Params and its uniform `u` come from include/pool2d_params.wgsl, WORKGROUP_1D and index_1d
// from include/grid1d.wgsl, is_nan from include/float_bits.wgsl (all prepended at build time).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> indices: array<i32>;

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
  // Starting from the first element, not −∞, reproduces torch's index for an all-−∞ window.
  var arg = hs * u.in_w + ws;
  var best = x[base + arg];
  for (var h = hs; h < he; h++) {
    for (var w = ws; w < we; w++) {
      let at = h * u.in_w + w;
      let v = x[base + at];
      // torch's rule: a strictly larger value or any NaN takes over (first max wins on ties).
      if (v > best || is_nan(v)) {
        best = v;
        arg = at;
      }
    }
  }
  y[i] = best;
  indices[i] = i32(arg);
}
