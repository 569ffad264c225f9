// One output of the convolution with a CSR weight [O × C·kh·kw]: y[n, o, oh, ow] = bias[o] + Σ over
// the stored entries (k, v) of row o, k = (c·kh + ki)·kw + kj, of v·x[n, c, oh·sh − ph + ki,
// ow·sw − pw + kj] (taps that land in the padding add nothing), so its cost follows nnz. For
// sparse_conv2d_forward.wgsl and sparse_conv2d_forward_pooled.wgsl, which declare x, row_ptr,
// col_idx, values and bias and a Params with conv2d_params.wgsl's fields.
fn conv_at(n: u32, o: u32, oh: u32, ow: u32) -> f32 {
  let area = u.k_h * u.k_w;
  let h0 = i32(oh * u.stride_h) - i32(u.pad_h);
  let w0 = i32(ow * u.stride_w) - i32(u.pad_w);
  let image = n * u.in_c * u.in_h * u.in_w;
  var acc = 0.0;
  if (u.has_bias != 0u) { acc = bias[o]; }
  for (var i = row_ptr[o]; i < row_ptr[o + 1u]; i++) {
    let k = u32(col_idx[i]);
    let c = k / area;
    let ih = h0 + i32((k / u.k_w) % u.k_h);
    let iw = w0 + i32(k % u.k_w);
    if (ih >= 0 && ih < i32(u.in_h) && iw >= 0 && iw < i32(u.in_w)) {
      acc += values[i] * x[image + (c * u.in_h + u32(ih)) * u.in_w + u32(iw)];
    }
  }
  return acc;
}
