// Vector primitives for the training step: copy, sum of squares, and the norm-penalty gradient.

/** y ← x for n floats (memory.copy is a bulk-memory instruction: as fast as it gets). */
export function copy(x: usize, y: usize, n: i32): void {
  memory.copy(y, x, <usize>n << 2);
}

/**
 * out[0] ← Σ x². Four f32 lanes accumulate blocks of 1024 elements, each block is then added in
 * f64: the per-layer norms of LeNet and AlexNet sum up to millions of squares, and a single f32
 * accumulator would lose the tolerance the golden values allow.
 */
export function sumSquares(x: usize, n: i32, out: usize): void {
  let total: f64 = 0;
  let i = 0;
  while (i + 4 <= n) {
    let acc = f32x4.splat(0);
    const end = min(n, i + 1024) & ~3;
    for (; i < end; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    total += <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1)
           + <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
  }
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    total += v * v;
  }
  store<f32>(out, <f32>total);
}

/** grad ← grad + lambda·x/√(sumSq[0]); nothing when the norm is 0 (the penalty's subgradient 0). */
export function addScaledByInvNorm(x: usize, sumSq: usize, grad: usize, n: i32, lambda: f32): void {
  const s = load<f32>(sumSq);
  if (!(s > 0)) return;
  const scale: f32 = <f32>(<f64>lambda / Math.sqrt(<f64>s));
  const vs = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(grad + off, f32x4.add(v128.load(grad + off), f32x4.mul(vs, v128.load(x + off))));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(grad + off, load<f32>(grad + off) + scale * load<f32>(x + off));
  }
}
