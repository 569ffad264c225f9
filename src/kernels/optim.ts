// Parameter updates and the vector primitives aggregation is built from.
import type { Tensor } from '../backend/tensor.ts';
import { expectDistinct, expectDType, expectFinite, expectSameSize } from './checks.ts';
import type { FloatArray } from './reference-types.ts';

export interface SgdStepArgs {
  /** Updated in place. */
  param: Tensor; grad: Tensor; lr: number; weightDecay?: number;
}
export interface AxpyArgs { alpha: number; x: Tensor; y: Tensor }
export interface FillArgs { y: Tensor; value: number }

export function checkSgdStep(a: SgdStepArgs): number {
  const k = 'sgdStep';
  expectDType(k, 'param', a.param, 'f32');
  expectDType(k, 'grad', a.grad, 'f32');
  expectSameSize(k, ['param', 'grad'], a.param, a.grad);
  expectDistinct(k, { param: a.param, grad: a.grad });
  expectFinite(k, 'lr', a.lr);
  expectFinite(k, 'weightDecay', a.weightDecay ?? 0);
  return a.param.size;
}

export function checkAxpy(a: AxpyArgs): number {
  const k = 'axpy';
  expectDType(k, 'x', a.x, 'f32');
  expectDType(k, 'y', a.y, 'f32');
  expectSameSize(k, ['x', 'y'], a.x, a.y);
  expectDistinct(k, { x: a.x, y: a.y });
  expectFinite(k, 'alpha', a.alpha);
  return a.x.size;
}

export function checkFill(a: FillArgs): number {
  expectDType('fill', 'y', a.y, 'f32');
  expectFinite('fill', 'value', a.value);
  return a.y.size;
}

/** p ← p − lr·(g + wd·p), as torch.optim.SGD without momentum. */
export function sgdStepRef(param: FloatArray, grad: FloatArray, lr: number, weightDecay: number): void {
  for (let i = 0; i < param.length; i++) param[i] = param[i]! - lr * (grad[i]! + weightDecay * param[i]!);
}

export function axpyRef(alpha: number, x: FloatArray, y: FloatArray): void {
  for (let i = 0; i < x.length; i++) y[i] = y[i]! + alpha * x[i]!;
}
