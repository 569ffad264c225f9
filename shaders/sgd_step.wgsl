// p ← p − lr·(g + weight_decay·p), as torch.optim.SGD without momentum.
// WORKGROUP_1D and index_1d come from include/grid1d.wgsl, prepended at build time.
struct Params { n: u32, lr: f32, weight_decay: f32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  if (i >= u.n) { return; }
  let p = param[i];
  param[i] = p - u.lr * (grad[i] + u.weight_decay * p);
}
