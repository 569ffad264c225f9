// One output of the convolution, y[n, o, oh, ow] = b[o] + Σ_{c, ki, kj} x[n, c, oh·sh − ph + ki,
// ow·sw − pw + kj] · w[o, c, ki, kj] (cross-correlation with zero padding, as torch's conv2d),
// summed from the bias in (c, ki, kj) order; the taps that land in the padding are clipped once
// instead of tested in the loop. For conv2d_forward.wgsl and conv2d_forward_pooled.wgsl, which
// declare x, w and bias and a Params with conv2d_params.wgsl's fields.
fn conv_at(n: u32, o: u32, oh: u32, ow: u32) -> f32 {
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
  return acc;
}
