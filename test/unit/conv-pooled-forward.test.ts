// conv2dForwardPooled and sparseConv2dForwardPooled: a convolution, the max-pool behind it and the
// ReLU behind that in one call. By definition they are the passes one after the other, so every
// backend must give exactly what its own conv2dForward (or sparseConv2dForward), maxPool2dForward
// and reluForward give — the same bits, ties and NaN included — and agree with the float64
// reference. The sparse cases cover wasm's fused lowering, the gathered pass pooled straight off
// its grid (blocks of 4 pooled columns and an overlapping last one, rows under 4 wide, padding,
// an odd output height and width the pool drops), and a stride it leaves to the passes in turn;
// the dense ones, the WebGPU shader's windows and strides.
import { describe, expect, it } from 'vitest';
import { type Backend, createBackend, InvalidArgumentError, reference, releaseCsr, sparse, type Tensor, uploadCsr } from '../../src/index.ts';
import { type ConvPoolCase, convPoolGeometry, expectClose, forEachBackend, type Make, randomArray, rng, thrown } from './kernel-harness.ts';

type Case = ConvPoolCase;

const POOL_2X2: { kernel: [number, number]; stride?: [number, number] } = { kernel: [2, 2] };

const DENSE_CASES: Case[] = [
  { name: 'lenet conv1', x: [3, 1, 28, 28], w: [6, 1, 5, 5], padding: [2, 2] },
  // Padding on one axis, 17 rows (the pool drops the last).
  { name: 'odd rows', x: [2, 2, 17, 14], w: [5, 2, 3, 3], padding: [1, 0] },
  // Unpadded, 13×13 outputs (odd both ways), kernel wider than tall.
  { name: 'unpadded, odd plane', x: [2, 2, 15, 16], w: [3, 2, 3, 4] },
  // A stride-2 convolution, and pools other than 2×2 stride 2.
  { name: 'stride 2', x: [2, 3, 11, 9], w: [7, 3, 3, 3], stride: [2, 2], padding: [1, 1] },
  { name: 'overlapping 3×3 pool', x: [2, 1, 28, 28], w: [6, 1, 5, 5], padding: [2, 2], pool: { kernel: [3, 3], stride: [2, 2] } },
  { name: '2×3 pool', x: [2, 2, 12, 14], w: [4, 2, 3, 3], padding: [1, 1], pool: { kernel: [2, 3], stride: [2, 3] } },
];

const SPARSE_CASES: Case[] = [
  // LeNet-5's conv2: pooled rows of 5, a block of 4 and one overlapping it.
  { name: 'lenet conv2', x: [3, 6, 14, 14], w: [16, 6, 5, 5] },
  // Padded, 9×9 outputs (the pool drops a row and a column).
  { name: 'padded, odd plane', x: [2, 2, 9, 9], w: [4, 2, 3, 3], padding: [1, 1] },
  // Pooled rows of 2: the scalar windows.
  { name: 'narrow plane', x: [2, 3, 6, 6], w: [5, 3, 3, 3] },
  // Left to the passes in turn: stride 2.
  { name: 'stride 2', x: [2, 3, 11, 9], w: [7, 3, 3, 3], stride: [2, 2], padding: [1, 1] },
];

function geometry(c: Case) {
  const { conv, pool, convShape, pooledShape } = convPoolGeometry(c);
  return { d: { conv, pool }, convShape, pooledShape, poolArg: c.pool ?? POOL_2X2 };
}

/** The backend's own passes one after the other: what the fused call must equal bit for bit. */
async function inTurn(b: Backend, make: Make, convolve: (y: Tensor) => void, c: Case, relu: boolean) {
  const { convShape, pooledShape, poolArg } = geometry(c);
  const conv = make(convShape), pooled = make(pooledShape), y = make(pooledShape), indices = make(pooledShape, undefined, 'i32');
  convolve(conv);
  b.maxPool2dForward({ x: conv, y: relu ? pooled : y, indices, kernel: poolArg.kernel, stride: poolArg.stride });
  if (relu) b.reluForward({ x: pooled, y });
  return { y: await b.read(y), indices: await b.read(indices) };
}

/** A random image batch with a zero border of the given width: outputs there are the bias alone, ties the pool must break as torch does. */
function imagesWithZeroBorder(c: Case, seed: number, border: number): Float32Array {
  const [n, ch, h, wd] = c.x;
  const x = randomArray(n * ch * h * wd, rng(seed));
  for (let i = 0; i < x.length; i++) {
    const r = Math.floor(i / wd) % h, col = i % wd;
    if (r < border || r >= h - border || col < border || col >= wd - border) x[i] = 0;
  }
  return x;
}

