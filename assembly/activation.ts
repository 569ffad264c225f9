// ReLU and its gradient, element-wise over n floats, four lanes at a time.

/**
 * max(v, 0) on four lanes, a NaN kept (f32x4.max propagates it, as torch.relu does): the one
 * definition of the forward ReLU, which the max-pool's fused ReLU (pool.ts) uses too.
 */
// @ts-ignore: decorator
@inline export function reluLanes(v: v128): v128 {
  return f32x4.max(v, f32x4.splat(0));
}

/** reluLanes on one float, through a lane, so that a tail gives the lanes' bits (NaN included). */
// @ts-ignore: decorator
@inline export function reluOne(v: f32): f32 {
  return f32x4.extract_lane(reluLanes(f32x4.splat(v)), 0);
}

/** y = max(x, 0), a NaN kept. */
export function reluForward(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(y + off, reluLanes(v128.load(x + off)));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(y + off, reluOne(load<f32>(x + off)));
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
