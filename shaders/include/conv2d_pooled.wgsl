// What the fused convolution → max-pool (→ ReLU) shaders share (conv2d_forward_pooled.wgsl,
// sparse_conv2d_forward_pooled.wgsl): their uniform block — conv2d_params.wgsl's, then the pool's —
// and the entry point. One invocation per pooled output computes the convolution at each position
// of its window (conv_at: include/conv2d_at.wgsl or sparse_conv2d_at.wgsl) and keeps max_pool2d_forward.wgsl's maximum and
// index; the pool is unpadded, so every window lies inside the convolution's output.
struct Params {
  batch: u32, in_c: u32, in_h: u32, in_w: u32,
  out_c: u32, k_h: u32, k_w: u32,
  stride_h: u32, stride_w: u32, pad_h: u32, pad_w: u32,
  out_h: u32, out_w: u32, has_bias: u32,
  pool_h: u32, pool_w: u32, pool_stride_h: u32, pool_stride_w: u32, pooled_h: u32, pooled_w: u32, relu: u32,
}

@group(0) @binding(0) var<uniform> u: Params;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  if (i >= u.batch * u.out_c * u.pooled_h * u.pooled_w) { return; }
  let pw = i % u.pooled_w;
  let ph = (i / u.pooled_w) % u.pooled_h;
  let plane = i / (u.pooled_w * u.pooled_h);
  let o = plane % u.out_c;
  let n = plane / u.out_c;
  let h0 = ph * u.pool_stride_h;
  let w0 = pw * u.pool_stride_w;
  var arg = h0 * u.out_w + w0;
  var best = conv_at(n, o, h0, w0);
  for (var h = h0; h < h0 + u.pool_h; h++) {
    for (var w = w0; w < w0 + u.pool_w; w++) {
      if (h == h0 && w == w0) { continue; }
      let v = conv_at(n, o, h, w);
      // torch's rule: a strictly larger value or any NaN takes over (first max wins on ties).
      if (v > best || is_nan(v)) {
        best = v;
        arg = h * u.out_w + w;
      }
    }
  }
  if (u.relu != 0u) { best = relu(best); }
  y[i] = best;
  indices[i] = i32(arg);
}
