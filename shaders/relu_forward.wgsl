// y = max(x, 0), NaN kept (relu from include/float_bits.wgsl)
// WORKGROUP_1D and index_1d come from include/grid1d.wgsl, prepended at build time.
struct Params { n: u32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  if (i >= u.n) { return; }
  y[i] = relu(x[i]);
}
