// Batch normalisation: the reference is checked against finite differences and torch's running
// statistic rule by hand; every backend must agree with it in training and evaluation, on shapes
// whose channel sizes are not multiples of the SIMD width or the GPU workgroup, and on data with a
// mean far from zero (where a one-pass variance would lose its digits).
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, reference } from '../../src/index.ts';
import type { BatchNormDims } from '../../src/kernels/batchnorm.ts';
import { expectClose, forEachBackend, randomArray, rng, thrown } from './kernel-harness.ts';

const SHAPES: Array<[number, number, number, number]> = [
  [1, 1, 1, 2], [2, 3, 3, 5], [3, 5, 1, 1], [1, 4, 7, 9], [5, 2, 16, 17],
];
const dimsOf = (s: readonly number[]): BatchNormDims => ({ batch: s[0]!, channels: s[1]!, spatial: s[2]! * s[3]! });
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('batch-norm reference', () => {
  it('normalises with the biased variance and tracks the unbiased one', () => {
    // One channel holding 1, 2, 3, 6: mean 3, biased var 3.5, unbiased var 14/3.
    const y = new Float32Array(4);
    const rm = Float32Array.of(1);
    const rv = Float32Array.of(2);
    const sm = new Float32Array(1);
    const si = new Float32Array(1);
    reference.batchNorm2dForwardRef(Float32Array.of(1, 2, 3, 6), Float32Array.of(2), Float32Array.of(0.5), rm, rv, y, sm, si,
      true, 0.25, 0, { batch: 2, channels: 1, spatial: 2 });
    const s = 1 / Math.sqrt(3.5);
    expectClose(y, [-4 * s + 0.5, -2 * s + 0.5, 0.5, 6 * s + 0.5], 1e-6);
    expectClose(rm, [0.75 * 1 + 0.25 * 3], 1e-7);
    expectClose(rv, [0.75 * 2 + 0.25 * (14 / 3)], 1e-7);
    expectClose(sm, [3], 0);
    expectClose(si, [s], 1e-7);
  });

  it('the backward reference matches finite differences of the training forward (float64)', () => {
    const r = rng(5);
    const d: BatchNormDims = { batch: 2, channels: 3, spatial: 5 };
    const n = 30;
    const x = Float64Array.from({ length: n }, r);
    const gamma = Float64Array.from({ length: 3 }, r);
    const beta = Float64Array.from({ length: 3 }, r);
    const dy = Float64Array.from({ length: n }, r);
    const forward = (xs: Float64Array, g: Float64Array, bt: Float64Array) => {
      const y = new Float64Array(n);
      const sm = new Float64Array(3);
      const si = new Float64Array(3);
      reference.batchNorm2dForwardRef(xs, g, bt, new Float64Array(3), new Float64Array(3), y, sm, si, true, 0.1, 1e-5, d);
      return { loss: y.reduce((s, v, i) => s + v * dy[i]!, 0), sm, si };
    };
    const { sm, si } = forward(x, gamma, beta);
    const dx = new Float64Array(n);
    const dgamma = new Float64Array(3);
    const dbeta = new Float64Array(3);
    reference.batchNorm2dBackwardRef(x, gamma, dy, sm, si, dx, dgamma, dbeta, d);
    const h = 1e-6;
    const numeric = (vary: Float64Array, i: number) => {
      const keep = vary[i]!;
      vary[i] = keep + h; const up = forward(x, gamma, beta).loss;
      vary[i] = keep - h; const down = forward(x, gamma, beta).loss;
      vary[i] = keep;
      return (up - down) / (2 * h);
    };
    for (let i = 0; i < n; i++) expect(dx[i]).toBeCloseTo(numeric(x, i), 5);
    for (let c = 0; c < 3; c++) {
      expect(dgamma[c]).toBeCloseTo(numeric(gamma, c), 5);
      expect(dbeta[c]).toBeCloseTo(numeric(beta, c), 5);
    }
  });
});

