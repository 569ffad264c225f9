// y, indices = the max-pool of the convolution with a CSR weight [O × C·kh·kw] (then ReLU if
// u.relu): conv_at is sparse_conv2d_forward.wgsl's sum for one output, in its order, and the entry
// point in include/conv2d_pooled.wgsl pools over it. Params, u, main and is_nan come from that
// include, WORKGROUP_1D and index_1d from include/grid1d.wgsl (prepended at build time).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> row_ptr: array<i32>;
@group(0) @binding(3) var<storage, read> col_idx: array<i32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<storage, read_write> indices: array<i32>;

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
