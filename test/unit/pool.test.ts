// Pooling kernels: hand-worked cases pin the conventions (floor mode, torch's tie and NaN rules,
// count_include_pad, adaptive bins), finite differences pin the reference gradients, and every
// backend must agree with the reference on awkward shapes, overlapping windows and padding.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, reference } from '../../src/index.ts';
import type { Pair } from '../../src/index.ts';
import type { PlaneDims, Pool2dDims } from '../../src/kernels/pool.ts';
import { expectClose, forEachBackend, randomArray, rng, thrown } from './kernel-harness.ts';

interface WindowCase { shape: [number, number, number, number]; kernel: Pair; stride?: Pair; padding?: Pair }

const WINDOW_CASES: WindowCase[] = [
  { shape: [1, 1, 1, 1], kernel: [1, 1] },
  { shape: [1, 3, 7, 5], kernel: [2, 2] }, // odd sizes: the last row and column are dropped
  { shape: [2, 3, 8, 13], kernel: [2, 2] }, // 2×2 windows four at a time, then a tail of two
  { shape: [2, 3, 9, 11], kernel: [3, 3], stride: [2, 2], padding: [1, 1] }, // overlapping, padded
  { shape: [2, 3, 10, 14], kernel: [2, 2] }, // exactly tiled, 7 windows a row: the last block of four overlaps the one before
  { shape: [1, 2, 6, 7], kernel: [3, 2], stride: [1, 2], padding: [1, 0] }, // rectangular
  { shape: [3, 5, 4, 4], kernel: [4, 4] }, // global (the ResNet-CIFAR head)
  { shape: [2, 1, 5, 5], kernel: [2, 3], stride: [3, 1], padding: [1, 1] }, // stride > kernel
];

function poolDims(c: WindowCase): Pool2dDims {
  const [n, ch, inH, inW] = c.shape;
  const [kernelH, kernelW] = c.kernel;
  const [strideH, strideW] = c.stride ?? c.kernel;
  const [padH, padW] = c.padding ?? [0, 0];
  return {
    planes: n * ch, inH, inW, kernelH, kernelW, strideH, strideW, padH, padW,
    outH: Math.floor((inH + 2 * padH - kernelH) / strideH) + 1,
    outW: Math.floor((inW + 2 * padW - kernelW) / strideW) + 1,
  };
}

