// ReLU: y = max(x, 0); dx = dy where x > 0, else 0 (PyTorch's subgradient at 0).
import type { Tensor } from '../backend/tensor.ts';
import { expectDistinct, expectDType, expectSameSize } from './checks.ts';
import type { FloatArray } from './reference-types.ts';

export interface ReluForwardArgs { x: Tensor; y: Tensor }
export interface ReluBackwardArgs { x: Tensor; dy: Tensor; dx: Tensor }

export function checkReluForward(a: ReluForwardArgs): number {
  const k = 'reluForward';
  expectDType(k, 'x', a.x, 'f32');
  expectDType(k, 'y', a.y, 'f32');
  expectSameSize(k, ['x', 'y'], a.x, a.y);
  expectDistinct(k, { x: a.x, y: a.y });
  return a.x.size;
}

export function checkReluBackward(a: ReluBackwardArgs): number {
  const k = 'reluBackward';
  for (const [n, t] of Object.entries(a)) expectDType(k, n, t, 'f32');
  expectSameSize(k, ['x', 'dy'], a.x, a.dy);
  expectSameSize(k, ['x', 'dx'], a.x, a.dx);
  expectDistinct(k, { x: a.x, dy: a.dy, dx: a.dx });
  return a.x.size;
}

/** y = max(x, 0); a NaN stays NaN, as in PyTorch (torch.relu) and every backend. */
export function reluForwardRef(x: FloatArray, y: FloatArray): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    y[i] = v > 0 || v !== v ? v : 0;
  }
}

export function reluBackwardRef(x: FloatArray, dy: FloatArray, dx: FloatArray): void {
  for (let i = 0; i < x.length; i++) dx[i] = x[i]! > 0 ? dy[i]! : 0;
}
