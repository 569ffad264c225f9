// The fixtures' pass rule: |actual − expected| ≤ atol + rtol·|expected| elementwise (numpy.allclose);
// integer tensors must match exactly. Reports the worst element so a failure is easy to read.
import type { FixtureArray } from './manifest.ts';

/** Golden values: fixture tensors, or float64 numbers a case states in its attrs. */
export type ExpectedArray = FixtureArray | Float64Array;

export interface Comparison {
  ok: boolean;
  /** Worst |a − e| / (atol + rtol·|e|); ≤ 1 passes. */
  worst: number;
  index: number;
  actual: number;
  expected: number;
  message?: string;
}

export function compare(actual: ArrayLike<number>, expected: ExpectedArray, rtol: number, atol: number): Comparison {
  if (actual.length !== expected.length) {
    return { ok: false, worst: Infinity, index: -1, actual: NaN, expected: NaN, message: `length ${actual.length}, expected ${expected.length}` };
  }
  const exact = expected instanceof Int32Array || expected instanceof Uint8Array;
  let worst = 0;
  let index = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    let ratio: number;
    if (exact) ratio = a === e ? 0 : Infinity;
    else if (Number.isNaN(a) || Number.isNaN(e)) ratio = Number.isNaN(a) && Number.isNaN(e) ? 0 : Infinity;
    else {
      const bound = atol + rtol * Math.abs(e);
      const diff = Math.abs(a - e);
      ratio = diff === 0 ? 0 : bound === 0 ? Infinity : diff / bound;
    }
    if (ratio > worst || index < 0) { worst = ratio; index = i; }
  }
  const i = Math.max(index, 0);
  return { ok: worst <= 1, worst, index: i, actual: actual[i] ?? NaN, expected: expected[i] ?? NaN };
}
