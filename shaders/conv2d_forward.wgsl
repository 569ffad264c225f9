// y[n, o, oh, ow] = b[o] + Σ_{c, ki, kj} x[n, c, oh·sh − ph + ki, ow·sw − pw + kj] · w[o, c, ki, kj]
// (cross-correlation with zero padding, as torch's conv2d). One invocation per output element; the
// taps that land in the padding are clipped once per invocation instead of tested in the loop.
// Params and its uniform `u` come from include/conv2d_params.wgsl, WORKGROUP_1D and index_1d
// from include/grid1d.wgsl (both prepended at build time).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  if (i >= u.batch * u.out_c * u.out_h * u.out_w) { return; }
  let ow = i % u.out_w;
  let oh = (i / u.out_w) % u.out_h;
  let o = (i / (u.out_w * u.out_h)) % u.out_c;
  let n = i / (u.out_w * u.out_h * u.out_c);
  // Top-left input pixel under the kernel; negative inside the padding.
  let ih0 = i32(oh * u.stride_h) - i32(u.pad_h);
  let iw0 = i32(ow * u.stride_w) - i32(u.pad_w);
  let ki_lo = u32(max(0, -ih0));
  let ki_hi = u32(clamp(i32(u.in_h) - ih0, 0, i32(u.k_h)));
  let kj_lo = u32(max(0, -iw0));
  let kj_hi = u32(clamp(i32(u.in_w) - iw0, 0, i32(u.k_w)));
  var acc = 0.0;
  if (u.has_bias != 0u) { acc = bias[o]; }
  for (var c = 0u; c < u.in_c; c++) {
    let x_plane = (n * u.in_c + c) * u.in_h;
    let w_plane = (o * u.in_c + c) * u.k_h;
    for (var ki = ki_lo; ki < ki_hi; ki++) {
      let x_row = (x_plane + u32(ih0 + i32(ki))) * u.in_w;
      let w_row = (w_plane + ki) * u.k_w;
      for (var kj = kj_lo; kj < kj_hi; kj++) {
        acc += x[x_row + u32(iw0 + i32(kj))] * w[w_row + kj];
      }
    }
  }
  y[i] = acc;
}
