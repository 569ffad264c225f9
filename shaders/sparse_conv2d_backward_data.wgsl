// dx[n, c, ih, iw] = Σ over taps (ki, kj) whose output position (oh, ow) — oh·sh − ph + ki = ih,
// likewise ow — exists, Σ over the stored entries (o, v) of row k = (c·kh + ki)·kw + kj of the CSR
// of Wᵀ [C·kh·kw × O], of v·dy[n, o, oh, ow]. Gathering per input element needs no atomics.
// Params and its uniform `u` come from include/conv2d_params.wgsl, WORKGROUP_1D and index_1d
// from include/grid1d.wgsl (both prepended at build time).
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> row_ptr: array<i32>;
@group(0) @binding(3) var<storage, read> col_idx: array<i32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let idx = index_1d(gid, groups);
  if (idx >= u.batch * u.in_c * u.in_h * u.in_w) { return; }
  let iw = idx % u.in_w;
  let ih = (idx / u.in_w) % u.in_h;
  let c = (idx / (u.in_w * u.in_h)) % u.in_c;
  let n = idx / (u.in_w * u.in_h * u.in_c);
  let plane = u.out_h * u.out_w;
  let dy_image = n * u.out_c * plane;
  var acc = 0.0;
  for (var ki = 0u; ki < u.k_h; ki++) {
    let th = i32(ih + u.pad_h) - i32(ki);
    if (th < 0 || u32(th) % u.stride_h != 0u) { continue; }
    let oh = u32(th) / u.stride_h;
    if (oh >= u.out_h) { continue; }
    for (var kj = 0u; kj < u.k_w; kj++) {
      let tw = i32(iw + u.pad_w) - i32(kj);
      if (tw < 0 || u32(tw) % u.stride_w != 0u) { continue; }
      let ow = u32(tw) / u.stride_w;
      if (ow >= u.out_w) { continue; }
      let k = (c * u.k_h + ki) * u.k_w + kj;
      let at = dy_image + oh * u.out_w + ow;
      for (var i = row_ptr[k]; i < row_ptr[k + 1u]; i++) {
        acc += values[i] * dy[at + u32(col_idx[i]) * plane];
      }
    }
  }
  dx[idx] = acc;
}
