// p ← p − lr·(g + weight_decay·p), as torch.optim.SGD without momentum.
struct Params { n: u32, lr: f32, weight_decay: f32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * 64u;
  if (i >= u.n) { return; }
  let p = param[i];
  param[i] = p - u.lr * (grad[i] + u.weight_decay * p);
}
