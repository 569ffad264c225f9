// Uniform block of the geometry every conv2d shader shares (src/backend/webgpu/backend.ts: convFields).
struct Params {
  batch: u32, in_c: u32, in_h: u32, in_w: u32,
  out_c: u32, k_h: u32, k_w: u32,
  stride_h: u32, stride_w: u32, pad_h: u32, pad_w: u32,
  out_h: u32, out_w: u32, has_bias: u32,
}

@group(0) @binding(0) var<uniform> u: Params;
