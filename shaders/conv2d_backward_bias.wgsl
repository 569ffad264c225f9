// db[o] = Σ_{n, oh, ow} dy[n, o, oh, ow], one invocation per output channel.
struct Params {
  batch: u32, in_c: u32, in_h: u32, in_w: u32,
  out_c: u32, k_h: u32, k_w: u32,
  stride_h: u32, stride_w: u32, pad_h: u32, pad_w: u32,
  out_h: u32, out_w: u32, has_bias: u32,
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let o = gid.x + gid.y * groups.x * 64u;
  if (o >= u.out_c) { return; }
  let plane = u.out_h * u.out_w;
  var acc = 0.0;
  for (var n = 0u; n < u.batch; n++) {
    let base = (n * u.out_c + o) * plane;
    for (var p = 0u; p < plane; p++) { acc += dy[base + p]; }
  }
  db[o] = acc;
}
