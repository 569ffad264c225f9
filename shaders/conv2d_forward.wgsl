// y = conv2d(x, w) + b, one invocation per output element (conv_at: include/conv2d_at.wgsl).
// Params and its uniform `u` come from include/conv2d_params.wgsl, WORKGROUP_1D and index_1d
// from include/grid1d.wgsl (all prepended at build time).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  if (i >= u.batch * u.out_c * u.out_h * u.out_w) { return; }
  let ow = i % u.out_w;
  let oh = (i / u.out_w) % u.out_h;
  let o = (i / (u.out_w * u.out_h)) % u.out_c;
  let n = i / (u.out_w * u.out_h * u.out_c);
  y[i] = conv_at(n, o, oh, ow);
}
