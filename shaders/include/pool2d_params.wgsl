// Uniform block of the geometry every windowed pooling shader shares (src/backend/webgpu/backend.ts: poolFields).
struct Params {
  planes: u32, in_h: u32, in_w: u32, out_h: u32, out_w: u32,
  kernel_h: u32, kernel_w: u32, stride_h: u32, stride_w: u32, pad_h: u32, pad_w: u32,
}

@group(0) @binding(0) var<uniform> u: Params;