forEachBackend('conv2dForwardPooled', (run) => {
  run('is the convolution, the pool and the ReLU in turn, bit for bit, and the float64 reference', async (b, make) => {
    for (const [k, c] of DENSE_CASES.entries()) {
      const { d, pooledShape, poolArg, convShape } = geometry(c);
      const xs = imagesWithZeroBorder(c, 10 + k, 3);
      const ws = randomArray(c.w.reduce((a, v) => a * v, 1), rng(20 + k));
      const bs = randomArray(c.w[0], rng(30 + k));
      const x = make(c.x, xs), w = make(c.w, ws), bias = make([c.w[0]], bs);
      for (const relu of [false, true]) {
        for (const lend of [false, true]) {
          const what = `${c.name}${relu ? ', ReLU' : ''}${lend ? ', conv lent' : ''}`;
          const y = make(pooledShape, new Float32Array(pooledShape.reduce((a, v) => a * v, 1)).fill(7)); // stale values must go
          const indices = make(pooledShape, undefined, 'i32');
          b.conv2dForwardPooled({ x, w, b: bias, stride: c.stride, padding: c.padding, pool: poolArg, relu, y, indices, conv: lend ? make(convShape) : undefined });
          const want = await inTurn(b, make, (out) => b.conv2dForward({ x, w, b: bias, y: out, stride: c.stride, padding: c.padding }), c, relu);
          const got = { y: await b.read(y), indices: await b.read(indices) };
          expect(Array.from(got.indices), `${what}: indices`).toEqual(Array.from(want.indices));
          expect(Array.from(got.y), `${what}: values`).toEqual(Array.from(want.y));
          const ref = new Float32Array(got.y.length), refIdx = new Int32Array(got.y.length);
          reference.conv2dForwardPooledRef(xs, ws, bs, ref, refIdx, d, relu);
          expectClose(got.y, ref, 1e-4, `${what}: against float64`);
        }
      }
    }
  });

  run('takes a NaN as torch\'s pool and ReLU do, and works without a bias', async (b, make) => {
    const c = DENSE_CASES[0]!;
    const { pooledShape } = geometry(c);
    const xs = randomArray(c.x.reduce((a, v) => a * v, 1), rng(3));
    xs[1 * 784 + 10 * 28 + 13] = Number.NaN; // image 1: reaches a 5×5 patch of every filter's output
    const x = make(c.x, xs), w = make(c.w, randomArray(150, rng(4)));
    for (const relu of [false, true]) {
      const y = make(pooledShape), indices = make(pooledShape, undefined, 'i32');
      b.conv2dForwardPooled({ x, w, padding: c.padding, pool: POOL_2X2, relu, y, indices });
      const want = await inTurn(b, make, (out) => b.conv2dForward({ x, w, y: out, padding: c.padding }), c, relu);
      const got = await b.read(y);
      expect(Array.from(await b.read(indices))).toEqual(Array.from(want.indices));
      expect(Array.from(got)).toEqual(Array.from(want.y));
      const nans = Array.from(got).filter((v) => Number.isNaN(v)).length;
      expect(nans, `relu ${relu}`).toBeGreaterThan(0); // the ReLU keeps them, as torch.relu does
      expect(nans).toBeLessThanOrEqual(6 * 9); // at most 3×3 pooled outputs per filter, image 1 only
    }
  });

  run('rejects bad arguments with messages that name them', (b, make) => {
    const x = make([2, 1, 8, 8]), w = make([3, 1, 3, 3]);
    const y = make([2, 3, 3, 3]), indices = make([2, 3, 3, 3], undefined, 'i32');
    const call = (over: Record<string, unknown>) => thrown(() => b.conv2dForwardPooled({ x, w, pool: POOL_2X2, y, indices, ...over } as never));
    b.conv2dForwardPooled({ x, w, pool: POOL_2X2, y, indices }); // the valid call
    let e = call({ y: make([2, 3, 6, 6]) });
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/conv2dForwardPooled: 'y'.*\[2, 3, 3, 3\]/);
    e = call({ indices: make([2, 3, 3, 3]) });
    expect(e.message).toMatch(/conv2dForwardPooled: 'indices'.*i32/);
    expect(call({ pool: undefined }).message).toMatch(/conv2dForwardPooled: 'pool' must be \{ kernel/);
    expect(call({ pool: { kernel: [0, 2] } }).message).toMatch(/conv2dForwardPooled pool: 'kernel' must be \[height, width\]/);
    expect(call({ relu: 'yes' }).message).toMatch(/conv2dForwardPooled: 'relu' must be true or false/);
    expect(call({ conv: make([2, 3, 3, 3]) }).message).toMatch(/conv2dForwardPooled: 'conv'.*\[2, 3, 6, 6\]/);
    // A 1×1 convolution's output has its input's shape: lending x itself as room is refused.
    const x2 = make([2, 3, 6, 6]);
    expect(call({ x: x2, w: make([3, 3, 1, 1]), conv: x2 }).message).toMatch(/conv2dForwardPooled: 'x' and 'conv' must be different tensors/);
  });
});

