// y, indices = the max-pool of conv2d(x, w) + b (then ReLU if u.relu): the entry point in
// include/conv2d_pooled.wgsl (with Params and u) pools over conv_at from include/conv2d_at.wgsl,
// the sum conv2d_forward.wgsl stores; is_nan and relu come from include/float_bits.wgsl,
// WORKGROUP_1D and index_1d from include/grid1d.wgsl (all prepended at build time).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> indices: array<i32>;
