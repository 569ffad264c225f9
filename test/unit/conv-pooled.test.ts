// conv2dWeightGradPooled and conv2dInputGradPooled: the weight, bias and input gradients of a
// convolution feeding a max-pool, taken from the pool's side. By definition they are
// conv2dBackward's for the pool's scattered gradient; every backend must match that, on both of
// the wasm weight-gradient kernel's chunk shapes (kernels up to 4 and up to 8 wide), its fallback
// for wider kernels, the input-gradient kernel's register-held rows (LeNet's conv2) and general
// rows, its dense fallback for wide channels, overlapping pools (a position picked twice),
// padding, strides, skipped indices and NaN. sparseConv2dInputGradPooled is the same input
// gradient with the weight given as the CSR of Wᵀ, as the sparse path holds it.
import { describe, expect, it } from 'vitest';
import { type Backend, type CsrMatrix, InvalidArgumentError, reference, releaseCsr, sparse, uploadCsr } from '../../src/index.ts';
import { type ConvPoolCase, convPoolGeometry, expectClose, forEachBackend, randomArray, rng, thrown } from './kernel-harness.ts';

type Case = ConvPoolCase & { pool: NonNullable<ConvPoolCase['pool']> };

const CASES: Case[] = [
  // LeNet-5's conv2 and conv1 (padded), 2×2 pools: the 8-wide chunks, 30 and 5 patch rows.
  { name: 'lenet conv2', x: [3, 6, 14, 14], w: [16, 6, 5, 5], pool: { kernel: [2, 2], stride: [2, 2] } },
  { name: 'lenet conv1', x: [2, 1, 28, 28], w: [6, 1, 5, 5], padding: [2, 2], pool: { kernel: [2, 2], stride: [2, 2] } },
  // 3×3, strided and padded, under an overlapping padded pool: the 4-wide chunks, 15 rows.
  { name: '3×3 stride 2, overlapping pool', x: [2, 5, 11, 9], w: [7, 5, 3, 3], stride: [2, 2], padding: [1, 1], pool: { kernel: [3, 3], stride: [2, 2], padding: [1, 1] } },
  // kw = 7 with an uneven pool; kw = 9 is wider than the kernel takes (the scatter fallback).
  { name: 'kw 7, rectangular', x: [2, 2, 9, 12], w: [3, 2, 2, 7], stride: [1, 1], padding: [0, 1], pool: { kernel: [2, 3], stride: [2, 3] } },
  { name: 'kw 9 (fallback)', x: [2, 2, 6, 12], w: [2, 2, 3, 9], padding: [1, 0], pool: { kernel: [2, 2], stride: [2, 2] } },
];

function geometry(c: Case) {
  const { conv, pool, pooledShape } = convPoolGeometry(c);
  return { d: conv, pool, gShape: pooledShape };
}

/** The pool's indices over a random conv output, and a pooled gradient with ReLU-like zeros. */
function pooledInputs(c: Case, seed: number) {
  const r = rng(seed);
  const { d, pool, gShape } = geometry(c);
  const conv = randomArray(d.batch * d.outChannels * d.outH * d.outW, r);
  const pooledSize = pool.planes * pool.outH * pool.outW;
  const indices = new Int32Array(pooledSize);
  reference.maxPool2dForwardRef(conv, new Float32Array(pooledSize), indices, pool);
  const g = Float32Array.from({ length: pooledSize }, () => (r() < -0.3 ? 0 : r()));
  const x = randomArray(d.batch * d.inChannels * d.inH * d.inW, r);
  return { d, pool, gShape, x, g, indices };
}

describe('conv2dWeightGradPooled reference', () => {
  it('is the dense weight gradient of the scattered dy', () => {
    const { d, pool, x, g, indices } = pooledInputs(CASES[2]!, 5);
    const dy = new Float64Array(d.batch * d.outChannels * d.outH * d.outW);
    reference.maxPool2dBackwardRef(Float64Array.from(g), indices, dy, pool);
    const want = new Float64Array(d.outChannels * d.inChannels * d.kernelH * d.kernelW), wantB = new Float64Array(d.outChannels);
    reference.conv2dBackwardRef(x, new Float64Array(0), dy, undefined, want, wantB, d);
    const got = new Float64Array(want.length), gotB = new Float64Array(d.outChannels);
    reference.conv2dWeightGradPooledRef(x, g, indices, got, gotB, d, pool.outH * pool.outW);
    expectClose(got, want, 1e-12);
    expectClose(gotB, wantB, 1e-12);
  });
});

