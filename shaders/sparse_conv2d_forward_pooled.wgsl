// y, indices = the max-pool of the convolution with a CSR weight [O × C·kh·kw] (then ReLU if
// u.relu): the entry point in include/conv2d_pooled.wgsl (with Params and u) pools over conv_at
// from include/sparse_conv2d_at.wgsl, the sum sparse_conv2d_forward.wgsl stores; is_nan and relu
// come from include/float_bits.wgsl, WORKGROUP_1D and index_1d from include/grid1d.wgsl (all
// prepended at build time).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> row_ptr: array<i32>;
@group(0) @binding(3) var<storage, read> col_idx: array<i32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<storage, read_write> indices: array<i32>;