/** The kept weights of w under a random mask of the given density, as the CSR of W on the backend. */
function keptCsr(b: Backend, w: Float32Array, shape: [number, number, number, number], density: number, seed: number) {
  const r = rng(seed);
  const [o, c, kh, kw] = shape;
  const mask = Uint8Array.from({ length: w.length }, () => (density >= 1 || (r() + 1) / 2 < density ? 1 : 0));
  const s = sparse.csrFromMask(mask, o, c * kh * kw);
  const values = sparse.csrGatherValues(s, w);
  const csr = uploadCsr(b, s);
  b.write(csr.values, values);
  return { csr, s, values, masked: Float32Array.from(w, (v, i) => v * mask[i]!), release: () => releaseCsr(b, csr) };
}

forEachBackend('sparseConv2dForwardPooled', (run) => {
  run('is the sparse convolution, the pool and the ReLU in turn, bit for bit, and the float64 reference', async (b, make) => {
    for (const [k, c] of SPARSE_CASES.entries()) {
      const { d, pooledShape, poolArg } = geometry(c);
      const xs = imagesWithZeroBorder(c, 40 + k, 1);
      const x = make(c.x, xs), bias = make([c.w[0]], randomArray(c.w[0], rng(50 + k)));
      const ws = randomArray(c.w.reduce((a, v) => a * v, 1), rng(60 + k));
      // Density 0: every output is its bias, so every window ties and the first position wins.
      for (const density of [0, 0.12, 1]) {
        const { csr, s, values, release } = keptCsr(b, ws, c.w, density, 70 + k);
        const kernel: [number, number] = [c.w[2], c.w[3]];
        for (const relu of [false, true]) {
          const what = `${c.name} @${density}${relu ? ', ReLU' : ''}`;
          const y = make(pooledShape), indices = make(pooledShape, new Int32Array(pooledShape.reduce((a, v) => a * v, 1)).fill(-3), 'i32');
          b.sparseConv2dForwardPooled({ x, w: csr, kernel, b: bias, stride: c.stride, padding: c.padding, pool: poolArg, relu, y, indices });
          const want = await inTurn(b, make, (out) => b.sparseConv2dForward({ x, w: csr, kernel, b: bias, y: out, stride: c.stride, padding: c.padding }), c, relu);
          const got = { y: await b.read(y), indices: await b.read(indices) };
          expect(Array.from(got.indices), `${what}: indices`).toEqual(Array.from(want.indices));
          expect(Array.from(got.y), `${what}: values`).toEqual(Array.from(want.y));
          const ref = new Float32Array(got.y.length), refIdx = new Int32Array(got.y.length);
          reference.sparseConv2dForwardPooledRef(xs, s.rowPtr, s.colIdx, values, Float32Array.from(await b.read(bias)), ref, refIdx, d, relu);
          expectClose(got.y, ref, 1e-4, `${what}: against float64`);
          if (density === 0) {
            const { conv } = d;
            const first = Array.from(got.indices).every((v, i) => {
              const p = i % (d.pool.outH * d.pool.outW);
              return v === Math.floor(p / d.pool.outW) * d.pool.strideH * conv.outW + (p % d.pool.outW) * d.pool.strideW;
            });
            expect(first, `${what}: ties go to the window's first position`).toBe(true);
          }
        }
        release();
      }
    }
  });

  run('keeps a NaN through the pool and the ReLU (wasm: the pool read off the sparse grid)', async (b, make) => {
    const c = SPARSE_CASES[0]!;
    const { pooledShape } = geometry(c);
    const xs = randomArray(c.x.reduce((a, v) => a * v, 1), rng(8));
    xs[2 * 6 * 196 + 3 * 196 + 7 * 14 + 6] = Number.NaN; // image 2, channel 3, row 7, column 6
    const x = make(c.x, xs);
    const { csr, release } = keptCsr(b, randomArray(2400, rng(9)), c.w, 0.3, 10);
    for (const relu of [false, true]) {
      const y = make(pooledShape), indices = make(pooledShape, undefined, 'i32');
      b.sparseConv2dForwardPooled({ x, w: csr, kernel: [5, 5], pool: POOL_2X2, relu, y, indices });
      const want = await inTurn(b, make, (out) => b.sparseConv2dForward({ x, w: csr, kernel: [5, 5], y: out }), c, relu);
      const got = await b.read(y);
      expect(Array.from(await b.read(indices))).toEqual(Array.from(want.indices));
      expect(Array.from(got)).toEqual(Array.from(want.y));
      expect(Array.from(got).filter((v) => Number.isNaN(v)).length, `relu ${relu}`).toBeGreaterThan(0);
    }
    release();
  });

  run('rejects bad arguments with messages that name them', (b, make) => {
    const { csr, release } = keptCsr(b, randomArray(27, rng(1)), [3, 1, 3, 3], 0.5, 2);
    const x = make([2, 1, 8, 8]), y = make([2, 3, 3, 3]), indices = make([2, 3, 3, 3], undefined, 'i32');
    const e = thrown(() => b.sparseConv2dForwardPooled({ x, w: csr, kernel: [3, 3], pool: POOL_2X2, y: make([2, 3, 4, 4]), indices }));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/sparseConv2dForwardPooled: 'y'.*\[2, 3, 3, 3\]/);
    expect(thrown(() => b.sparseConv2dForwardPooled({ x, w: csr, kernel: [3, 2], pool: POOL_2X2, y, indices })).message)
      .toMatch(/sparseConv2dForwardPooled/);
    release();
  });
});

