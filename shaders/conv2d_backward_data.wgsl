// dx[n, c, ih, iw] = Σ dy[n, o, oh, ow] · w[o, c, ki, kj] over the output positions whose window
// covers (ih, iw), i.e. oh·sh − ph + ki = ih. Gathering per input element (one invocation each)
// needs no atomics; the covering oh are a contiguous range, so no tap is tested and rejected.
// Params and its uniform `u` come from include/conv2d_params.wgsl, WORKGROUP_1D and index_1d
// from include/grid1d.wgsl (both prepended at build time).
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

/** Outputs o ∈ [lo, hi) with t − o·stride ∈ [0, k), t = input index + pad, clipped to [0, out). */
fn covering(t: u32, k: u32, stride: u32, out: u32) -> vec2<u32> {
  let a = i32(t) + 1 - i32(k);
  let lo = select(0u, (u32(a) + stride - 1u) / stride, a > 0);
  let hi = min(out, t / stride + 1u);
  return vec2<u32>(lo, max(lo, hi));
}

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  if (i >= u.batch * u.in_c * u.in_h * u.in_w) { return; }
  let iw = i % u.in_w;
  let ih = (i / u.in_w) % u.in_h;
  let c = (i / (u.in_w * u.in_h)) % u.in_c;
  let n = i / (u.in_w * u.in_h * u.in_c);
  let th = ih + u.pad_h;
  let tw = iw + u.pad_w;
  let rh = covering(th, u.k_h, u.stride_h, u.out_h);
  let rw = covering(tw, u.k_w, u.stride_w, u.out_w);
  let plane = u.out_h * u.out_w;
  var acc = 0.0;
  for (var oh = rh.x; oh < rh.y; oh++) {
    let ki = th - oh * u.stride_h;
    for (var ow = rw.x; ow < rw.y; ow++) {
      let kj = tw - ow * u.stride_w;
      var dy_at = n * u.out_c * plane + oh * u.out_w + ow;
      var w_at = (c * u.k_h + ki) * u.k_w + kj;
      for (var o = 0u; o < u.out_c; o++) {
        acc += dy[dy_at] * w[w_at];
        dy_at += plane;
        w_at += u.in_c * u.k_h * u.k_w;
      }
    }
  }
  dx[i] = acc;
}