const outShape = (c: WindowCase, d: PlaneDims) => [c.shape[0], c.shape[1], d.outH, d.outW];
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('pooling references', () => {
  it('max pooling: first maximum wins ties, NaN propagates, padding is never picked', () => {
    // 1 plane, 3×4, kernel 2, stride 2 → 1×2 (the last row is dropped in floor mode).
    const d = poolDims({ shape: [1, 1, 3, 4], kernel: [2, 2] });
    const y = new Float32Array(2);
    const idx = new Int32Array(2);
    reference.maxPool2dForwardRef(Float32Array.from([5, 1, 2, NaN, 5, 0, NaN, 3, 9, 9, 9, 9]), y, idx, d);
    expect([...y]).toEqual([5, NaN]);
    expect([...idx]).toEqual([0, 6]); // 5 at 0 and 4: the first; NaNs at 3 and 6: the last
    // Padded all-negative input: the maximum is a real element, not the padding's implicit −∞ or 0.
    const p = poolDims({ shape: [1, 1, 2, 2], kernel: [2, 2], stride: [1, 1], padding: [1, 1] });
    const y2 = new Float32Array(9);
    const i2 = new Int32Array(9);
    reference.maxPool2dForwardRef(Float32Array.from([-4, -3, -2, -1]), y2, i2, p);
    expect([...y2]).toEqual([-4, -3, -3, -2, -1, -1, -2, -1, -1]);
    expect([...i2]).toEqual([0, 1, 1, 2, 3, 3, 2, 3, 3]);
  });

  it('average pooling divides by the whole kernel, padding included', () => {
    const d = poolDims({ shape: [1, 1, 2, 2], kernel: [2, 2], stride: [1, 1], padding: [1, 1] });
    const y = new Float32Array(9);
    reference.avgPool2dForwardRef(Float32Array.from([4, 4, 4, 4]), y, d);
    expect([...y]).toEqual([1, 2, 1, 2, 4, 2, 1, 2, 1]);
  });

  it('adaptive bins are torch\'s overlapping [⌊i·H/o⌋, ⌈(i+1)·H/o⌉)', () => {
    expect([0, 1, 2].map((i) => reference.adaptiveBin(i, 5, 3))).toEqual([[0, 2], [1, 4], [3, 5]]);
    expect([0, 1, 2, 3].map((i) => reference.adaptiveBin(i, 2, 4))).toEqual([[0, 1], [0, 1], [1, 2], [1, 2]]);
    const y = new Float32Array(3);
    reference.adaptiveAvgPool2dForwardRef(Float32Array.from([0, 1, 2, 3, 4]), y, { planes: 1, inH: 1, inW: 5, outH: 1, outW: 3 });
    expect([...y]).toEqual([0.5, 2, 3.5]);
  });

  it('reference gradients match finite differences (float64)', () => {
    const r = rng(11);
    const check = (n: number, m: number, fwd: (x: Float64Array, y: Float64Array) => void, bwd: (dy: Float64Array, dx: Float64Array) => void) => {
      const x = Float64Array.from({ length: n }, r);
      const dy = Float64Array.from({ length: m }, r);
      const dx = new Float64Array(n);
      bwd(dy, dx);
      const loss = (xs: Float64Array) => { const y = new Float64Array(m); fwd(xs, y); return y.reduce((s, v, i) => s + v * dy[i]!, 0); };
      const h = 1e-6;
      for (let i = 0; i < n; i++) {
        const up = x.slice(); up[i]! += h;
        const down = x.slice(); down[i]! -= h;
        expect(dx[i]).toBeCloseTo((loss(up) - loss(down)) / (2 * h), 6);
      }
    };
    const avg = poolDims(WINDOW_CASES[2]!);
    check(avg.planes * avg.inH * avg.inW, avg.planes * avg.outH * avg.outW,
      (x, y) => reference.avgPool2dForwardRef(x, y, avg), (dy, dx) => reference.avgPool2dBackwardRef(dy, dx, avg));
    const ad: PlaneDims = { planes: 2, inH: 5, inW: 7, outH: 3, outW: 4 };
    check(2 * 5 * 7, 2 * 3 * 4,
      (x, y) => reference.adaptiveAvgPool2dForwardRef(x, y, ad), (dy, dx) => reference.adaptiveAvgPool2dBackwardRef(dy, dx, ad));
  });
});

