// Argument checks shared by every backend, so that all of them reject the same mistakes with the
// same message before any memory is touched.
import { InvalidArgumentError } from '../errors.ts';
import type { DType, Tensor } from '../backend/tensor.ts';

export function fail(kernel: string, message: string): never {
  throw new InvalidArgumentError(`${kernel}: ${message}`, 'SHAPE_MISMATCH');
}

export function expectDType(kernel: string, name: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) {
    throw new InvalidArgumentError(`${kernel}: '${name}' must be ${dtype}, got ${t.dtype}`);
  }
}

export function expectRank(kernel: string, name: string, t: Tensor, rank: number): void {
  if (t.shape.length !== rank) {
    fail(kernel, `'${name}' must have rank ${rank}, got shape [${t.shape.join(', ')}]`);
  }
}

export function expectShape(kernel: string, name: string, t: Tensor, shape: readonly number[]): void {
  let same = t.shape.length === shape.length;
  for (let i = 0; same && i < shape.length; i++) same = t.shape[i] === shape[i];
  if (!same) fail(kernel, `'${name}' must have shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
}

export function expectSameSize(kernel: string, names: [string, string], a: Tensor, b: Tensor): void {
  if (a.size !== b.size) {
    fail(kernel, `'${names[0]}' (${a.size} elements) and '${names[1]}' (${b.size} elements) must have the same size`);
  }
}

/**
 * Outputs may not alias inputs: GPUs forbid it and it silently corrupts blocked CPU kernels. Runs on
 * every kernel call, so it compares pairs in place (a call names at most a dozen tensors) rather
 * than building a map.
 */
export function expectDistinct(kernel: string, tensors: Record<string, Tensor | undefined>): void {
  for (const name in tensors) {
    const t = tensors[name];
    if (!t) continue;
    for (const earlier in tensors) {
      if (earlier === name) break;
      if (tensors[earlier] === t) throw new InvalidArgumentError(`${kernel}: '${earlier}' and '${name}' must be different tensors`);
    }
  }
}

export function expectFinite(kernel: string, name: string, value: number): void {
  if (!Number.isFinite(value)) throw new InvalidArgumentError(`${kernel}: '${name}' must be a finite number, got ${value}`);
}
