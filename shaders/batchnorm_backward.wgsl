// Batch normalisation's training-mode gradient, one workgroup per channel: Σ dy and Σ dy·(x − μ)
// reduced in a fixed tree order, then dβ = Σ dy, dγ = Σ dy·x̂ and
// dx = γσ⁻¹·(dy − dβ/M − x̂·dγ/M), with x̂ = (x − μ)σ⁻¹ and M = batch·spatial.
struct Params { batch: u32, channels: u32, spatial: u32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> save_mean: array<f32>;
@group(0) @binding(5) var<storage, read> save_invstd: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(8) var<storage, read_write> dbeta: array<f32>;

const WG = 256u;
var<workgroup> partial_dy: array<f32, WG>;
var<workgroup> partial_dev: array<f32, WG>;

fn element(j: u32, c: u32) -> u32 {
  let n = j / u.spatial;
  return (n * u.channels + c) * u.spatial + (j - n * u.spatial);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wg.x;
  let count = u.batch * u.spatial;
  let mean = save_mean[c];
  let invstd = save_invstd[c];
  var s_dy = 0.0;
  var s_dev = 0.0;
  for (var j = lid; j < count; j += WG) {
    let at = element(j, c);
    s_dy += dy[at];
    s_dev += dy[at] * (x[at] - mean);
  }
  partial_dy[lid] = s_dy;
  partial_dev[lid] = s_dev;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial_dy[lid] += partial_dy[lid + stride];
      partial_dev[lid] += partial_dev[lid + stride];
    }
    workgroupBarrier();
  }
  let sum_dy = partial_dy[0];
  let sum_dy_xhat = partial_dev[0] * invstd;
  if (lid == 0u) {
    dbeta[c] = sum_dy;
    dgamma[c] = sum_dy_xhat;
  }
  let k = gamma[c] * invstd;
  let m = f32(count);
  let b = -k * invstd * sum_dy_xhat / m;
  let shift = -k * sum_dy / m;
  for (var j = lid; j < count; j += WG) {
    let at = element(j, c);
    dx[at] = dy[at] * k + (x[at] - mean) * b + shift;
  }
}
