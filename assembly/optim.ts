// Parameter updates and vector primitives over flat f32 vectors.

/** Plain SGD with weight decay folded into the gradient, as torch.optim.SGD: p ← p − lr·(g + wd·p). */
export function sgdStep(param: usize, grad: usize, n: i32, lr: f32, weightDecay: f32): void {
  const vlr = f32x4.splat(lr);
  const vwd = f32x4.splat(weightDecay);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    const p = v128.load(param + off);
    const step = f32x4.add(v128.load(grad + off), f32x4.mul(vwd, p));
    v128.store(param + off, f32x4.sub(p, f32x4.mul(vlr, step)));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    const p = load<f32>(param + off);
    store<f32>(param + off, p - lr * (load<f32>(grad + off) + weightDecay * p));
  }
}

/** y ← y + alpha·x: the weighted accumulation that aggregation is built from. */
export function axpy(alpha: f32, x: usize, y: usize, n: i32): void {
  const va = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(y + off, f32x4.add(v128.load(y + off), f32x4.mul(va, v128.load(x + off))));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(y + off, load<f32>(y + off) + alpha * load<f32>(x + off));
  }
}

/** y ← value for n floats. */
export function fill(y: usize, value: f32, n: i32): void {
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), value);
}
