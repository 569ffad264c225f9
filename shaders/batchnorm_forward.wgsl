// Batch normalisation forward, one workgroup per channel. Training: the batch mean, then the
// biased variance as the mean of squared deviations (two passes, so a large mean costs no digits),
// each reduced across the workgroup in a fixed tree order (deterministic); the running statistics
// blend in the mean and the unbiased variance. Evaluation: the running statistics. Then every
// invocation normalises its share of the channel. save_mean / save_invstd always receive the
// statistics used (the backend binds scratch buffers when the caller wants none).
struct Params { batch: u32, channels: u32, spatial: u32, training: u32, momentum: f32, eps: f32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<storage, read_write> save_mean: array<f32>;
@group(0) @binding(8) var<storage, read_write> save_invstd: array<f32>;

const WG = 256u;
// One array per reduction. Reusing one array, even with a barrier after everyone has read the
// first total, gave wrong variances on Dawn's OpenGL ES backend (Mesa llvmpipe): the read of the
// first total behaved as if it had moved past that barrier.
var<workgroup> partial_sum: array<f32, WG>;
var<workgroup> partial_sq: array<f32, WG>;

// The j-th element of channel c, counting sample by sample.
fn element(j: u32, c: u32) -> u32 {
  let n = j / u.spatial;
  return (n * u.channels + c) * u.spatial + (j - n * u.spatial);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wg.x;
  let count = u.batch * u.spatial;
  var mean: f32;
  var invstd: f32;
  if (u.training != 0u) {
    var s = 0.0;
    for (var j = lid; j < count; j += WG) { s += x[element(j, c)]; }
    partial_sum[lid] = s;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
      if (lid < stride) { partial_sum[lid] += partial_sum[lid + stride]; }
      workgroupBarrier();
    }
    mean = partial_sum[0] / f32(count);
    var q = 0.0;
    for (var j = lid; j < count; j += WG) {
      let d = x[element(j, c)] - mean;
      q += d * d;
    }
    partial_sq[lid] = q;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
      if (lid < stride) { partial_sq[lid] += partial_sq[lid + stride]; }
      workgroupBarrier();
    }
    let squares = partial_sq[0];
    invstd = 1.0 / sqrt(squares / f32(count) + u.eps);
    if (lid == 0u) {
      running_mean[c] = (1.0 - u.momentum) * running_mean[c] + u.momentum * mean;
      running_var[c] = (1.0 - u.momentum) * running_var[c] + u.momentum * (squares / f32(count - 1u));
    }
  } else {
    mean = running_mean[c];
    invstd = 1.0 / sqrt(running_var[c] + u.eps);
  }
  if (lid == 0u) {
    save_mean[c] = mean;
    save_invstd[c] = invstd;
  }
  let scale = gamma[c] * invstd;
  let shift = beta[c];
  for (var j = lid; j < count; j += WG) {
    let at = element(j, c);
    y[at] = (x[at] - mean) * scale + shift;
  }
}
