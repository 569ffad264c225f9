// out[0] ← Σ x² in one workgroup of 256: each invocation sums a strided share, then a fixed-order
// tree reduction (deterministic; one dispatch, no atomics). Layers are at most a few million
// weights, so one workgroup is fast enough next to the matrix products of the same step.
struct Params { n: u32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < u.n; i += 256u) { acc += x[i] * x[i]; }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[0] = partial[0]; }
}
