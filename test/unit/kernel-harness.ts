// Shared scaffolding for kernel-family unit tests: one describe block per backend this machine can
// run, deterministic random data, a tolerance check that names the first bad element, and a leak
// check after every test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, BackendUnavailableError, createBackend, type FeddipError, type Tensor } from '../../src/index.ts';
import type { BackendName, Conv2dDims } from '../../src/index.ts';

const requireWebGpu = process.env.FEDDIP_REQUIRE_WEBGPU === '1';

/** Uniform in [−1, 1), reproducible from the seed (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1;
  };
}

export const randomArray = (n: number, r: () => number, scale = 1, offset = 0): Float32Array =>
  Float32Array.from({ length: n }, () => offset + scale * r());

/** |a − e| ≤ tol·(1 + |e|) everywhere; NaN only where NaN is expected. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5, what = 'element'): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) ? !Number.isNaN(a) : !(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) {
      throw new Error(`${what} ${i}: got ${a}, expected ${e}`);
    }
  }
}

/** The error `fn` throws (fails the test when it does not throw). */
export function thrown(fn: () => unknown): FeddipError {
  try {
    fn();
  } catch (error) {
    return error as FeddipError;
  }
  throw new Error('did not throw');
}

export type Make = (shape: readonly number[], data?: ArrayLike<number>, dtype?: 'f32' | 'i32') => Tensor;

/**
 * Registers `body` as a test on every backend. `make` allocates tensors that are released after
 * the body, whatever happens; the body's own allocations must be released by the body, and the
 * test fails if any tensor is left alive.
 */
export function forEachBackend(family: string, register: (run: (title: string, body: (b: Backend, make: Make) => Promise<void> | void) => void, name: BackendName) => void): void {
  for (const name of ['reference', 'wasm', 'webgpu'] as BackendName[]) {
    describe(`${family} on ${name}`, () => {
      let backend: Backend | undefined;
      let why = '';
      beforeAll(async () => {
        try {
          backend = await createBackend(name);
        } catch (error) {
          if (!(error instanceof BackendUnavailableError) || requireWebGpu) throw error;
          why = error.reason;
        }
      });
      afterAll(() => backend?.dispose());
      register((title, body) => it(title, async (ctx) => {
        const b = backend;
        if (!b) return ctx.skip(`unavailable: ${why}`);
        const made: Tensor[] = [];
        try {
          await body(b, (shape, data, dtype = 'f32') => {
            const t = b.tensor(dtype, shape, data);
            made.push(t);
            return t;
          });
        } finally {
          for (const t of made) b.release(t);
        }
        expect(b.liveTensors).toBe(0);
      }), name);
    });
  }
}

/** A convolution (x and w shapes, stride, padding) with a max-pool behind it, as the pooled kernels' tests describe one. */
export interface ConvPoolCase {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride?: [number, number];
  padding?: [number, number];
  pool?: { kernel: [number, number]; stride?: [number, number]; padding?: [number, number] };
}

/** The convolution's geometry and its pool's (planes N·O; a missing pool is 2×2, stride 2), as torch sizes them. */
export function convPoolGeometry(c: ConvPoolCase) {
  const [n, ch, h, wd] = c.x;
  const [o, , kh, kw] = c.w;
  const [sh, sw] = c.stride ?? [1, 1];
  const [ph, pw] = c.padding ?? [0, 0];
  const ho = Math.floor((h + 2 * ph - kh) / sh) + 1, wo = Math.floor((wd + 2 * pw - kw) / sw) + 1;
  const conv: Conv2dDims = { batch: n, inChannels: ch, inH: h, inW: wd, outChannels: o, kernelH: kh, kernelW: kw, strideH: sh, strideW: sw, padH: ph, padW: pw, outH: ho, outW: wo };
  const p = c.pool ?? { kernel: [2, 2] as [number, number] };
  const [pkh, pkw] = p.kernel, [psh, psw] = p.stride ?? p.kernel, [pph, ppw] = p.padding ?? [0, 0];
  const pool = {
    planes: n * o, inH: ho, inW: wo, kernelH: pkh, kernelW: pkw, strideH: psh, strideW: psw, padH: pph, padW: ppw,
    outH: Math.floor((ho + 2 * pph - pkh) / psh) + 1, outW: Math.floor((wo + 2 * ppw - pkw) / psw) + 1,
  };
  return { conv, pool, convShape: [n, o, ho, wo], pooledShape: [n, o, pool.outH, pool.outW] };
}
