// Max pooling's gradient: dx ← 0, then dx[index] += dy. One invocation owns one whole plane and
// walks its outputs in order. Without the window geometry (only the indices are given) windows may
// overlap, and WGSL has no float atomics; owning the plane makes the scatter race-free and its sum
// order fixed, identical to the CPU backends'. Indices outside the plane are skipped.
// WORKGROUP_1D and index_1d come from include/grid1d.wgsl, prepended at build time.
struct Params { planes: u32, in_size: u32, out_size: u32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<i32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let plane = index_1d(gid, groups);
  if (plane >= u.planes) { return; }
  let in_base = plane * u.in_size;
  let out_base = plane * u.out_size;
  for (var i = 0u; i < u.in_size; i++) { dx[in_base + i] = 0.0; }
  for (var j = 0u; j < u.out_size; j++) {
    let at = u32(indices[out_base + j]); // a negative index wraps past in_size and is skipped
    if (at < u.in_size) { dx[in_base + at] += dy[out_base + j]; }
  }
}
