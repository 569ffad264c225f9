// Element-wise kernels over n floats, four lanes at a time.

/** out = input·(mask·scale): inverted dropout with a given keep-mask, forward and backward alike. */
export function dropout(input: usize, mask: usize, out: usize, n: i32, scale: f32): void {
  const vs = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(out + off, f32x4.mul(v128.load(input + off), f32x4.mul(v128.load(mask + off), vs)));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, load<f32>(input + off) * (load<f32>(mask + off) * scale));
  }
}

/** y = a + b (a residual connection). */
export function addTensors(a: usize, b: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(y + off, f32x4.add(v128.load(a + off), v128.load(b + off)));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(y + off, load<f32>(a + off) + load<f32>(b + off));
  }
}
