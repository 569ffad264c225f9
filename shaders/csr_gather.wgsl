// values[i] = w[r·row_stride + col_idx[i]·col_stride] for each stored entry i of row r: the kept
// weights of the dense W in CSR order, gathered before a sparse pass. (cols, 1) gathers the CSR of
// W, (1, rows of W) the CSR of Wᵀ. One invocation per row: entries of a row are contiguous.
// WORKGROUP_1D and index_1d come from include/grid1d.wgsl, prepended at build time.
struct Params { rows: u32, row_stride: u32, col_stride: u32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> row_ptr: array<i32>;
@group(0) @binding(3) var<storage, read> col_idx: array<i32>;
@group(0) @binding(4) var<storage, read_write> values: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = index_1d(gid, groups);
  if (r >= u.rows) { return; }
  let base = r * u.row_stride;
  for (var i = row_ptr[r]; i < row_ptr[r + 1u]; i++) {
    values[i] = w[base + u32(col_idx[i]) * u.col_stride];
  }
}
