// C[m×n] = A·B (+ bias broadcast along rows) (+ beta·C), with A and B addressed through strides so
// that one shader serves x·Wᵀ, dy·W and dyᵀ·x without transposing anything:
//   A(i, p) = a[i·a_row + p·a_k],  B(p, j) = b[p·b_k + j·b_col].
// One invocation per output element; correct on any adapter. (Tiled variants for real GPUs are
// the training engine's job.)
struct Params {
  m: u32, n: u32, k: u32,
  a_row: u32, a_k: u32,
  b_k: u32, b_col: u32,
  has_bias: u32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let i = gid.y;
  if (i >= u.m || j >= u.n) { return; }
  var acc = 0.0;
  if (u.has_bias != 0u) { acc = bias[j]; }
  for (var p = 0u; p < u.k; p++) {
    acc += a[i * u.a_row + p * u.a_k] * b[p * u.b_k + j * u.b_col];
  }
  let idx = i * u.n + j;
  if (u.beta != 0.0) { acc += u.beta * c[idx]; }
  c[idx] = acc;
}
