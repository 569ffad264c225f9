// The weight and bias gradients of a convolution whose output feeds a max-pool, from the pool's
// output gradient g and its indices (src/kernels/conv.ts: conv2dWeightGradPooled):
//   dw[o, c, ki, kj] = Σ_{n, p} g[n, o, p] · x[n, c, r·sh − ph + ki, q·sw − pw + kj],
//   db[o] = Σ_{n, p} g[n, o, p],   (r, q) = indices[n, o, p] split by the conv output width,
// over the pooled positions p whose index lies in the conv's output plane. Invocations 0 … |dw|−1
// compute one weight each, the next out_c (when has_db) one bias each. WORKGROUP_1D and index_1d
// come from include/grid1d.wgsl (prepended at build time).
struct Params {
  batch: u32, in_c: u32, in_h: u32, in_w: u32,
  out_c: u32, k_h: u32, k_w: u32,
  stride_h: u32, stride_w: u32, pad_h: u32, pad_w: u32,
  out_h: u32, out_w: u32, pooled: u32, has_db: u32,
}

@group(0) @binding(0) var<uniform> geo: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> indices: array<i32>;
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;
@group(0) @binding(5) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  let weights = geo.out_c * geo.in_c * geo.k_h * geo.k_w;
  let positions = i32(geo.out_h * geo.out_w);
  if (i >= weights) {
    let o = i - weights;
    if (geo.has_db == 0u || o >= geo.out_c) { return; }
    var sum = 0.0;
    for (var n = 0u; n < geo.batch; n++) {
      let plane = (n * geo.out_c + o) * geo.pooled;
      for (var p = 0u; p < geo.pooled; p++) {
        let at = indices[plane + p];
        if (at >= 0 && at < positions) { sum += g[plane + p]; }
      }
    }
    db[o] = sum;
    return;
  }
  let kj = i % geo.k_w;
  let ki = (i / geo.k_w) % geo.k_h;
  let c = (i / (geo.k_w * geo.k_h)) % geo.in_c;
  let o = i / (geo.k_w * geo.k_h * geo.in_c);
  var acc = 0.0;
  for (var n = 0u; n < geo.batch; n++) {
    let plane = (n * geo.out_c + o) * geo.pooled;
    let x_plane = (n * geo.in_c + c) * geo.in_h;
    for (var p = 0u; p < geo.pooled; p++) {
      let at = indices[plane + p];
      if (at < 0 || at >= positions) { continue; }
      let r = u32(at) / geo.out_w;
      let q = u32(at) % geo.out_w;
      // Signed, so that a tap in the top or left padding is recognised and skipped.
      let ih = i32(r * geo.stride_h + ki) - i32(geo.pad_h);
      let iw = i32(q * geo.stride_w + kj) - i32(geo.pad_w);
      if (ih < 0 || ih >= i32(geo.in_h) || iw < 0 || iw >= i32(geo.in_w)) { continue; }
      acc += g[plane + p] * x[(x_plane + u32(ih)) * geo.in_w + u32(iw)];
    }
  }
  dw[i] = acc;
}