// wasm fuses a pruned LeNet-5 conv2 with its pool and never copies the convolution out: a lent
// `conv` keeps what it held. Dense convolutions (and strides it leaves to the passes in turn)
// write the convolution there.
describe('wasm: which geometries run fused', () => {
  it('leaves a lent conv as it was for a pruned LeNet-5 conv2, and uses it for conv1 and a stride-2 convolution', async () => {
    const b = await createBackend('wasm', { threads: 1 });
    try {
      const sentinel = (shape: number[]) => b.tensor('f32', shape, new Float32Array(shape.reduce((a, v) => a * v, 1)).fill(-123));
      const untouched = async (t: Tensor) => (await b.read(t)).every((v) => v === -123);
      {
        for (const c of [DENSE_CASES[0]!, DENSE_CASES[3]!]) {
          const { convShape, pooledShape } = geometry(c);
          const conv = sentinel(convShape);
          b.conv2dForwardPooled({
            x: b.tensor('f32', c.x, randomArray(c.x.reduce((a, v) => a * v, 1), rng(1))), w: b.tensor('f32', c.w, randomArray(c.w.reduce((a, v) => a * v, 1), rng(2))),
            stride: c.stride, padding: c.padding, pool: POOL_2X2, y: b.tensor('f32', pooledShape), indices: b.tensor('i32', pooledShape), conv,
          });
          expect(await untouched(conv), c.name).toBe(false);
        }
      }
      const c = SPARSE_CASES[0]!;
      const { convShape, pooledShape } = geometry(c);
      const { csr } = keptCsr(b, randomArray(2400, rng(3)), c.w, 0.12, 4);
      const conv = sentinel(convShape);
      b.sparseConv2dForwardPooled({
        x: b.tensor('f32', c.x, randomArray(c.x.reduce((a, v) => a * v, 1), rng(5))), w: csr, kernel: [5, 5],
        pool: POOL_2X2, relu: true, y: b.tensor('f32', pooledShape), indices: b.tensor('i32', pooledShape), conv,
      });
      expect(await untouched(conv)).toBe(true);
      const strided = SPARSE_CASES[3]!;
      const g = geometry(strided);
      const lent = sentinel(g.convShape);
      b.sparseConv2dForwardPooled({
        x: b.tensor('f32', strided.x, randomArray(strided.x.reduce((a, v) => a * v, 1), rng(6))), w: keptCsr(b, randomArray(189, rng(7)), strided.w, 0.5, 8).csr,
        kernel: [3, 3], stride: strided.stride, padding: strided.padding, pool: POOL_2X2, y: b.tensor('f32', g.pooledShape), indices: b.tensor('i32', g.pooledShape), conv: lent,
      });
      expect(await untouched(lent)).toBe(false);
    } finally {
      b.dispose();
    }
  });
});
