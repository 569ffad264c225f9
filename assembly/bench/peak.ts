// The machine's WebAssembly SIMD ceiling: independent f32x4 multiply-adds on registers only, no
// memory traffic. GEMM and conv benchmarks are reported as a fraction of this.

/**
 * Runs `iters` rounds of 12 independent 4-lane multiply-adds (enough chains to hide the latency of
 * a dependent mul+add on current x86 cores, few enough to stay in 16 registers); returns a value so
 * nothing is elided. FLOPs = iters · 12 · 8.
 */
export function simdPeak(iters: i32, seed: f32): f32 {
  const m = f32x4.splat(0.999999);
  const a = f32x4.splat(1e-7);
  let r0 = f32x4.splat(seed), r1 = f32x4.splat(seed + 1), r2 = f32x4.splat(seed + 2), r3 = f32x4.splat(seed + 3);
  let r4 = f32x4.splat(seed + 4), r5 = f32x4.splat(seed + 5), r6 = f32x4.splat(seed + 6), r7 = f32x4.splat(seed + 7);
  let r8 = f32x4.splat(seed + 8), r9 = f32x4.splat(seed + 9), r10 = f32x4.splat(seed + 10), r11 = f32x4.splat(seed + 11);
  for (let i = 0; i < iters; i++) {
    r0 = f32x4.add(f32x4.mul(r0, m), a); r1 = f32x4.add(f32x4.mul(r1, m), a);
    r2 = f32x4.add(f32x4.mul(r2, m), a); r3 = f32x4.add(f32x4.mul(r3, m), a);
    r4 = f32x4.add(f32x4.mul(r4, m), a); r5 = f32x4.add(f32x4.mul(r5, m), a);
    r6 = f32x4.add(f32x4.mul(r6, m), a); r7 = f32x4.add(f32x4.mul(r7, m), a);
    r8 = f32x4.add(f32x4.mul(r8, m), a); r9 = f32x4.add(f32x4.mul(r9, m), a);
    r10 = f32x4.add(f32x4.mul(r10, m), a); r11 = f32x4.add(f32x4.mul(r11, m), a);
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(f32x4.add(r0, r1), f32x4.add(r2, r3)), f32x4.add(f32x4.add(r4, r5), f32x4.add(r6, r7))),
    f32x4.add(f32x4.add(r8, r9), f32x4.add(r10, r11)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 3);
}