forEachBackend('conv2dWeightGradPooled', (run) => {
  run('matches the dense gradients of the pool\'s scattered dy', async (b, make) => {
    for (const [k, c] of CASES.entries()) {
      const { d, gShape, x, g, indices } = pooledInputs(c, 10 + k);
      const dw = new Float32Array(d.outChannels * d.inChannels * d.kernelH * d.kernelW), db = new Float32Array(d.outChannels);
      reference.conv2dWeightGradPooledRef(x, g, indices, dw, db, d, gShape[2]! * gShape[3]!);
      const t = {
        x: make(c.x, x), g: make(gShape, g), indices: make(gShape, indices, 'i32'),
        dw: make(c.w, new Float32Array(dw.length).fill(3)), db: make([d.outChannels], new Float32Array(d.outChannels).fill(3)), // stale values must go
      };
      b.conv2dWeightGradPooled({ x: t.x, g: t.g, indices: t.indices, dw: t.dw, db: t.db, stride: c.stride, padding: c.padding });
      expectClose(await b.read(t.dw), dw, 1e-4, `${c.name}: dw`);
      expectClose(await b.read(t.db), db, 1e-4, `${c.name}: db`);
      // Without db, dw alone.
      const dw2 = make(c.w);
      b.conv2dWeightGradPooled({ x: t.x, g: t.g, indices: t.indices, dw: dw2, stride: c.stride, padding: c.padding });
      expectClose(await b.read(dw2), dw, 1e-4, `${c.name}: dw without db`);
    }
  });

  run('skips indices outside the conv plane, propagates NaN, and zeroes dw when g is all zero', async (b, make) => {
    // LeNet conv2's 25 pooled positions end with a scalar tail after six groups of four (wasm lists
    // four at a time), so a skipped index is placed in a group and in the tail there too.
    {
      const c = CASES[0]!;
      const { d, gShape, x, g, indices } = pooledInputs(c, 3);
      const pooled = gShape[2]! * gShape[3]!;
      for (const at of [1, pooled - 1, 2 * pooled + 24, 3 * pooled + 2]) { indices[at] = at % 2 ? -5 : d.outH * d.outW + at; g[at] = 50; }
      const dw = new Float32Array(c.w.reduce((a, v) => a * v, 1)), db = new Float32Array(d.outChannels);
      reference.conv2dWeightGradPooledRef(x, g, indices, dw, db, d, pooled);
      const t = { x: make(c.x, x), g: make(gShape, g), indices: make(gShape, indices, 'i32'), dw: make(c.w), db: make([d.outChannels]) };
      b.conv2dWeightGradPooled({ x: t.x, g: t.g, indices: t.indices, dw: t.dw, db: t.db });
      expectClose(await b.read(t.dw), dw, 1e-4, 'conv2: dw');
      expectClose(await b.read(t.db), db, 1e-4, 'conv2: db');
    }
    const c = CASES[1]!;
    const { d, gShape, x, g, indices } = pooledInputs(c, 3);
    indices[0] = -1; indices[7] = d.outH * d.outW; indices[9] = 1 << 30;
    g[0] = 50; g[7] = 50; g[9] = 50; // would show if they were used
    const pooled = gShape[2]! * gShape[3]!;
    const dw = new Float32Array(c.w.reduce((a, v) => a * v, 1)), db = new Float32Array(d.outChannels);
    reference.conv2dWeightGradPooledRef(x, g, indices, dw, db, d, pooled);
    const t = { x: make(c.x, x), g: make(gShape, g), indices: make(gShape, indices, 'i32'), dw: make(c.w), db: make([d.outChannels]) };
    b.conv2dWeightGradPooled({ x: t.x, g: t.g, indices: t.indices, dw: t.dw, db: t.db, padding: c.padding });
    expectClose(await b.read(t.dw), dw, 1e-4, 'dw');
    expectClose(await b.read(t.db), db, 1e-4, 'db');
    // A NaN gradient reaches every weight of its filter (and no other filter), as in the dense product.
    const nanAt = 2 * pooled + 5; // image 0, filter 2
    indices[nanAt] = 3 * d.outW + 4;
    g[nanAt] = Number.NaN;
    const gn = make(gShape, g), inn = make(gShape, indices, 'i32');
    b.conv2dWeightGradPooled({ x: t.x, g: gn, indices: inn, dw: t.dw, db: t.db, padding: c.padding });
    const got = await b.read(t.dw);
    const perFilter = d.inChannels * d.kernelH * d.kernelW;
    for (let i = 0; i < got.length; i++) expect(Number.isNaN(got[i]), `dw[${i}]`).toBe(Math.floor(i / perFilter) === 2);
    expect(Number.isNaN((await b.read(t.db))[2])).toBe(true);
    const zeros = make(gShape, new Float32Array(g.length));
    b.conv2dWeightGradPooled({ x: t.x, g: zeros, indices: inn, dw: t.dw, db: t.db, padding: c.padding });
    expect([...await b.read(t.dw)].every((v) => Object.is(v, 0))).toBe(true);
    expect([...await b.read(t.db)].every((v) => Object.is(v, 0))).toBe(true);
  });

  run('rejects mismatched shapes with a message naming them', (b, make) => {
    const x = make([2, 3, 8, 8]), dw = make([4, 3, 3, 3]);
    const g = make([2, 5, 3, 3]), indices = make([2, 5, 3, 3], undefined, 'i32');
    const e = thrown(() => b.conv2dWeightGradPooled({ x, g, indices, dw }));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/conv2dWeightGradPooled: 'g' \[2, 5, 3, 3\] must have x's batch and dw's filters \[2, 4, Hp, Wp\]/);
    const g4 = make([2, 4, 3, 3]), i4f = make([2, 4, 3, 3]);
    expect(thrown(() => b.conv2dWeightGradPooled({ x, g: g4, indices: i4f, dw })).message).toMatch(/indices/);
  });
});

