// Pruning counts must agree with PyTorch's (torch.nn.utils.prune), which rounds s·n with Python's
// round(): half to even. Math.round rounds .5 up, so e.g. 0.95·150 = 142.5 would give 143, not 142,
// and every mask downstream would differ by one weight.
import { InvalidArgumentError } from '../errors.ts';

/** Python's round(x) for a finite double: nearest integer, exact halves to the even neighbour. */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) throw new InvalidArgumentError(`roundHalfEven: x must be finite, got ${x}`);
  const f = Math.floor(x);
  // x − floor(x) is exact for every double, so the comparison with 0.5 sees the true fraction.
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Number of entries to zero when pruning n of them at sparsity s: round(s·n), half to even. */
export function prunedCount(sparsity: number, n: number): number {
  if (!(sparsity >= 0 && sparsity <= 1)) {
    throw new InvalidArgumentError(`prunedCount: sparsity must be in [0, 1], got ${sparsity}`);
  }
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(`prunedCount: n must be a non-negative integer, got ${n}`);
  }
  return roundHalfEven(sparsity * n);
}
