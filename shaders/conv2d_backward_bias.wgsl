// db[o] = Σ_{n, oh, ow} dy[n, o, oh, ow], one invocation per output channel.
// Params and its uniform `u` come from include/conv2d_params.wgsl, WORKGROUP_1D and index_1d
// from include/grid1d.wgsl (both prepended at build time).
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let o = index_1d(gid, groups);
  if (o >= u.out_c) { return; }
  let plane = u.out_h * u.out_w;
  var acc = 0.0;
  for (var n = 0u; n < u.batch; n++) {
    let base = (n * u.out_c + o) * plane;
    for (var p = 0u; p < plane; p++) { acc += dy[base + p]; }
  }
  db[o] = acc;
}