forEachBackend('pooling', (run) => {
  run('max pooling matches the reference, ties and overlapping windows included', async (b, make) => {
    const r = rng(1);
    for (const c of WINDOW_CASES) {
      const d = poolDims(c);
      const n = size(c.shape);
      const m = d.planes * d.outH * d.outW;
      // Values on a coarse grid, so that windows hold equal maxima and the tie rule matters.
      const xs = Float32Array.from({ length: n }, () => Math.round(r() * 3));
      const dys = randomArray(m, r);
      const y = new Float32Array(m); const idx = new Int32Array(m); const dx = new Float32Array(n);
      reference.maxPool2dForwardRef(xs, y, idx, d);
      reference.maxPool2dBackwardRef(dys, idx, dx, d);
      const t = {
        x: make(c.shape, xs), y: make(outShape(c, d)), indices: make(outShape(c, d), undefined, 'i32'),
        dy: make(outShape(c, d), dys), dx: make(c.shape, new Float32Array(n).fill(7)), // stale data must go
      };
      b.maxPool2dForward({ x: t.x, y: t.y, indices: t.indices, kernel: c.kernel, stride: c.stride, padding: c.padding });
      b.maxPool2dBackward({ dy: t.dy, indices: t.indices, dx: t.dx });
      expect([...await b.read(t.y)]).toEqual([...y]);
      expect([...await b.read(t.indices)]).toEqual([...idx]);
      expectClose(await b.read(t.dx), dx, 1e-6);
      for (const v of Object.values(t)) b.release(v);
    }
  });

  run('max pooling follows torch on NaN and −∞ windows', async (b, make) => {
    const x = make([1, 2, 2, 2], [1, NaN, 3, NaN, -Infinity, -Infinity, -Infinity, -Infinity]);
    const y = make([1, 2, 1, 1]);
    const indices = make([1, 2, 1, 1], undefined, 'i32');
    b.maxPool2dForward({ x, y, indices, kernel: [2, 2] });
    const got = await b.read(y);
    expect(Number.isNaN(got[0])).toBe(true);
    expect(got[1]).toBe(-Infinity);
    expect([...await b.read(indices)]).toEqual([3, 0]);
    // The same rules with four windows side by side (the vectorised 2×2 path).
    const wide = make([1, 1, 2, 8], [1, NaN, 3, 3, -Infinity, -Infinity, 2, 5, NaN, 1, 3, 3, -Infinity, -Infinity, 5, 2]);
    const wy = make([1, 1, 1, 4]);
    const wi = make([1, 1, 1, 4], undefined, 'i32');
    b.maxPool2dForward({ x: wide, y: wy, indices: wi, kernel: [2, 2] });
    expect([...await b.read(wy)]).toEqual([NaN, 3, -Infinity, 5]);
    expect([...await b.read(wi)]).toEqual([8, 2, 4, 7]);
  });

  run('2×2 max pooling over rows wide enough for the four-window SIMD path: ties, NaN, −∞, signed zeros', async (b, make) => {
    // outW = 6 and 7: a block of four windows in every row, then one that overlaps it (recomputed
    // windows must give the same bits). dy holds −0, which the backward's scatter onto zeros makes +0.
    for (const shape of [[2, 3, 10, 13], [2, 3, 10, 14]] as Array<[number, number, number, number]>) {
      const d = poolDims({ shape, kernel: [2, 2] });
      const oShape = [shape[0], shape[1], d.outH, d.outW];
      const r = rng(11);
      const special = [Number.NaN, -Infinity, 0, -0, 0.5, 0.5];
      const pick = () => (r() > 0.6 ? special[Math.floor((r() + 1) * 3)]! : Math.round(r() * 4) / 4);
      const data = Float32Array.from({ length: size(shape) }, pick);
      const dys = Float32Array.from({ length: size(oShape) }, pick);
      const y = new Float32Array(size(oShape)), idx = new Int32Array(y.length), dx = new Float32Array(size(shape));
      reference.maxPool2dForwardRef(data, y, idx, d);
      reference.maxPool2dBackwardRef(dys, idx, dx, d);
      const tx = make(shape, data), ty = make(oShape), ti = make(oShape, undefined, 'i32');
      const tdy = make(oShape, dys), tdx = make(shape, new Float32Array(size(shape)).fill(7));
      b.maxPool2dForward({ x: tx, y: ty, indices: ti, kernel: [2, 2] });
      b.maxPool2dBackward({ dy: tdy, indices: ti, dx: tdx });
      const same = (name: string, got: Float32Array, want: Float32Array) => {
        for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) throw new Error(`${shape}: ${name}[${i}] = ${got[i]}, expected ${want[i]}`);
      };
      same('y', await b.read(ty) as Float32Array, y);
      expect([...await b.read(ti)]).toEqual([...idx]);
      same('dx', await b.read(tdx) as Float32Array, dx);
      for (const t of [tx, ty, ti, tdy, tdx]) b.release(t);
    }
  });

  run('max pooling backward skips indices outside the plane instead of writing out of bounds', async (b, make) => {
    const dy = make([1, 2, 1, 2], [1, 2, 3, 4]);
    const indices = make([1, 2, 1, 2], [-1, 3, 4, 0], 'i32');
    const dx = make([1, 2, 2, 2]);
    const after = make([16], new Float32Array(16).fill(5)); // likely the next block in wasm memory
    b.maxPool2dBackward({ dy, indices, dx });
    expect([...await b.read(dx)]).toEqual([0, 0, 0, 2, 4, 0, 0, 0]);
    expect([...await b.read(after)]).toEqual(new Array(16).fill(5));
  });

  run('average pooling matches the reference, padding and overlap included', async (b, make) => {
    const r = rng(2);
    for (const c of WINDOW_CASES) {
      const d = poolDims(c);
      const n = size(c.shape);
      const m = d.planes * d.outH * d.outW;
      const xs = randomArray(n, r); const dys = randomArray(m, r);
      const y = new Float32Array(m); const dx = new Float32Array(n);
      reference.avgPool2dForwardRef(xs, y, d);
      reference.avgPool2dBackwardRef(dys, dx, d);
      const t = { x: make(c.shape, xs), y: make(outShape(c, d)), dy: make(outShape(c, d), dys), dx: make(c.shape) };
      const window = { kernel: c.kernel, stride: c.stride, padding: c.padding };
      b.avgPool2dForward({ x: t.x, y: t.y, ...window });
      b.avgPool2dBackward({ dy: t.dy, dx: t.dx, ...window });
      expectClose(await b.read(t.y), y);
      expectClose(await b.read(t.dx), dx);
      for (const v of Object.values(t)) b.release(v);
    }
  });

  run('adaptive average pooling matches the reference for shrinking, identity and growing sizes', async (b, make) => {
    const r = rng(3);
    const cases: Array<[number[], number, number]> = [
      [[2, 3, 5, 7], 3, 2], [[2, 8, 2, 2], 2, 2], [[1, 2, 3, 3], 5, 4], [[1, 1, 1, 1], 1, 1], [[3, 2, 7, 7], 1, 1], [[1, 3, 6, 9], 4, 6],
    ];
    for (const [shape, outH, outW] of cases) {
      const d: PlaneDims = { planes: shape[0]! * shape[1]!, inH: shape[2]!, inW: shape[3]!, outH, outW };
      const oShape = [shape[0]!, shape[1]!, outH, outW];
      const xs = randomArray(size(shape), r); const dys = randomArray(size(oShape), r);
      const y = new Float32Array(size(oShape)); const dx = new Float32Array(size(shape));
      reference.adaptiveAvgPool2dForwardRef(xs, y, d);
      reference.adaptiveAvgPool2dBackwardRef(dys, dx, d);
      const t = { x: make(shape, xs), y: make(oShape), dy: make(oShape, dys), dx: make(shape) };
      b.adaptiveAvgPool2dForward({ x: t.x, y: t.y });
      b.adaptiveAvgPool2dBackward({ dy: t.dy, dx: t.dx });
      expectClose(await b.read(t.y), y);
      expectClose(await b.read(t.dx), dx);
      for (const v of Object.values(t)) b.release(v);
    }
  });

  run('empty batches are accepted and do nothing', async (b, make) => {
    const x = make([0, 3, 4, 4]);
    const y = make([0, 3, 2, 2]);
    const indices = make([0, 3, 2, 2], undefined, 'i32');
    b.maxPool2dForward({ x, y, indices, kernel: [2, 2] });
    b.maxPool2dBackward({ dy: y, indices, dx: x });
    b.avgPool2dForward({ x, y, kernel: [2, 2] });
    b.adaptiveAvgPool2dBackward({ dy: y, dx: x });
    expect((await b.read(y)).length).toBe(0);
  });

  run('rejects bad windows, shapes, dtypes and aliasing with typed errors', async (b, make) => {
    const x = make([2, 3, 6, 6]);
    const y = make([2, 3, 3, 3]);
    const indices = make([2, 3, 3, 3], undefined, 'i32');
    const e = thrown(() => b.maxPool2dForward({ x, y, indices, kernel: [0, 2] }));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/maxPool2dForward: 'kernel' must be \[height, width\] with integers ≥ 1, got \[0,2\]/);
    expect(thrown(() => b.avgPool2dForward({ x, y, kernel: [2, 2], padding: [2, 0] })).message).toMatch(/at most half the kernel/);
    expect(thrown(() => b.avgPool2dForward({ x, y, kernel: [7, 7] })).message).toMatch(/6×6 input padded by \[0, 0\] is smaller than the 7×7 kernel/);
    const wrong = thrown(() => b.maxPool2dForward({ x, y, indices, kernel: [3, 3], stride: [1, 1] }));
    expect(wrong.code).toBe('SHAPE_MISMATCH');
    expect(wrong.message).toMatch(/'y' must have shape \[2, 3, 4, 4\], got \[2, 3, 3, 3\]/);
    expect(thrown(() => b.maxPool2dForward({ x, y, indices: y, kernel: [2, 2] })).message).toMatch(/'indices' must be i32, got f32/);
    expect(thrown(() => b.maxPool2dBackward({ dy: y, indices, dx: make([2, 4, 6, 6]) })).message).toMatch(/dy's batch and channels \[2, 3, …\]/);
    expect(thrown(() => b.avgPool2dBackward({ dy: y, dx: y, kernel: [1, 1] })).message).toMatch(/different tensors/);
    expect(thrown(() => b.adaptiveAvgPool2dForward({ x, y: make([2, 3, 0, 2]) })).message).toMatch(/at least 1×1/);
    expect(thrown(() => b.adaptiveAvgPool2dForward({ x: make([2, 3, 36]), y })).message).toMatch(/'x' must have rank 4/);
  });
});
