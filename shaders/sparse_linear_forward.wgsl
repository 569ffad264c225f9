// y[n, r] = bias[r] + Σ_i values[i]·x[n, col_idx[i]] over the stored entries of row r of a CSR
// matrix [rows × cols]: y = x·Aᵀ + b. With A = the CSR of Wᵀ and x = dy it is the input gradient
// dy·W. One invocation per output element gathers its row; no atomics, no scatter.
// WORKGROUP_1D and index_1d come from include/grid1d.wgsl, prepended at build time.
struct Params { batch: u32, cols: u32, rows: u32, has_bias: u32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> row_ptr: array<i32>;
@group(0) @binding(3) var<storage, read> col_idx: array<i32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let idx = index_1d(gid, groups);
  if (idx >= u.batch * u.rows) { return; }
  let r = idx % u.rows;
  let xrow = (idx / u.rows) * u.cols;
  var acc = 0.0;
  if (u.has_bias != 0u) { acc = bias[r]; }
  for (var i = row_ptr[r]; i < row_ptr[r + 1u]; i++) {
    acc += values[i] * x[xrow + u32(col_idx[i])];
  }
  y[idx] = acc;
}
