// Byte builders and error checks shared by the data tests. The builders write the formats by hand
// (big-endian IDX headers, CIFAR records), independently of the parsers under test.
import { expect } from 'vitest';
import { FeddipError } from '../../src/index.ts';

/** An IDX file of unsigned bytes: 00 00 08 ndim, big-endian dims, data. */
export function idxBytes(dims: number[], values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + values.length);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => {
    out[4 + 4 * i] = d >>> 24;
    out[5 + 4 * i] = (d >>> 16) & 255;
    out[6 + 4 * i] = (d >>> 8) & 255;
    out[7 + 4 * i] = d & 255;
  });
  out.set(values, 4 + 4 * dims.length);
  return out;
}

/** CIFAR records: [coarse label,] label, 3072 pixel bytes derived from the seed. */
export function cifarBytes(variant: 'cifar10' | 'cifar100', records: { label: number; coarse?: number; seed: number }[]): Uint8Array {
  const size = variant === 'cifar10' ? 3073 : 3074;
  const out = new Uint8Array(records.length * size);
  records.forEach((r, n) => {
    let at = n * size;
    if (variant === 'cifar100') out[at++] = r.coarse ?? 0;
    out[at++] = r.label;
    for (let p = 0; p < 3072; p++) out[at + p] = (p * 7 + r.seed * 13) % 256;
  });
  return out;
}

/** Deterministic bytes for pixel data. */
export const pixels = (n: number, seed = 0) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11 + seed * 101) % 256);

/** The FeddipError with `code` that the call or promise throws; fails the test when none is thrown. */
export async function rejection(p: Promise<unknown> | (() => unknown), code = 'DATA_ERROR'): Promise<FeddipError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (error) {
    expect(error).toBeInstanceOf(FeddipError);
    expect((error as FeddipError).code).toBe(code);
    return error as FeddipError;
  }
  throw new Error(`expected a ${code} error, nothing was thrown`);
}
