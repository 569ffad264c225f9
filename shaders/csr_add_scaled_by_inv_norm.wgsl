// grad[r·cols + col_idx[i]] += lambda·values[i]/√(sum_sq[0]) for every kept entry of a CSR weight:
// the gradient of lambda·‖M⊙W‖₂ from the kept weights alone; unchanged where the norm is 0. One
// invocation per row: rows own disjoint gradient entries, so no two invocations write the same one.
// WORKGROUP_1D and index_1d come from include/grid1d.wgsl, prepended at build time.
struct Params { rows: u32, cols: u32, lambda: f32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> row_ptr: array<i32>;
@group(0) @binding(2) var<storage, read> col_idx: array<i32>;
@group(0) @binding(3) var<storage, read> values: array<f32>;
@group(0) @binding(4) var<storage, read> sum_sq: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = index_1d(gid, groups);
  let s = sum_sq[0];
  if (r >= u.rows || !(s > 0.0)) { return; }
  let scale = u.lambda / sqrt(s);
  let base = r * u.cols;
  for (var i = row_ptr[r]; i < row_ptr[r + 1u]; i++) {
    let at = base + u32(col_idx[i]);
    grad[at] = grad[at] + scale * values[i];
  }
}
