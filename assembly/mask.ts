// Pruning masks applied to flat f32 vectors, four lanes at a time.

/** y = w ⊙ mask over n floats (mask holds 0/1 as f32). */
export function applyMask(w: usize, mask: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(y + off, f32x4.mul(v128.load(w + off), v128.load(mask + off)));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(y + off, load<f32>(w + off) * load<f32>(mask + off));
  }
}