/** Input-gradient cases: the weight-gradient ones, and channels too wide for wasm's kernel (its dense fallback). */
const INPUT_CASES: Case[] = [
  ...CASES,
  { name: 'wide channels (dense fallback)', x: [2, 20, 8, 8], w: [6, 20, 3, 3], padding: [1, 1], pool: { kernel: [2, 2], stride: [2, 2] } },
];

describe('conv2dInputGradPooled reference', () => {
  it('is the dense input gradient of the scattered dy', () => {
    const { d, pool, g, indices } = pooledInputs(CASES[2]!, 6);
    const w = randomArray(d.outChannels * d.inChannels * d.kernelH * d.kernelW, rng(7));
    const dy = new Float64Array(d.batch * d.outChannels * d.outH * d.outW);
    reference.maxPool2dBackwardRef(Float64Array.from(g), indices, dy, pool);
    const want = new Float64Array(d.batch * d.inChannels * d.inH * d.inW);
    reference.conv2dBackwardRef(new Float64Array(0), w, dy, want, undefined, undefined, d);
    const got = new Float64Array(want.length);
    reference.conv2dInputGradPooledRef(g, indices, w, got, d, pool.outH * pool.outW);
    expectClose(got, want, 1e-12);
  });
});

forEachBackend('conv2dInputGradPooled', (run) => {
  run('matches the dense input gradient of the pool\'s scattered dy', async (b, make) => {
    for (const [k, c] of INPUT_CASES.entries()) {
      const { d, gShape, g, indices } = pooledInputs(c, 20 + k);
      const w = randomArray(c.w.reduce((a, v) => a * v, 1), rng(40 + k));
      const dx = new Float32Array(c.x.reduce((a, v) => a * v, 1));
      reference.conv2dInputGradPooledRef(g, indices, w, dx, d, gShape[2]! * gShape[3]!);
      const t = { g: make(gShape, g), indices: make(gShape, indices, 'i32'), w: make(c.w, w), dx: make(c.x, new Float32Array(dx.length).fill(3)) }; // stale values must go
      b.conv2dInputGradPooled({ g: t.g, indices: t.indices, w: t.w, dx: t.dx, stride: c.stride, padding: c.padding });
      expectClose(await b.read(t.dx), dx, 1e-4, `${c.name}: dx`);
    }
  });

  run('skips indices outside the conv plane, propagates NaN to its patch only, and gives +0 for an all-zero g', async (b, make) => {
    const c = CASES[0]!; // LeNet's conv2: 25 pooled positions, six groups of four and a tail
    const { d, gShape, g, indices } = pooledInputs(c, 8);
    const pooled = gShape[2]! * gShape[3]!;
    for (const at of [1, pooled - 1, 2 * pooled + 24, 3 * pooled + 2]) { indices[at] = at % 2 ? -5 : d.outH * d.outW + at; g[at] = 50; }
    const w = randomArray(c.w.reduce((a, v) => a * v, 1), rng(9));
    const dx = new Float32Array(c.x.reduce((a, v) => a * v, 1));
    reference.conv2dInputGradPooledRef(g, indices, w, dx, d, pooled);
    const t = { g: make(gShape, g), indices: make(gShape, indices, 'i32'), w: make(c.w, w), dx: make(c.x) };
    b.conv2dInputGradPooled({ g: t.g, indices: t.indices, w: t.w, dx: t.dx });
    expectClose(await b.read(t.dx), dx, 1e-4, 'dx with skipped indices');
    // A NaN at image 1, filter 2, conv output (3, 4) reaches that image's 5×5 patch at rows 3…7,
    // columns 4…8 in every channel, and nothing else.
    const nanAt = (1 * d.outChannels + 2) * pooled + 5;
    indices[nanAt] = 3 * d.outW + 4;
    g[nanAt] = Number.NaN;
    b.conv2dInputGradPooled({ g: make(gShape, g), indices: make(gShape, indices, 'i32'), w: t.w, dx: t.dx });
    const got = await b.read(t.dx);
    for (let i = 0; i < got.length; i++) {
      const n = Math.floor(i / (d.inChannels * d.inH * d.inW)), y = Math.floor(i / d.inW) % d.inH, x = i % d.inW;
      expect(Number.isNaN(got[i]), `dx[${i}]`).toBe(n === 1 && y >= 3 && y <= 7 && x >= 4 && x <= 8);
    }
    b.conv2dInputGradPooled({ g: make(gShape, new Float32Array(g.length)), indices: t.indices, w: t.w, dx: t.dx });
    expect([...await b.read(t.dx)].every((v) => Object.is(v, 0))).toBe(true);
  });

  run('rejects mismatched shapes with a message naming them', (b, make) => {
    const dx = make([2, 3, 8, 8]), w = make([4, 3, 3, 3]);
    const g = make([2, 5, 3, 3]), indices = make([2, 5, 3, 3], undefined, 'i32');
    const e = thrown(() => b.conv2dInputGradPooled({ g, indices, w, dx }));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/conv2dInputGradPooled: 'g' \[2, 5, 3, 3\] must have dx's batch and w's filters \[2, 4, Hp, Wp\]/);
    const g4 = make([2, 4, 3, 3]), i4f = make([2, 4, 3, 3]);
    expect(thrown(() => b.conv2dInputGradPooled({ g: g4, indices: i4f, w, dx })).message).toMatch(/indices/);
    expect(thrown(() => b.conv2dInputGradPooled({ g: g4, indices: make([2, 4, 3, 3], undefined, 'i32'), w: make([4, 2, 3, 3]), dx })).message)
      .toMatch(/dx has 3 channels but w is \[4, 2, 3, 3\]/);
  });
});

