// Adaptive average pooling, one invocation per output element, over torch's bins
// [⌊o·in/out⌋, ⌈(o+1)·in/out⌉) in each direction.
// WORKGROUP_1D and index_1d come from include/grid1d.wgsl, prepended at build time.
struct Params { planes: u32, in_h: u32, in_w: u32, out_h: u32, out_w: u32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  if (i >= u.planes * u.out_h * u.out_w) { return; }
  let ow = i % u.out_w;
  let rest = i / u.out_w;
  let oh = rest % u.out_h;
  let plane = rest / u.out_h;
  let hs = oh * u.in_h / u.out_h;
  let he = ((oh + 1u) * u.in_h + u.out_h - 1u) / u.out_h;
  let ws = ow * u.in_w / u.out_w;
  let we = ((ow + 1u) * u.in_w + u.out_w - 1u) / u.out_w;
  let base = plane * u.in_h * u.in_w;
  var s = 0.0;
  for (var h = hs; h < he; h++) {
    for (var w = ws; w < we; w++) { s += x[base + h * u.in_w + w]; }
  }
  y[i] = s / f32((he - hs) * (we - ws));
}
