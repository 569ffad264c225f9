// ReLU and its gradient, element-wise over n floats, four lanes at a time.

/** y = max(x, 0), a NaN kept (f32x4.max propagates it; the scalar tail does the same). */
export function reluForward(x: usize, y: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(y + off, f32x4.max(v128.load(x + off), zero));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    const v = load<f32>(x + off);
    store<f32>(y + off, v > 0 || v != v ? v : 0);
  }
}

/** dx = dy where x > 0, else 0 (the subgradient at 0 is 0, as in PyTorch). */
export function reluBackward(x: usize, dy: usize, dx: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    const keep = f32x4.gt(v128.load(x + off), zero);
    v128.store(dx + off, v128.and(v128.load(dy + off), keep));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(dx + off, load<f32>(x + off) > 0 ? load<f32>(dy + off) : 0);
  }
}