/** The kept weights of w under a random mask of the given density, as the CSR of Wᵀ on the backend. */
function transposedCsr(b: Backend, w: ArrayLike<number>, shape: [number, number, number, number], density: number, seed: number) {
  const r = rng(seed);
  const [o, c, kh, kw] = shape;
  const k = c * kh * kw;
  const mask = Uint8Array.from({ length: w.length }, () => (density >= 1 || (r() + 1) / 2 < density ? 1 : 0));
  const masked = Float64Array.from(w, (v, i) => v * mask[i]!);
  const st = sparse.csrTranspose(sparse.csrFromMask(mask, o, k));
  const wt: CsrMatrix = uploadCsr(b, st);
  const wT = new Float32Array(w.length);
  for (let oi = 0; oi < o; oi++) for (let t = 0; t < k; t++) wT[t * o + oi] = w[oi * k + t]!;
  const values = sparse.csrGatherValues(st, wT);
  b.write(wt.values, values);
  const release = () => releaseCsr(b, wt);
  return { wt, masked, st, values, release };
}

forEachBackend('sparseConv2dInputGradPooled', (run) => {
  run('matches the dense input gradient of the pool\'s scattered dy on the masked weight', async (b, make) => {
    for (const density of [0, 0.05, 0.3, 1]) {
      for (const [k, c] of INPUT_CASES.entries()) {
        const { d, gShape, g, indices } = pooledInputs(c, 60 + k);
        const w = randomArray(c.w.reduce((a, v) => a * v, 1), rng(80 + k));
        const { wt, masked, st, values, release } = transposedCsr(b, w, c.w, density, 90 + k);
        const want = new Float32Array(c.x.reduce((a, v) => a * v, 1));
        reference.conv2dInputGradPooledRef(g, indices, masked, want, d, gShape[2]! * gShape[3]!);
        const viaCsr = new Float64Array(want.length);
        reference.sparseConv2dInputGradPooledRef(g, indices, st.rowPtr, st.colIdx, values, viaCsr, d, gShape[2]! * gShape[3]!);
        expectClose(viaCsr, want, 1e-5, `${c.name} @${density}: reference`);
        const dx = make(c.x, new Float32Array(want.length).fill(3)); // stale values must go
        b.sparseConv2dInputGradPooled({ g: make(gShape, g), indices: make(gShape, indices, 'i32'), wt, kernel: [c.w[2], c.w[3]], dx, stride: c.stride, padding: c.padding });
        expectClose(await b.read(dx), want, 1e-4, `${c.name} @${density}`);
        release();
      }
    }
  });

  run('skips indices outside the conv plane and propagates NaN to its patch\'s kept taps only', async (b, make) => {
    const c = CASES[0]!;
    const { d, gShape, g, indices } = pooledInputs(c, 12);
    const pooled = gShape[2]! * gShape[3]!;
    for (const at of [1, pooled - 1, 2 * pooled + 24]) { indices[at] = at % 2 ? -5 : d.outH * d.outW + at; g[at] = 50; }
    const w = randomArray(c.w.reduce((a, v) => a * v, 1), rng(13));
    const { wt, masked, release } = transposedCsr(b, w, c.w, 0.3, 14);
    const want = new Float32Array(c.x.reduce((a, v) => a * v, 1));
    reference.conv2dInputGradPooledRef(g, indices, masked, want, d, pooled);
    const dx = make(c.x);
    b.sparseConv2dInputGradPooled({ g: make(gShape, g), indices: make(gShape, indices, 'i32'), wt, kernel: [5, 5], dx });
    expectClose(await b.read(dx), want, 1e-4, 'dx with skipped indices');
    // A NaN at image 1, filter 2, conv output (3, 4) reaches the patch positions of filter 2's kept taps.
    const nanAt = (1 * d.outChannels + 2) * pooled + 5;
    indices[nanAt] = 3 * d.outW + 4;
    g[nanAt] = Number.NaN;
    b.sparseConv2dInputGradPooled({ g: make(gShape, g), indices: make(gShape, indices, 'i32'), wt, kernel: [5, 5], dx });
    const got = await b.read(dx);
    const kept = new Set<number>();
    for (let ci = 0; ci < d.inChannels; ci++) {
      for (let ki = 0; ki < 5; ki++) {
        for (let kj = 0; kj < 5; kj++) if (masked[((2 * d.inChannels + ci) * 5 + ki) * 5 + kj] !== 0) kept.add((ci * d.inH + 3 + ki) * d.inW + 4 + kj);
      }
    }
    expect(kept.size).toBeGreaterThan(0);
    const image = d.inChannels * d.inH * d.inW;
    for (let i = 0; i < got.length; i++) expect(Number.isNaN(got[i]), `dx[${i}]`).toBe(i >= image && i < 2 * image && kept.has(i - image));
    release();
  });

  run('rejects mismatched shapes with a message naming them', (b, make) => {
    const st = sparse.csrTranspose(sparse.csrFromMask(new Uint8Array(4 * 27).fill(1), 4, 27));
    const wt = uploadCsr(b, st);
    const dx = make([2, 3, 8, 8]);
    const e = thrown(() => b.sparseConv2dInputGradPooled({ g: make([2, 5, 3, 3]), indices: make([2, 5, 3, 3], undefined, 'i32'), wt, kernel: [3, 3], dx }));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/sparseConv2dInputGradPooled: 'g' \[2, 5, 3, 3\] must have dx's batch and wt's filters \[2, 4, Hp, Wp\]/);
    expect(thrown(() => b.sparseConv2dInputGradPooled({ g: make([2, 4, 3, 3]), indices: make([2, 4, 3, 3]), wt, kernel: [3, 3], dx })).message).toMatch(/indices/);
    releaseCsr(b, wt);
  });
});
