// Sparse-weight kernels (CSR): the host-side structure, the plain references against the dense
// references on the masked weight, then every backend against both — the dense kernels on M⊙W on
// the same backend, and the sparse reference — on awkward shapes (batch 1, sizes off the SIMD
// widths, empty rows, fully pruned and fully dense weights, strides and paddings of every kind).
import { describe, expect, it } from 'vitest';
import { type Backend, type Conv2dDims, type CsrMatrix, InvalidArgumentError, reference, sparse, uploadCsr } from '../../src/index.ts';
import { forEachBackend, type Make, rng, thrown } from './kernel-harness.ts';

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 2e-5) {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!)))) {
      throw new Error(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

/** A 0/1 mask keeping each entry with probability `density`; density 0 and 1 are exact. */
function randomMask(n: number, density: number, r: () => number): Uint8Array {
  return Uint8Array.from({ length: n }, () => (density >= 1 ? 1 : (r() + 1) / 2 < density ? 1 : 0));
}

const DENSITIES = [0, 0.05, 0.3, 1];

/** Random values that float32 holds exactly, so backends and the float64 references see the same data. */
const f32 = (n: number, r: () => number): Float64Array => Float64Array.from(Float32Array.from({ length: n }, r));

type Geometry = [n: number, c: number, h: number, w: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number];

function dimsOf([n, c, h, w, o, kh, kw, sh, sw, ph, pw]: Geometry): Conv2dDims {
  return {
    batch: n, inChannels: c, inH: h, inW: w, outChannels: o, kernelH: kh, kernelW: kw,
    strideH: sh, strideW: sw, padH: ph, padW: pw,
    outH: Math.floor((h + 2 * ph - kh) / sh) + 1, outW: Math.floor((w + 2 * pw - kw) / sw) + 1,
  };
}

const CONV_GEOMETRIES: Geometry[] = [
  [2, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2], // LeNet's first layer: 784 positions, every SIMD tail of spmm
  [3, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0], // LeNet's second layer
  [2, 3, 7, 9, 5, 3, 2, 2, 1, 1, 0], // non-square kernel, unequal strides
  [2, 3, 7, 9, 5, 3, 2, 1, 1, 2, 0], // stride 1, padding kernel − 1 in h (dy needs no margin there), none in w
  [2, 2, 6, 5, 3, 2, 4, 1, 1, 0, 3], // the same the other way round
  [1, 2, 5, 5, 2, 2, 2, 1, 1, 2, 0], // stride 1 with padding ≥ kernel: rows of the grid that only see padding
  [3, 2, 6, 5, 7, 1, 1, 1, 1, 0, 0], // pointwise: x is its own im2col
  [2, 5, 9, 7, 3, 1, 1, 2, 3, 0, 1], // 1×1 that still needs im2col
  [1, 3, 4, 4, 2, 5, 5, 1, 1, 2, 2], // kernel larger than the image
  [2, 2, 5, 6, 3, 2, 3, 3, 2, 3, 4], // padding wider than the kernel: taps that see only zeros
  [2, 3, 8, 8, 4, 2, 2, 3, 3, 0, 0], // stride larger than the kernel: skipped pixels get dx = 0
  [0, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1], // empty batch
];

/** [batch, in, out] */
const LINEAR_SHAPES: Array<[number, number, number]> = [[1, 7, 5], [3, 33, 17], [5, 130, 9], [17, 400, 120], [64, 84, 10], [0, 4, 3]];

describe('CSR structure', () => {
  it('lists the kept entries row by row, and its transpose by columns', () => {
    const mask = [0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 1]; // 3×4, the middle row empty
    const s = sparse.csrFromMask(mask, 3, 4);
    expect([...s.rowPtr]).toEqual([0, 2, 2, 5]);
    expect([...s.colIdx]).toEqual([1, 2, 0, 2, 3]);
    const t = sparse.csrTranspose(s);
    expect([t.rows, t.cols]).toEqual([4, 3]);
    expect([...t.rowPtr]).toEqual([0, 1, 2, 4, 5]);
    expect([...t.colIdx]).toEqual([2, 0, 0, 2, 2]);
    const back = sparse.csrTranspose(t);
    expect([...back.rowPtr]).toEqual([...s.rowPtr]);
    expect([...back.colIdx]).toEqual([...s.colIdx]);
    expect([...sparse.csrGatherValues(s, Float32Array.from({ length: 12 }, (_, i) => i))]).toEqual([1, 2, 8, 10, 11]);
  });

  it('handles empty and full matrices and rejects malformed ones', () => {
    expect([...sparse.csrFromMask([], 0, 5).rowPtr]).toEqual([0]);
    const full = sparse.csrFromMask(new Uint8Array(6).fill(1), 2, 3);
    expect([...full.colIdx]).toEqual([0, 1, 2, 0, 1, 2]);
    expect(thrown(() => sparse.csrFromMask([1, 0, 1], 2, 2))).toBeInstanceOf(InvalidArgumentError);
    const bad = (rowPtr: number[], colIdx: number[]) => thrown(() => sparse.checkCsrStructure('t', { rows: 2, cols: 3, rowPtr: Int32Array.from(rowPtr), colIdx: Int32Array.from(colIdx) }));
    expect(bad([0, 1, 2], [0, 3]).message).toMatch(/malformed/);
    expect(bad([0, 2, 2], [1, 1]).message).toMatch(/malformed/);
    expect(bad([0, 1, 3], [0, 1]).message).toMatch(/rowPtr/);
    expect(bad([0, 2, 1], [0, 1]).message).toMatch(/rowPtr|malformed/);
  });
});

interface LinearCase {
  batch: number; inF: number; outF: number;
  x: Float64Array; w: Float64Array; mw: Float64Array; b: Float64Array; dy: Float64Array; mask: Uint8Array;
  y: Float64Array; dx: Float64Array;
}

function linearCase([batch, inF, outF]: [number, number, number], density: number, r: () => number): LinearCase {
  const x = f32(batch * inF, r);
  const w = f32(outF * inF, r);
  const mask = randomMask(w.length, density, r);
  const mw = w.map((v, i) => v * mask[i]!);
  const b = f32(outF, r);
  const dy = f32(batch * outF, r);
  const y = new Float64Array(batch * outF);
  const dx = new Float64Array(batch * inF);
  const d = { batch, inFeatures: inF, outFeatures: outF };
  reference.linearForwardRef(x, mw, b, y, d);
  reference.linearBackwardRef(x, mw, dy, dx, undefined, undefined, d);
  return { batch, inF, outF, x, w, mw, b, dy, mask, y, dx };
}

interface ConvCase { d: Conv2dDims; x: Float64Array; w: Float64Array; mw: Float64Array; b: Float64Array; dy: Float64Array; mask: Uint8Array; y: Float64Array; dx: Float64Array }

function convCase(g: Geometry, density: number, r: () => number): ConvCase {
  const d = dimsOf(g);
  const k = d.inChannels * d.kernelH * d.kernelW;
  const x = f32(d.batch * d.inChannels * d.inH * d.inW, r);
  const w = f32(d.outChannels * k, r);
  const mask = randomMask(w.length, density, r);
  const mw = w.map((v, i) => v * mask[i]!);
  const b = f32(d.outChannels, r);
  const dy = f32(d.batch * d.outChannels * d.outH * d.outW, r);
  const y = new Float64Array(dy.length);
  const dx = new Float64Array(x.length);
  reference.conv2dForwardRef(x, mw, b, y, d);
  reference.conv2dBackwardRef(x, mw, dy, dx, undefined, undefined, d);
  return { d, x, w, mw, b, dy, mask, y, dx };
}

describe('sparse references', () => {
  it('equal the dense references on the masked weight', () => {
    const r = rng(3);
    for (const density of DENSITIES) {
      for (const shape of LINEAR_SHAPES) {
        const c = linearCase(shape, density, r);
        const s = sparse.csrFromMask(c.mask, c.outF, c.inF);
        const st = sparse.csrTranspose(s);
        const y = new Float64Array(c.y.length);
        const dx = new Float64Array(c.dx.length);
        reference.sparseLinearForwardRef(c.x, s.rowPtr, s.colIdx, sparse.csrGatherValues(s, c.w), c.b, y, { batch: c.batch, inFeatures: c.inF, outFeatures: c.outF });
        const wt = new Float64Array(c.w.length);
        reference.csrGatherRef(c.w, st.rowPtr, st.colIdx, wt, st.rows, st.cols, true);
        reference.sparseLinearForwardRef(c.dy, st.rowPtr, st.colIdx, wt, undefined, dx, { batch: c.batch, inFeatures: c.outF, outFeatures: c.inF });
        expectClose(y, c.y, `linear y ${shape} @${density}`, 1e-12);
        expectClose(dx, c.dx, `linear dx ${shape} @${density}`, 1e-12);
      }
      for (const g of CONV_GEOMETRIES) {
        const c = convCase(g, density, r);
        const k = c.d.inChannels * c.d.kernelH * c.d.kernelW;
        const s = sparse.csrFromMask(c.mask, c.d.outChannels, k);
        const st = sparse.csrTranspose(s);
        const y = new Float64Array(c.y.length);
        const dx = new Float64Array(c.dx.length).fill(9);
        reference.sparseConv2dForwardRef(c.x, s.rowPtr, s.colIdx, sparse.csrGatherValues(s, c.w), c.b, y, c.d);
        reference.sparseConv2dBackwardDataRef(c.dy, st.rowPtr, st.colIdx, sparse.csrGatherValues(st, transposeOf(c.w, c.d.outChannels, k)), dx, c.d);
        expectClose(y, c.y, `conv y ${g} @${density}`, 1e-12);
        expectClose(dx, c.dx, `conv dx ${g} @${density}`, 1e-12);
      }
    }
  });
});

function transposeOf(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c]!;
  return t;
}

forEachBackend('sparse kernels', (run) => {
  /** The CSR of the mask and of its transpose on the backend, values gathered from w on the device. */
  const sparseWeight = (b: Backend, make: Make, w: ArrayLike<number>, mask: Uint8Array, rows: number, cols: number) => {
    const wDense = make([rows, cols], Float32Array.from(w));
    const s = sparse.csrFromMask(mask, rows, cols);
    const held: CsrMatrix[] = [uploadCsr(b, s), uploadCsr(b, sparse.csrTranspose(s))];
    const [csr, csrT] = held as [CsrMatrix, CsrMatrix];
    // Garbage first, so a gather that skips entries is caught.
    b.write(csr.values, new Float32Array(csr.values.size).fill(5));
    b.write(csrT.values, new Float32Array(csrT.values.size).fill(5));
    b.csrGather({ w: wDense, a: csr });
    b.csrGather({ w: wDense, a: csrT, transposed: true });
    const done = () => { for (const m of held) for (const t of [m.rowPtr, m.colIdx, m.values]) b.release(t); };
    return { csr, csrT, done };
  };

  run('csrGather picks the kept weights of W and of Wᵀ', async (b, make) => {
    const r = rng(1);
    const w = Float32Array.from({ length: 7 * 13 }, r);
    const mask = randomMask(w.length, 0.4, r);
    const { csr, csrT, done } = sparseWeight(b, make, w, mask, 7, 13);
    const s = sparse.csrFromMask(mask, 7, 13);
    expect(await b.read(csr.values)).toEqual(sparse.csrGatherValues(s, w));
    expect(await b.read(csrT.values)).toEqual(sparse.csrGatherValues(sparse.csrTranspose(s), transposeOf(w, 7, 13)));
    done();
  });

  run('csrAddScaledByInvNorm adds the penalty gradient of the kept weights, as addScaledByInvNorm does on M⊙W', async (b, make) => {
    const r = rng(21);
    for (const [rows, cols, density] of [[7, 13, 0.3], [16, 150, 0.05], [3, 5, 1], [4, 9, 0]] as const) {
      const w = Float32Array.from({ length: rows * cols }, r);
      const mask = randomMask(w.length, density, r);
      const { csr, done } = sparseWeight(b, make, w, mask, rows, cols);
      const g0 = Float32Array.from({ length: w.length }, r);
      const [gs, gd, ss, sd] = [make([rows, cols], g0), make([rows, cols], g0), make([1]), make([1])];
      b.sumSquares({ x: csr.values, out: ss });
      b.csrAddScaledByInvNorm({ a: csr, sumSquares: ss, grad: gs, lambda: 0.3 });
      const mw = make([rows, cols], Float32Array.from(w, (v, i) => v * mask[i]!));
      b.sumSquares({ x: mw, out: sd });
      b.addScaledByInvNorm({ x: mw, sumSquares: sd, grad: gd, lambda: 0.3 });
      expectClose(await b.read(ss), await b.read(sd), `‖M⊙W‖² ${rows}×${cols} @${density}`);
      expectClose(await b.read(gs), await b.read(gd), `grad ${rows}×${cols} @${density}`);
      if (density === 0) expect(await b.read(gs)).toEqual(g0);
      done();
    }
    const { csr, done } = sparseWeight(b, make, [1, 2], Uint8Array.of(1, 1), 1, 2);
    expect(thrown(() => b.csrAddScaledByInvNorm({ a: csr, sumSquares: make([1]), grad: make([3]), lambda: 1 })).message).toMatch(/grad has 3 elements/);
    expect(thrown(() => b.csrAddScaledByInvNorm({ a: csr, sumSquares: make([1]), grad: make([2]), lambda: Number.NaN })).message).toMatch(/lambda/);
    done();
  });

  run('linear forward and input gradient match the dense kernels on M⊙W and the reference', async (b, make) => {
    const r = rng(7);
    for (const density of DENSITIES) {
      for (const shape of LINEAR_SHAPES) {
        const c = linearCase(shape, density, r);
        const { csr, csrT, done } = sparseWeight(b, make, c.w, c.mask, c.outF, c.inF);
        const x = make([c.batch, c.inF], Float32Array.from(c.x));
        const bias = make([c.outF], Float32Array.from(c.b));
        const dy = make([c.batch, c.outF], Float32Array.from(c.dy));
        const y = make([c.batch, c.outF], new Float32Array(c.batch * c.outF).fill(3));
        const dx = make([c.batch, c.inF], new Float32Array(c.batch * c.inF).fill(3));
        b.sparseLinearForward({ x, w: csr, b: bias, y });
        b.sparseLinearBackwardData({ dy, wt: csrT, dx });
        const what = `${shape} @${density}`;
        expectClose(await b.read(y), c.y, `y ${what}`);
        expectClose(await b.read(dx), c.dx, `dx ${what}`);
        // The dense kernels on the masked weight, on this backend.
        const mw = make([c.outF, c.inF], Float32Array.from(c.mw));
        const yd = make([c.batch, c.outF]);
        const dxd = make([c.batch, c.inF]);
        b.linearForward({ x, w: mw, b: bias, y: yd });
        b.linearBackward({ x, w: mw, dy, dx: dxd });
        expectClose(await b.read(y), await b.read(yd), `y vs dense ${what}`);
        expectClose(await b.read(dx), await b.read(dxd), `dx vs dense ${what}`);
        b.sparseLinearForward({ x, w: csr, y });
        const noBias = new Float64Array(c.y.length);
        reference.linearForwardRef(c.x, c.mw, undefined, noBias, { batch: c.batch, inFeatures: c.inF, outFeatures: c.outF });
        expectClose(await b.read(y), noBias, `y without bias ${what}`);
        done();
      }
    }
  });

  run('conv2d forward and input gradient match the dense kernels on M⊙W and the reference', async (b, make) => {
    const r = rng(13);
    for (const density of DENSITIES) {
      for (const g of CONV_GEOMETRIES) {
        const c = convCase(g, density, r);
        const { d } = c;
        const k = d.inChannels * d.kernelH * d.kernelW;
        const { csr, csrT, done } = sparseWeight(b, make, c.w, c.mask, d.outChannels, k);
        const geo = { kernel: [d.kernelH, d.kernelW] as [number, number], stride: [d.strideH, d.strideW] as [number, number], padding: [d.padH, d.padW] as [number, number] };
        const xShape = [d.batch, d.inChannels, d.inH, d.inW];
        const yShape = [d.batch, d.outChannels, d.outH, d.outW];
        const x = make(xShape, Float32Array.from(c.x));
        const bias = make([d.outChannels], Float32Array.from(c.b));
        const dy = make(yShape, Float32Array.from(c.dy));
        const y = make(yShape, new Float32Array(c.y.length).fill(3));
        const dx = make(xShape, new Float32Array(c.x.length).fill(3));
        b.sparseConv2dForward({ x, w: csr, b: bias, y, ...geo });
        b.sparseConv2dBackwardData({ dy, wt: csrT, dx, ...geo });
        const what = `${g} @${density}`;
        expectClose(await b.read(y), c.y, `y ${what}`);
        expectClose(await b.read(dx), c.dx, `dx ${what}`);
        const mw = make([d.outChannels, d.inChannels, d.kernelH, d.kernelW], Float32Array.from(c.mw));
        const yd = make(yShape);
        const dxd = make(xShape);
        b.conv2dForward({ x, w: mw, b: bias, y: yd, stride: geo.stride, padding: geo.padding });
        b.conv2dBackward({ x, w: mw, dy, dx: dxd, stride: geo.stride, padding: geo.padding });
        expectClose(await b.read(y), await b.read(yd), `y vs dense ${what}`);
        expectClose(await b.read(dx), await b.read(dxd), `dx vs dense ${what}`);
        done();
      }
    }
  });

  run('rejects arguments that cannot be right', async (b, make) => {
    const w = [1, 0, 2, 0, 3, 0];
    const { csr, csrT, done } = sparseWeight(b, make, w, Uint8Array.from(w, (v) => (v ? 1 : 0)), 2, 3);
    try {
      const x = make([4, 3]);
      const y = make([4, 2]);
      expect(thrown(() => b.sparseLinearForward({ x: make([4, 2]), w: csr, y })).message).toMatch(/x has 2 features/);
      expect(thrown(() => b.sparseLinearForward({ x, w: csr, y: make([4, 3]) })).code).toBe('SHAPE_MISMATCH');
      expect(thrown(() => b.sparseLinearForward({ x, w: { ...csr, rowPtr: csr.colIdx }, y })).message).toMatch(/rowPtr/);
      expect(thrown(() => b.sparseLinearForward({ x, w: { ...csr, values: make([3], undefined, 'i32') }, y })).message).toMatch(/values' must be f32/);
      expect(thrown(() => b.sparseLinearForward({ x, w: { ...csr, values: undefined as never }, y })).message).toMatch(/values' is missing/);
      expect(thrown(() => b.sparseLinearBackwardData({ dy: y, wt: csrT, dx: make([4, 2]) })).message).toMatch(/dx/);
      expect(thrown(() => b.csrGather({ w: make([5]), a: csr })).message).toMatch(/w has 5 elements/);
      // A 2×3 matrix cannot be a conv weight with a 2×2 kernel; x must have the channels it unfolds.
      const img = make([1, 3, 4, 4]);
      expect(thrown(() => b.sparseConv2dForward({ x: img, w: csr, kernel: [2, 2], y: make([1, 2, 3, 3]) })).message).toMatch(/not a multiple/);
      expect(thrown(() => b.sparseConv2dForward({ x: make([1, 2, 4, 4]), w: csr, kernel: [1, 1], y: make([1, 2, 4, 4]) })).message).toMatch(/x has 2 channels/);
      expect(thrown(() => b.sparseConv2dForward({ x: img, w: csr, kernel: [1, 1], y: make([1, 2, 3, 4]) })).code).toBe('SHAPE_MISMATCH');
      expect(thrown(() => b.sparseConv2dBackwardData({ dy: make([1, 2, 4, 4]), wt: csr, kernel: [1, 1], dx: img })).message).toMatch(/dx has 3 channels/);
      expect(thrown(() => b.sparseConv2dForward({ x: img, w: csr, kernel: [0, 1] as never, y: make([1, 2, 4, 4]) })).message).toMatch(/kernel/);
      const other = await (await import('../../src/index.ts')).createBackend('reference');
      const foreign = other.tensor('f32', [4, 3]);
      expect(thrown(() => b.sparseLinearForward({ x: foreign, w: csr, y })).code).toBe('FOREIGN_TENSOR');
      other.dispose();
    } finally {
      done();
    }
  });
});
