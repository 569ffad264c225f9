// y, indices = the max-pool of conv2d(x, w) + b (then ReLU if u.relu): conv_at is
// conv2d_forward.wgsl's sum for one output, in its order (bias first, taps clipped to the input),
// and the entry point in include/conv2d_pooled.wgsl pools over it. Params, u, main and is_nan come
// from that include, WORKGROUP_1D and index_1d from include/grid1d.wgsl (prepended at build time).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> indices: array<i32>;

fn conv_at(n: u32, o: u32, oh: u32, ow: u32) -> f32 {
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
  return acc;
}
