// out[j] = Σ_r x[r, j] (+ beta·out[j]) for x [rows×cols]: the bias gradient of a linear layer.
// WORKGROUP_1D and index_1d come from include/grid1d.wgsl, prepended at build time.
struct Params { rows: u32, cols: u32, beta: f32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let j = index_1d(gid, groups);
  if (j >= u.cols) { return; }
  var acc = 0.0;
  for (var r = 0u; r < u.rows; r++) { acc += x[r * u.cols + j]; }
  if (u.beta != 0.0) { acc += u.beta * out[j]; }
  out[j] = acc;
}
