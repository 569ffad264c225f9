// The machine's WebAssembly SIMD ceiling for the instruction mix the kernels use: 4-lane multiplies
// and adds (WASM SIMD has no fused multiply-add outside relaxed SIMD), registers only, no memory
// traffic. GEMM and conv benchmarks are reported as a fraction of this.
//
// The first version ran `r = r·m + a` on 12 registers: every add waited for its multiply, so each
// chain paid both latencies and the loop measured latency rather than throughput — GEMM, whose
// multiplies do not depend on its accumulators, came out above "the ceiling". Here multiplies and
// adds form separate chains (p ← p·m, s ← s + p), each with one operation's latency. How many chain
// pairs saturate the pipes without spilling depends on the CPU's latencies and on how many vector
// registers the engine leaves free (V8 on x86-64 keeps some of the 16 for itself), so there are
// three variants (4, 5 and 6 pairs) and the benchmark reports the fastest. Bodies are unrolled
// twice, which amortises the loop counter and the engine's interrupt check.
//
// FLOPs of simdPeakK = iters · 2 (unroll) · K (pairs) · 2 (mul + add) · 4 (lanes).

/** 4 multiply/add chain pairs; returns a value that depends on every register, so nothing is dead code. */
export function simdPeak4(iters: i32, seed: f32): f32 {
  const m = f32x4.splat(0.9999999);
  let p0 = f32x4.splat(seed + 0), s0 = f32x4.splat(0);
  let p1 = f32x4.splat(seed + 1), s1 = f32x4.splat(0);
  let p2 = f32x4.splat(seed + 2), s2 = f32x4.splat(0);
  let p3 = f32x4.splat(seed + 3), s3 = f32x4.splat(0);
  for (let i = 0; i < iters; i++) {
    s0 = f32x4.add(s0, p0); p0 = f32x4.mul(p0, m);
    s1 = f32x4.add(s1, p1); p1 = f32x4.mul(p1, m);
    s2 = f32x4.add(s2, p2); p2 = f32x4.mul(p2, m);
    s3 = f32x4.add(s3, p3); p3 = f32x4.mul(p3, m);
    s0 = f32x4.add(s0, p0); p0 = f32x4.mul(p0, m);
    s1 = f32x4.add(s1, p1); p1 = f32x4.mul(p1, m);
    s2 = f32x4.add(s2, p2); p2 = f32x4.mul(p2, m);
    s3 = f32x4.add(s3, p3); p3 = f32x4.mul(p3, m);
  }
  let t = f32x4.splat(0);
  t = f32x4.add(t, f32x4.add(s0, p0));
  t = f32x4.add(t, f32x4.add(s1, p1));
  t = f32x4.add(t, f32x4.add(s2, p2));
  t = f32x4.add(t, f32x4.add(s3, p3));
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 3);
}

/** 5 multiply/add chain pairs; returns a value that depends on every register, so nothing is dead code. */
export function simdPeak5(iters: i32, seed: f32): f32 {
  const m = f32x4.splat(0.9999999);
  let p0 = f32x4.splat(seed + 0), s0 = f32x4.splat(0);
  let p1 = f32x4.splat(seed + 1), s1 = f32x4.splat(0);
  let p2 = f32x4.splat(seed + 2), s2 = f32x4.splat(0);
  let p3 = f32x4.splat(seed + 3), s3 = f32x4.splat(0);
  let p4 = f32x4.splat(seed + 4), s4 = f32x4.splat(0);
  for (let i = 0; i < iters; i++) {
    s0 = f32x4.add(s0, p0); p0 = f32x4.mul(p0, m);
    s1 = f32x4.add(s1, p1); p1 = f32x4.mul(p1, m);
    s2 = f32x4.add(s2, p2); p2 = f32x4.mul(p2, m);
    s3 = f32x4.add(s3, p3); p3 = f32x4.mul(p3, m);
    s4 = f32x4.add(s4, p4); p4 = f32x4.mul(p4, m);
    s0 = f32x4.add(s0, p0); p0 = f32x4.mul(p0, m);
    s1 = f32x4.add(s1, p1); p1 = f32x4.mul(p1, m);
    s2 = f32x4.add(s2, p2); p2 = f32x4.mul(p2, m);
    s3 = f32x4.add(s3, p3); p3 = f32x4.mul(p3, m);
    s4 = f32x4.add(s4, p4); p4 = f32x4.mul(p4, m);
  }
  let t = f32x4.splat(0);
  t = f32x4.add(t, f32x4.add(s0, p0));
  t = f32x4.add(t, f32x4.add(s1, p1));
  t = f32x4.add(t, f32x4.add(s2, p2));
  t = f32x4.add(t, f32x4.add(s3, p3));
  t = f32x4.add(t, f32x4.add(s4, p4));
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 3);
}

/** 6 multiply/add chain pairs; returns a value that depends on every register, so nothing is dead code. */
export function simdPeak6(iters: i32, seed: f32): f32 {
  const m = f32x4.splat(0.9999999);
  let p0 = f32x4.splat(seed + 0), s0 = f32x4.splat(0);
  let p1 = f32x4.splat(seed + 1), s1 = f32x4.splat(0);
  let p2 = f32x4.splat(seed + 2), s2 = f32x4.splat(0);
  let p3 = f32x4.splat(seed + 3), s3 = f32x4.splat(0);
  let p4 = f32x4.splat(seed + 4), s4 = f32x4.splat(0);
  let p5 = f32x4.splat(seed + 5), s5 = f32x4.splat(0);
  for (let i = 0; i < iters; i++) {
    s0 = f32x4.add(s0, p0); p0 = f32x4.mul(p0, m);
    s1 = f32x4.add(s1, p1); p1 = f32x4.mul(p1, m);
    s2 = f32x4.add(s2, p2); p2 = f32x4.mul(p2, m);
    s3 = f32x4.add(s3, p3); p3 = f32x4.mul(p3, m);
    s4 = f32x4.add(s4, p4); p4 = f32x4.mul(p4, m);
    s5 = f32x4.add(s5, p5); p5 = f32x4.mul(p5, m);
    s0 = f32x4.add(s0, p0); p0 = f32x4.mul(p0, m);
    s1 = f32x4.add(s1, p1); p1 = f32x4.mul(p1, m);
    s2 = f32x4.add(s2, p2); p2 = f32x4.mul(p2, m);
    s3 = f32x4.add(s3, p3); p3 = f32x4.mul(p3, m);
    s4 = f32x4.add(s4, p4); p4 = f32x4.mul(p4, m);
    s5 = f32x4.add(s5, p5); p5 = f32x4.mul(p5, m);
  }
  let t = f32x4.splat(0);
  t = f32x4.add(t, f32x4.add(s0, p0));
  t = f32x4.add(t, f32x4.add(s1, p1));
  t = f32x4.add(t, f32x4.add(s2, p2));
  t = f32x4.add(t, f32x4.add(s3, p3));
  t = f32x4.add(t, f32x4.add(s4, p4));
  t = f32x4.add(t, f32x4.add(s5, p5));
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 3);
}
