// dw[o, c, ki, kj] = Σ_{n, oh, ow} dy[n, o, oh, ow] · x[n, c, oh·sh − ph + ki, ow·sw − pw + kj],
// one invocation per weight. Output positions whose tap falls in the padding contribute nothing,
// so the loops run only over the range that lands inside the image.
// Params and its uniform `u` come from include/conv2d_params.wgsl, WORKGROUP_1D and index_1d
// from include/grid1d.wgsl (both prepended at build time).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;

/** Outputs o ∈ [lo, hi) with o·stride − pad + k ∈ [0, size), clipped to [0, out). */
fn inside(k: u32, size: u32, stride: u32, pad: u32, out: u32) -> vec2<u32> {
  let a = i32(pad) - i32(k);
  let lo = select(0u, (u32(a) + stride - 1u) / stride, a > 0);
  let t = i32(size) - 1 + i32(pad) - i32(k);
  let hi = select(0u, min(out, u32(t) / stride + 1u), t >= 0);
  return vec2<u32>(lo, max(lo, hi));
}

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  if (i >= u.out_c * u.in_c * u.k_h * u.k_w) { return; }
  let kj = i % u.k_w;
  let ki = (i / u.k_w) % u.k_h;
  let c = (i / (u.k_w * u.k_h)) % u.in_c;
  let o = i / (u.k_w * u.k_h * u.in_c);
  let rh = inside(ki, u.in_h, u.stride_h, u.pad_h, u.out_h);
  let rw = inside(kj, u.in_w, u.stride_w, u.pad_w, u.out_w);
  var acc = 0.0;
  for (var n = 0u; n < u.batch; n++) {
    let dy_plane = (n * u.out_c + o) * u.out_h;
    let x_plane = (n * u.in_c + c) * u.in_h;
    for (var oh = rh.x; oh < rh.y; oh++) {
      let dy_row = (dy_plane + oh) * u.out_w;
      // Sums are ordered so that no intermediate goes negative: the taps in range are inside x.
      let x_row = (x_plane + oh * u.stride_h + ki - u.pad_h) * u.in_w;
      for (var ow = rw.x; ow < rw.y; ow++) {
        acc += dy[dy_row + ow] * x[x_row + ow * u.stride_w + kj - u.pad_w];
      }
    }
  }
  dw[i] = acc;
}
