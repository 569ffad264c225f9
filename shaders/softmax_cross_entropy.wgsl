// Mean softmax cross-entropy and its gradient in one workgroup: each invocation handles every 64th
// row, then the per-invocation partial losses are summed in a fixed tree order (deterministic).
// A label outside [0, classes) makes the loss NaN, never an out-of-bounds read.
struct Params { batch: u32, classes: u32, want_grad: u32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  var nan_bits = 0x7fc00000u; // a var, so the NaN is made at run time, not in a constant expression
  let inv_batch = 1.0 / f32(u.batch);
  var total = 0.0;
  for (var r = lid; r < u.batch; r += 64u) {
    let row = r * u.classes;
    var mx = logits[row];
    for (var c = 1u; c < u.classes; c++) { mx = max(mx, logits[row + c]); }
    var sum = 0.0;
    for (var c = 0u; c < u.classes; c++) { sum += exp(logits[row + c] - mx); }
    let label = labels[r];
    let valid = label >= 0 && u32(label) < u.classes;
    if (valid) {
      total += log(sum) + mx - logits[row + u32(label)];
    } else {
      total += bitcast<f32>(nan_bits);
    }
    if (u.want_grad != 0u) {
      for (var c = 0u; c < u.classes; c++) {
        let p = exp(logits[row + c] - mx) / sum;
        dlogits[row + c] = select(p, p - 1.0, valid && c == u32(label)) * inv_batch;
      }
    }
  }
  partial[lid] = total;
  workgroupBarrier();
  for (var stride = 32u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[0] = partial[0] * inv_batch; }
}
