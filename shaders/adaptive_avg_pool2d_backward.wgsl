// Adaptive average pooling's gradient, gathered: one invocation per input element sums
// dy / |bin| over the bins holding it, ⌊h·out/in⌋ ≤ oh < ⌈(h+1)·out/in⌉ (bins overlap when the
// sizes do not divide).
// WORKGROUP_1D and index_1d come from include/grid1d.wgsl, prepended at build time.
struct Params { planes: u32, in_h: u32, in_w: u32, out_h: u32, out_w: u32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

fn bin_size(o: u32, size: u32, count: u32) -> u32 {
  return ((o + 1u) * size + count - 1u) / count - o * size / count;
}

@compute @workgroup_size(WORKGROUP_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index_1d(gid, groups);
  if (i >= u.planes * u.in_h * u.in_w) { return; }
  let w = i % u.in_w;
  let rest = i / u.in_w;
  let h = rest % u.in_h;
  let plane = rest / u.in_h;
  let oh_lo = h * u.out_h / u.in_h;
  let oh_end = ((h + 1u) * u.out_h + u.in_h - 1u) / u.in_h;
  let ow_lo = w * u.out_w / u.in_w;
  let ow_end = ((w + 1u) * u.out_w + u.in_w - 1u) / u.in_w;
  let base = plane * u.out_h * u.out_w;
  var s = 0.0;
  for (var oh = oh_lo; oh < oh_end; oh++) {
    let bin_h = bin_size(oh, u.in_h, u.out_h);
    for (var ow = ow_lo; ow < ow_end; ow++) {
      s += dy[base + oh * u.out_w + ow] / f32(bin_h * bin_size(ow, u.in_w, u.out_w));
    }
  }
  dx[i] = s;
}
