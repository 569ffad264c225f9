// y[n, o, oh, ow] = bias[o] + Σ over the stored entries (k, v) of row o of the CSR weight
// [O × C·kh·kw], k = (c·kh + ki)·kw + kj, of v·x[n, c, oh·sh − ph + ki, ow·sw − pw + kj] (taps that
// land in the padding add nothing). One invocation per output element, so cost follows nnz.
// Params and its uniform `u` come from include/conv2d_params.wgsl, WORKGROUP_1D and index_1d
// from include/grid1d.wgsl (both prepended at build time).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> row_ptr: array<i32>;
@group(0) @binding(3) var<storage, read> col_idx: array<i32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let idx = index_1d(gid, groups);
  if (idx >= u.batch * u.out_c * u.out_h * u.out_w) { return; }
  let ow = idx % u.out_w;
  let oh = (idx / u.out_w) % u.out_h;
  let o = (idx / (u.out_w * u.out_h)) % u.out_c;
  let n = idx / (u.out_w * u.out_h * u.out_c);
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
  y[idx] = acc;
}