forEachBackend('batch norm', (run) => {
  run('training forward and backward match the reference', async (b, make) => {
    const r = rng(21);
    for (const shape of SHAPES) {
      for (const offset of [0, 20]) {
        const d = dimsOf(shape);
        const C = d.channels;
        const n = size(shape);
        const xs = randomArray(n, r, 1.5, offset);
        const gs = randomArray(C, r, 0.5, 1);
        const bs = randomArray(C, r);
        const rms = randomArray(C, r);
        const rvs = randomArray(C, r, 0.5, 1);
        const dys = randomArray(n, r);
        const want = {
          y: new Float32Array(n), rm: rms.slice(), rv: rvs.slice(), sm: new Float32Array(C), si: new Float32Array(C),
          dx: new Float32Array(n), dgamma: new Float32Array(C), dbeta: new Float32Array(C),
        };
        reference.batchNorm2dForwardRef(xs, gs, bs, want.rm, want.rv, want.y, want.sm, want.si, true, 0.1, 1e-5, d);
        reference.batchNorm2dBackwardRef(xs, gs, dys, want.sm, want.si, want.dx, want.dgamma, want.dbeta, d);
        const t = {
          x: make(shape, xs), gamma: make([C], gs), beta: make([C], bs), runningMean: make([C], rms), runningVar: make([C], rvs),
          y: make(shape), saveMean: make([C]), saveInvStd: make([C]), dy: make(shape, dys), dx: make(shape),
          dgamma: make([C]), dbeta: make([C]),
        };
        b.batchNorm2dForward({
          x: t.x, gamma: t.gamma, beta: t.beta, runningMean: t.runningMean, runningVar: t.runningVar, y: t.y,
          saveMean: t.saveMean, saveInvStd: t.saveInvStd, training: true,
        });
        b.batchNorm2dBackward({
          x: t.x, gamma: t.gamma, dy: t.dy, saveMean: t.saveMean, saveInvStd: t.saveInvStd, dx: t.dx, dgamma: t.dgamma, dbeta: t.dbeta,
        });
        const where = `shape [${shape.join(', ')}] offset ${offset}`;
        expectClose(await b.read(t.y), want.y, 1e-4, `${where} y`);
        expectClose(await b.read(t.runningMean), want.rm, 1e-5, `${where} runningMean`);
        expectClose(await b.read(t.runningVar), want.rv, 1e-5, `${where} runningVar`);
        expectClose(await b.read(t.saveMean), want.sm, 1e-6, `${where} saveMean`);
        expectClose(await b.read(t.saveInvStd), want.si, 1e-5, `${where} saveInvStd`);
        expectClose(await b.read(t.dx), want.dx, 1e-4, `${where} dx`);
        expectClose(await b.read(t.dgamma), want.dgamma, 1e-4, `${where} dgamma`);
        expectClose(await b.read(t.dbeta), want.dbeta, 1e-5, `${where} dbeta`);
        for (const v of Object.values(t)) b.release(v);
      }
    }
  });

  run('evaluation uses the running statistics and leaves them unchanged', async (b, make) => {
    const r = rng(22);
    const shape = [3, 6, 5, 3] as const;
    const d = dimsOf(shape);
    const n = size(shape);
    const xs = randomArray(n, r, 2); const gs = randomArray(6, r); const bs = randomArray(6, r);
    const rms = randomArray(6, r); const rvs = randomArray(6, r, 0.4, 0.6);
    const want = { y: new Float32Array(n), sm: new Float32Array(6), si: new Float32Array(6) };
    reference.batchNorm2dForwardRef(xs, gs, bs, rms.slice(), rvs.slice(), want.y, want.sm, want.si, false, 0.3, 1e-3, d);
    const t = {
      x: make(shape, xs), gamma: make([6], gs), beta: make([6], bs), runningMean: make([6], rms), runningVar: make([6], rvs),
      y: make(shape), saveMean: make([6]), saveInvStd: make([6]),
    };
    b.batchNorm2dForward({ ...t, training: false, momentum: 0.3, eps: 1e-3 });
    expectClose(await b.read(t.y), want.y, 1e-5);
    expect([...await b.read(t.runningMean)]).toEqual([...rms]);
    expect([...await b.read(t.runningVar)]).toEqual([...rvs]);
    expectClose(await b.read(t.saveMean), rms, 0);
    expectClose(await b.read(t.saveInvStd), rvs.map((v) => 1 / Math.sqrt(v + 1e-3)), 1e-6);
  });

  run('training without save tensors, momentum 1 and channel counts that change between calls', async (b, make) => {
    const r = rng(23);
    for (const shape of [[2, 3, 2, 2], [2, 9, 3, 1], [4, 2, 1, 3]] as const) {
      const d = dimsOf(shape);
      const C = d.channels;
      const xs = randomArray(size(shape), r);
      const want = { y: new Float32Array(size(shape)), rm: new Float32Array(C), rv: new Float32Array(C) };
      reference.batchNorm2dForwardRef(xs, new Float32Array(C).fill(1), new Float32Array(C), want.rm, want.rv, want.y,
        undefined, undefined, true, 1, 1e-5, d);
      const t = {
        x: make(shape, xs), gamma: make([C], new Float32Array(C).fill(1)), beta: make([C]),
        runningMean: make([C]), runningVar: make([C]), y: make(shape),
      };
      b.batchNorm2dForward({ ...t, training: true, momentum: 1 });
      expectClose(await b.read(t.y), want.y, 1e-4);
      expectClose(await b.read(t.runningMean), want.rm, 1e-5);
      expectClose(await b.read(t.runningVar), want.rv, 1e-5);
      for (const v of Object.values(t)) b.release(v);
    }
  });

  run('rejects bad shapes, hyper-parameters and aliasing with typed errors', async (b, make) => {
    const x = make([2, 3, 2, 2]);
    const c3 = () => make([3]);
    const args = { x, gamma: c3(), beta: c3(), runningMean: c3(), runningVar: c3(), y: make([2, 3, 2, 2]), training: true };
    const e = thrown(() => b.batchNorm2dForward({ ...args, gamma: make([4]) }));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/batchNorm2dForward: 'gamma' must have shape \[3\], got \[4\]/);
    expect(thrown(() => b.batchNorm2dForward({ ...args, x: make([1, 3, 1, 1]), y: make([1, 3, 1, 1]) })).message)
      .toMatch(/more than one value per channel/);
    expect(thrown(() => b.batchNorm2dForward({ ...args, momentum: 1.5 })).message).toMatch(/'momentum' must lie in \[0, 1\]/);
    expect(thrown(() => b.batchNorm2dForward({ ...args, eps: 0 })).message).toMatch(/'eps' must be positive/);
    expect(thrown(() => b.batchNorm2dForward({ ...args, eps: Number.NaN })).message).toMatch(/'eps' must be a finite number/);
    expect(thrown(() => b.batchNorm2dForward({ ...args, training: 1 as unknown as boolean })).message).toMatch(/'training' must be true or false/);
    expect(thrown(() => b.batchNorm2dForward({ ...args, y: x })).message).toMatch(/'x' and 'y' must be different tensors/);
    expect(thrown(() => b.batchNorm2dForward({ ...args, saveMean: args.runningMean })).message).toMatch(/must be different tensors/);
    const grads = { x, gamma: args.gamma, dy: args.y, saveMean: c3(), saveInvStd: c3(), dx: make([2, 3, 2, 2]), dgamma: c3(), dbeta: c3() };
    expect(thrown(() => b.batchNorm2dBackward({ ...grads, dx: make([2, 3, 4]) })).message).toMatch(/'dx' must have shape \[2, 3, 2, 2\]/);
    expect(thrown(() => b.batchNorm2dBackward({ ...grads, dbeta: grads.dgamma })).message).toMatch(/different tensors/);
  });
});
