// Vector primitives the training step composes: copying between shapes (flatten), and the
// incremental-regularisation penalty of FedDIP, λ·‖M⊙W‖₂ per layer, whose gradient is
// λ·(M⊙W)/‖M⊙W‖₂ — computed as a sum of squares then a scaled add, all on the device.
import type { Tensor } from '../backend/tensor.ts';
import { expectDistinct, expectDType, expectFinite, expectShape, expectSameSize } from './checks.ts';
import type { FloatArray } from './reference-types.ts';

export interface CopyArgs { x: Tensor; y: Tensor }
export interface SumSquaresArgs { x: Tensor; out: Tensor }
export interface AddScaledByInvNormArgs {
  /** The (masked) weights whose norm is penalised. */
  x: Tensor;
  /** out of sumSquares(x): [1]. */
  sumSquares: Tensor;
  /** grad ← grad + lambda·x/√sumSquares (unchanged where the norm is 0). */
  grad: Tensor;
  lambda: number;
}

export function checkCopy(a: CopyArgs): number {
  expectDType('copy', 'x', a.x, 'f32');
  expectDType('copy', 'y', a.y, 'f32');
  expectSameSize('copy', ['x', 'y'], a.x, a.y);
  expectDistinct('copy', { x: a.x, y: a.y });
  return a.x.size;
}

export function checkSumSquares(a: SumSquaresArgs): number {
  expectDType('sumSquares', 'x', a.x, 'f32');
  expectDType('sumSquares', 'out', a.out, 'f32');
  expectShape('sumSquares', 'out', a.out, [1]);
  expectDistinct('sumSquares', { x: a.x, out: a.out });
  return a.x.size;
}

export function checkAddScaledByInvNorm(a: AddScaledByInvNormArgs): number {
  const k = 'addScaledByInvNorm';
  for (const n of ['x', 'sumSquares', 'grad'] as const) expectDType(k, n, a[n], 'f32');
  expectShape(k, 'sumSquares', a.sumSquares, [1]);
  expectSameSize(k, ['x', 'grad'], a.x, a.grad);
  expectDistinct(k, { x: a.x, sumSquares: a.sumSquares, grad: a.grad });
  expectFinite(k, 'lambda', a.lambda);
  return a.x.size;
}

export function sumSquaresRef(x: FloatArray): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return s;
}

export function addScaledByInvNormRef(x: FloatArray, sumSquares: number, grad: FloatArray, lambda: number): void {
  if (!(sumSquares > 0)) return;
  const scale = lambda / Math.sqrt(sumSquares);
  for (let i = 0; i < x.length; i++) grad[i] = grad[i]! + scale * x[i]!;
}
