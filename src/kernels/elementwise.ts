// Element-wise kernels: inverted dropout with a caller-supplied keep-mask, and the sum of a
// residual connection. The mask is an input (not drawn here) so that a run is reproducible from
// its seed and a fixture can replay torch's own draw.
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import { expectDistinct, expectDType, expectSameSize } from './checks.ts';
import type { FloatArray } from './reference-types.ts';

export interface DropoutForwardArgs {
  x: Tensor;
  /** f32 keep-mask (1 keeps, 0 drops), as many elements as x. */
  mask: Tensor;
  y: Tensor;
  /** Drop probability in [0, 1]: kept values are scaled by 1/(1 − p). */
  p: number;
}
export interface DropoutBackwardArgs { dy: Tensor; mask: Tensor; dx: Tensor; p: number }
export interface AddArgs { a: Tensor; b: Tensor; y: Tensor }

export interface DropoutDims { size: number; scale: number }

/** 1/(1 − p), and 0 for p = 1, where every element is dropped (torch returns zeros). */
export function dropoutScale(p: number): number {
  return p === 1 ? 0 : 1 / (1 - p);
}

function checkDropout(k: string, names: [string, string, string], input: Tensor, mask: Tensor, output: Tensor, p: number): DropoutDims {
  expectDType(k, names[0], input, 'f32');
  expectDType(k, names[1], mask, 'f32');
  expectDType(k, names[2], output, 'f32');
  expectSameSize(k, [names[0], names[1]], input, mask);
  expectSameSize(k, [names[0], names[2]], input, output);
  expectDistinct(k, { [names[0]]: input, [names[1]]: mask, [names[2]]: output });
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new InvalidArgumentError(`${k}: 'p' must lie in [0, 1], got ${p}`);
  return { size: input.size, scale: dropoutScale(p) };
}

export function checkDropoutForward(a: DropoutForwardArgs): DropoutDims {
  return checkDropout('dropoutForward', ['x', 'mask', 'y'], a.x, a.mask, a.y, a.p);
}

export function checkDropoutBackward(a: DropoutBackwardArgs): DropoutDims {
  return checkDropout('dropoutBackward', ['dy', 'mask', 'dx'], a.dy, a.mask, a.dx, a.p);
}

export function checkAdd(a: AddArgs): number {
  const k = 'add';
  for (const n of ['a', 'b', 'y'] as const) expectDType(k, n, a[n], 'f32');
  expectSameSize(k, ['a', 'b'], a.a, a.b);
  expectSameSize(k, ['a', 'y'], a.a, a.y);
  expectDistinct(k, { a: a.a, b: a.b, y: a.y });
  return a.a.size;
}

/** out = in·mask·scale: the forward and the backward pass are the same map. */
export function dropoutRef(input: FloatArray, mask: FloatArray, out: FloatArray, scale: number): void {
  for (let i = 0; i < input.length; i++) out[i] = input[i]! * (mask[i]! * scale);
}

export function addRef(a: FloatArray, b: FloatArray, y: FloatArray): void {
  for (let i = 0; i < a.length; i++) y[i] = a[i]! + b[i]!;
}
