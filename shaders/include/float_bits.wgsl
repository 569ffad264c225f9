// NaN-aware float helpers, decided on the bits: WGSL lets an implementation assume floats are never
// NaN, so `v != v` or max's handling of a NaN operand may be folded away or differ between drivers.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// max(v, 0) that keeps a NaN, as PyTorch's ReLU and the wasm backend's f32x4.max do.
fn relu(v: f32) -> f32 {
  return select(max(v, 0.0), v, is_nan(v));
}
