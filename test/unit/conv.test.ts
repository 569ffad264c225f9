// conv2d: the reference is checked against hand-worked values, an independent padded-input
// implementation and the adjoint identities that tie the gradients to the forward pass; then every
// backend is checked against the reference on geometries chosen to hit the awkward paths (1×1 with
// and without im2col, strides larger than the kernel, padding wider than the kernel, empty batch,
// sizes off the SIMD widths), and on its argument errors.
import { describe, expect, it } from 'vitest';
import { Backend, FeddipError, InvalidArgumentError, reference } from '../../src/index.ts';
import type { Conv2dDims, Tensor } from '../../src/index.ts';
import { forEachBackend, rng } from './kernel-harness.ts';

const random64 = (n: number, r: () => number) => Float64Array.from({ length: n }, r);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 2e-5) {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const bound = tol * (1 + Math.abs(expected[i]!));
    if (!(Math.abs(actual[i]! - expected[i]!) <= bound)) {
      throw new Error(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

type Geometry = [n: number, c: number, h: number, w: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number];

function dimsOf([n, c, h, w, o, kh, kw, sh, sw, ph, pw]: Geometry): Conv2dDims {
  return {
    batch: n, inChannels: c, inH: h, inW: w, outChannels: o, kernelH: kh, kernelW: kw,
    strideH: sh, strideW: sw, padH: ph, padW: pw,
    outH: Math.floor((h + 2 * ph - kh) / sh) + 1, outW: Math.floor((w + 2 * pw - kw) / sw) + 1,
  };
}

const GEOMETRIES: Geometry[] = [
  [1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0],
  [2, 3, 7, 9, 5, 3, 2, 2, 1, 1, 0], // non-square kernel, unequal strides
  [3, 2, 6, 5, 7, 1, 1, 1, 1, 0, 0], // pointwise: x is the im2col matrix as it stands
  [2, 5, 9, 7, 3, 1, 1, 2, 3, 0, 1], // 1×1 that still needs im2col (stride, padding)
  [1, 3, 4, 4, 2, 5, 5, 1, 1, 2, 2], // kernel larger than the image
  [2, 2, 5, 6, 3, 2, 3, 3, 2, 3, 4], // padding wider than the kernel: some taps see only zeros
  [1, 4, 11, 13, 9, 3, 3, 1, 1, 1, 1], // 9 outputs × 143 positions: every GEMM tail
  [2, 1, 3, 3, 2, 3, 3, 4, 4, 1, 1], // stride past the image: one output, most of dx is zero
  [2, 3, 8, 8, 4, 2, 2, 3, 3, 0, 0], // stride larger than the kernel: skipped pixels get dx = 0
  [0, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1], // empty batch: dW and db are zeros, not left as they were
  // Stride 1 takes the implicit lowering on wasm (outputs on a padded-width grid, no im2col; see
  // assembly/conv.ts) when the grid wastes little: these pin its padding and window arithmetic.
  [3, 1, 10, 10, 6, 5, 5, 1, 1, 2, 2], // LeNet conv1's geometry, shrunk: padded copy of each image
  [2, 3, 9, 8, 5, 4, 3, 1, 1, 0, 0], // unpadded, non-square kernel, outputs off the SIMD widths
  [2, 2, 6, 9, 7, 3, 4, 1, 1, 2, 1], // unequal padding on the two axes
  [2, 3, 5, 7, 4, 1, 1, 1, 1, 1, 1], // a padded 1×1: the grid is exactly the output, nothing wasted
  [2, 2, 7, 8, 12, 3, 3, 1, 1, 1, 1], // 12 filters: dW by filters, 8-wide blocks, a 4-wide rest, 18 taps
  // Of those, the forward pass runs direct (assembly/conv-direct.ts: blocks of 3 filters × 12 or 4
  // columns) when the blocks waste little; the 10-wide LeNet shape above ends each row with 4
  // columns that overlap the block before. Here: blocks of 12, 4 and an overlapping 4; 5 filters (the
  // sixth's stores go to a scratch plane) with padding on one axis only; an unpadded image read in
  // place, kernel wider than tall.
  [2, 1, 30, 30, 6, 5, 5, 1, 1, 2, 2],
  [2, 2, 17, 14, 5, 3, 3, 1, 1, 1, 0],
  [2, 2, 15, 16, 3, 3, 4, 1, 1, 0, 0],
  // Small stride-1 layers with 4+ input channels run on lanes (four images per vector; see
  // assembly/conv-lanes.ts), forward and input gradient: a full group and a partial one, outputs
  // in blocks of 4, 2 (four positions at a time) and 1, odd widths, and padding at least the
  // kernel (rows and columns no tap reaches).
  [6, 6, 9, 10, 16, 5, 5, 1, 1, 0, 0], // LeNet conv2's geometry, shrunk
  [5, 4, 7, 9, 6, 3, 2, 1, 1, 2, 1], // 6 outputs = 4 + 2, unequal padding
  [7, 5, 6, 7, 9, 3, 3, 1, 1, 3, 3], // 9 outputs = 4 + 4 + 1, odd output width, zero border
  // …and the weight gradient on lanes once output rows are 16+ wide: 5 filters (2 + 2 + 1), 27
  // taps (6 blocks of 4, then 3 one at a time), a full group and a partial one.
  [5, 3, 17, 19, 5, 3, 3, 1, 1, 1, 2],
  // The im2col lowering takes images in chunks whose columns sit side by side (64 images of a 2×2
  // plane here: a full chunk and a rest of 6), and its products go through packed copies: depths
  // past one packed block (270 taps forward, 260 filters for dx) and planes of 256+ positions.
  [70, 3, 4, 4, 9, 3, 3, 2, 2, 1, 1],
  [2, 2, 33, 33, 8, 3, 3, 2, 2, 1, 1],
  [3, 30, 4, 4, 260, 3, 3, 1, 1, 1, 1],
  // 3×3, stride 1, padding 1 with 32+ channels runs Winograd F(2×2, 3×3) on wasm (assembly/winograd.ts):
  // whole groups of four tiles; odd planes (a partial tile at the right and bottom edge, a group of
  // four tiles and a rest of one) with channel and filter counts off the SIMD width; 2×3 planes
  // (one partial group); chunks of images (96 tiles per image: chunks of 3 and a rest of 2).
  [2, 32, 8, 8, 32, 3, 3, 1, 1, 1, 1],
  [3, 33, 7, 9, 34, 3, 3, 1, 1, 1, 1],
  [4, 35, 3, 2, 37, 3, 3, 1, 1, 1, 1],
  [5, 32, 16, 24, 36, 3, 3, 1, 1, 1, 1],
  // 64+ channels on both sides: the forward pass and dx run F(4×4, 3×3) (assembly/winograd4.ts):
  // 2×2 tiles (a partial group), 4×5 tiles with a partial tile at the bottom and the right and a
  // group of four plus one, a single 4×4 tile per image, and 5×9 tiles (two groups and one).
  [2, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1],
  [3, 65, 13, 18, 66, 3, 3, 1, 1, 1, 1],
  [1, 64, 4, 4, 68, 3, 3, 1, 1, 1, 1],
  [2, 64, 17, 33, 64, 3, 3, 1, 1, 1, 1],
  // 3×3, stride 2, padding 1 with 32+ channels runs on the polyphase split (assembly/winograd-s2.ts):
  // 2×2 tiles of 2×2 outputs (one partial group); odd sizes (13 × 18: 4 × 5 tiles, a group of four
  // and one, a bottom tile with one output row, dx blocks cut at both edges); a 1×1 image; 40
  // tiles per image (chunks of 7 images and a rest of 2).
  [2, 32, 8, 8, 32, 3, 3, 2, 2, 1, 1],
  [3, 33, 13, 18, 35, 3, 3, 2, 2, 1, 1],
  [2, 34, 1, 1, 32, 3, 3, 2, 2, 1, 1],
  [9, 32, 32, 20, 33, 3, 3, 2, 2, 1, 1],
];

/**
 * Tolerances of wasm's Winograd convolutions (3×3, stride 1 or 2, padding 1, 32+ channels on both
 * sides), whose transforms reassociate the sums. Measured against the float64 reference on these
 * geometries and ResNet-18's (stride 2's transforms only add, like F(2×2, 3×3)'s):
 * - The weight gradient (F(2×2, 3×3)) sums transformed tiles, each a sum of up to 4 pixels times a
 *   sum of up to 4 gradients: its largest error is 1e-6–1e-5 of the gradient's RMS (the direct
 *   sum's: about 1e-6), which the default bound, relative to each element, misses near zero.
 * - With 64+ channels all three run F(4×4, 3×3), whose transforms hold sixths, twenty-fourths and
 *   factors up to 8: largest errors 1.5e-5–1e-4 of the RMS (y and dx), 1e-5–6e-5 (dW); 1.4e-4 of
 *   (1 + |element|) on these geometries, up to 1e-3 on ResNet-18's 512-channel layer: comparable to
 *   TF32 (float32 with a 10-bit mantissa), which PyTorch allows cuDNN's convolutions by default.
 */
function tolerances([, c, , , o, kh, kw, sh, sw, ph, pw]: Geometry): { out: number; dw: number } {
  const winograd = kh === 3 && kw === 3 && sh === sw && (sh === 1 || sh === 2) && ph === 1 && pw === 1 && c >= 32 && o >= 32;
  const f4 = winograd && sh === 1 && c >= 64 && o >= 64;
  return { out: f4 ? 5e-4 : 2e-5, dw: f4 ? 5e-4 : winograd ? 1e-4 : 2e-5 };
}

/** An independent forward: materialise the zero-padded input, then slide without bounds tests. */
function convByPadding(x: Float64Array, w: Float64Array, b: Float64Array | undefined, d: Conv2dDims): Float64Array {
  const { batch: N, inChannels: C, inH: H, inW: W, outChannels: O, kernelH: KH, kernelW: KW, outH: Ho, outW: Wo } = d;
  const Hp = H + 2 * d.padH;
  const Wp = W + 2 * d.padW;
  const padded = new Float64Array(N * C * Hp * Wp);
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) padded[(nc * Hp + i + d.padH) * Wp + j + d.padW] = x[(nc * H + i) * W + j]!;
    }
  }
  const y = new Float64Array(N * O * Ho * Wo);
  let at = 0;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          let s = b ? b[o]! : 0;
          for (let c = 0; c < C; c++) {
            for (let ki = 0; ki < KH; ki++) {
              for (let kj = 0; kj < KW; kj++) {
                s += padded[((n * C + c) * Hp + i * d.strideH + ki) * Wp + j * d.strideW + kj]! * w[((o * C + c) * KH + ki) * KW + kj]!;
              }
            }
          }
          y[at++] = s;
        }
      }
    }
  }
  return y;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

interface Case {
  d: Conv2dDims;
  x: Float64Array; w: Float64Array; b: Float64Array; dy: Float64Array;
  y: Float64Array; yNoBias: Float64Array; dx: Float64Array; dw: Float64Array; db: Float64Array;
}

function makeCase(g: Geometry, r: () => number): Case {
  const d = dimsOf(g);
  const xSize = d.batch * d.inChannels * d.inH * d.inW;
  const wSize = d.outChannels * d.inChannels * d.kernelH * d.kernelW;
  const ySize = d.batch * d.outChannels * d.outH * d.outW;
  const c: Case = {
    d, x: random64(xSize, r), w: random64(wSize, r), b: random64(d.outChannels, r), dy: random64(ySize, r),
    y: new Float64Array(ySize), yNoBias: new Float64Array(ySize),
    dx: new Float64Array(xSize), dw: new Float64Array(wSize), db: new Float64Array(d.outChannels),
  };
  reference.conv2dForwardRef(c.x, c.w, c.b, c.y, d);
  reference.conv2dForwardRef(c.x, c.w, undefined, c.yNoBias, d);
  reference.conv2dBackwardRef(c.x, c.w, c.dy, c.dx, c.dw, c.db, d);
  return c;
}

describe('conv2d reference', () => {
  it('matches values worked out by hand', () => {
    // w picks x[i, j] − x[i+1, j+1]; on x = 1…9 (3×3) that is −4 at every position.
    const d = dimsOf([1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0]);
    const x = Float64Array.from({ length: 9 }, (_, i) => i + 1);
    const y = new Float64Array(4);
    reference.conv2dForwardRef(x, Float64Array.of(1, 0, 0, -1), Float64Array.of(0.5), y, d);
    expect([...y]).toEqual([-3.5, -3.5, -3.5, -3.5]);
    // 3×3 ones, stride 2, padding 1 on the same x: each output sums the pixels its window covers.
    const d2 = dimsOf([1, 1, 3, 3, 1, 3, 3, 2, 2, 1, 1]);
    const y2 = new Float64Array(4);
    reference.conv2dForwardRef(x, new Float64Array(9).fill(1), undefined, y2, d2);
    expect([...y2]).toEqual([1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9]);
    // Its input gradient for dy = 1 counts how many windows cover each pixel.
    const dx = new Float64Array(9);
    const dw = new Float64Array(9);
    const db = new Float64Array(1);
    reference.conv2dBackwardRef(x, new Float64Array(9).fill(1), new Float64Array(4).fill(1), dx, dw, db, d2);
    expect([...dx]).toEqual([1, 2, 1, 2, 4, 2, 1, 2, 1]);
    expect([...db]).toEqual([4]);
    // dW[ki, kj] sums the pixels tap (ki, kj) sees over the four windows: rows 1 | 0, 2 | 1.
    expect([...dw]).toEqual([5, 4 + 6, 5, 2 + 8, 1 + 3 + 7 + 9, 2 + 8, 5, 4 + 6, 5]);
  });

  it('agrees with a padded-input implementation, and its gradients are the adjoints of the forward pass', () => {
    const r = rng(11);
    for (const g of GEOMETRIES) {
      const c = makeCase(g, r);
      expectClose(c.y, convByPadding(c.x, c.w, c.b, c.d), `y ${g}`, 1e-12);
      // conv is linear in x and in w, so ⟨conv(x, w), dy⟩ = ⟨x, dx⟩ = ⟨w, dW⟩, and the bias adds ⟨b, db⟩.
      const energy = dot(c.yNoBias, c.dy);
      const scale = 1 + Math.abs(energy);
      expect(Math.abs(dot(c.x, c.dx) - energy) / scale, `dx ${g}`).toBeLessThan(1e-12);
      expect(Math.abs(dot(c.w, c.dw) - energy) / scale, `dW ${g}`).toBeLessThan(1e-12);
      expect(Math.abs(dot(c.y, c.dy) - energy - dot(c.b, c.db)) / scale, `db ${g}`).toBeLessThan(1e-12);
    }
  });
});

forEachBackend('conv2d', (run, name) => {
  /** Uploads a case; outputs start out as garbage so that "overwrites" is tested too. */
  const upload = (b: Backend, c: Case, r: () => number) => {
    const { d } = c;
    const garbage = (n: number) => Float32Array.from({ length: n }, () => 7 + r());
    return {
      x: b.tensor('f32', [d.batch, d.inChannels, d.inH, d.inW], Float32Array.from(c.x)),
      w: b.tensor('f32', [d.outChannels, d.inChannels, d.kernelH, d.kernelW], Float32Array.from(c.w)),
      b: b.tensor('f32', [d.outChannels], Float32Array.from(c.b)),
      dy: b.tensor('f32', [d.batch, d.outChannels, d.outH, d.outW], Float32Array.from(c.dy)),
      y: b.tensor('f32', [d.batch, d.outChannels, d.outH, d.outW], garbage(c.y.length)),
      dx: b.tensor('f32', [d.batch, d.inChannels, d.inH, d.inW], garbage(c.dx.length)),
      dw: b.tensor('f32', [d.outChannels, d.inChannels, d.kernelH, d.kernelW], garbage(c.dw.length)),
      db: b.tensor('f32', [d.outChannels], garbage(c.db.length)),
    };
  };
  const releaseAll = (b: Backend, ts: Record<string, Tensor>) => { for (const t of Object.values(ts)) b.release(t); };
  const geometryOf = (d: Conv2dDims) => ({ stride: [d.strideH, d.strideW] as [number, number], padding: [d.padH, d.padW] as [number, number] });

  run('forward and backward match the reference on awkward geometries', async (b) => {
    const r = rng(5);
    for (const g of GEOMETRIES) {
      const c = makeCase(g, r);
      const t = upload(b, c, r);
      const geo = geometryOf(c.d);
      b.conv2dForward({ x: t.x, w: t.w, b: t.b, y: t.y, ...geo });
      b.conv2dBackward({ x: t.x, w: t.w, dy: t.dy, dx: t.dx, dw: t.dw, db: t.db, ...geo });
      const tol = tolerances(g);
      expectClose(await b.read(t.y), c.y, `y ${g}`, tol.out);
      expectClose(await b.read(t.dx), c.dx, `dx ${g}`, tol.out);
      expectClose(await b.read(t.dw), c.dw, `dW ${g}`, tol.dw);
      expectClose(await b.read(t.db), c.db, `db ${g}`);
      b.conv2dForward({ x: t.x, w: t.w, y: t.y, ...geo });
      expectClose(await b.read(t.y), c.yNoBias, `y without bias ${g}`, tol.out);
      releaseAll(b, t);
    }
  });

  run('computes each gradient alone and leaves the others untouched', async (b) => {
    const r = rng(9);
    for (const g of [GEOMETRIES[1]!, GEOMETRIES[2]!, GEOMETRIES[5]!]) {
      const c = makeCase(g, r);
      const t = upload(b, c, r);
      const geo = geometryOf(c.d);
      const before = { dx: await b.read(t.dx), dw: await b.read(t.dw), db: await b.read(t.db) };
      b.conv2dBackward({ x: t.x, w: t.w, dy: t.dy, db: t.db, ...geo });
      expectClose(await b.read(t.db), c.db, `db alone ${g}`);
      expect(await b.read(t.dx)).toEqual(before.dx);
      expect(await b.read(t.dw)).toEqual(before.dw);
      b.conv2dBackward({ x: t.x, w: t.w, dy: t.dy, dx: t.dx, ...geo });
      expectClose(await b.read(t.dx), c.dx, `dx alone ${g}`);
      expect(await b.read(t.dw)).toEqual(before.dw);
      b.conv2dBackward({ x: t.x, w: t.w, dy: t.dy, dw: t.dw, ...geo });
      expectClose(await b.read(t.dw), c.dw, `dW alone ${g}`);
      // Defaults are stride 1, no padding.
      if (c.d.strideH === 1 && c.d.strideW === 1 && c.d.padH === 0 && c.d.padW === 0) {
        b.conv2dForward({ x: t.x, w: t.w, b: t.b, y: t.y });
        expectClose(await b.read(t.y), c.y, `y with default geometry ${g}`);
      }
      releaseAll(b, t);
    }
  });

  // Only the wasm backend keeps an im2col workspace.
  if (name === 'wasm') run('keeps its im2col workspace bounded across calls of different sizes', async (b) => {
    expect(typeof (b as Partial<{ memoryStats: unknown }>).memoryStats).toBe('function');
    const stats = () => (b as Backend & { memoryStats(): { reserved: number; inUse: number } }).memoryStats();
    const r = rng(13);
    const big = makeCase([2, 4, 12, 12, 3, 3, 3, 1, 1, 1, 1], r);
    const small = makeCase([1, 2, 5, 5, 2, 3, 3, 1, 1, 0, 0], r);
    const tb = upload(b, big, r);
    const ts = upload(b, small, r);
    const pass = (t: ReturnType<typeof upload>, c: Case) => {
      const geo = geometryOf(c.d);
      b.conv2dForward({ x: t.x, w: t.w, b: t.b, y: t.y, ...geo });
      b.conv2dBackward({ x: t.x, w: t.w, dy: t.dy, dx: t.dx, dw: t.dw, db: t.db, ...geo });
    };
    pass(tb, big);
    const settled = stats();
    for (let i = 0; i < 3; i++) { pass(ts, small); pass(tb, big); }
    expect(stats()).toEqual(settled);
    // The workspace shared by the calls still gives right answers after being reused.
    expectClose(await b.read(ts.dx), small.dx, 'dx after reuse');
    expectClose(await b.read(tb.dw), big.dw, 'dW after reuse');
    releaseAll(b, tb);
    releaseAll(b, ts);
  });

  // Winograd runs a batch that fits one chunk of images kernel block by kernel block (each block's
  // transformed kernels used while they are in cache, over input tiles packed once) when there are
  // more kernels than one block, and a larger batch chunk by chunk over all kernels transformed up
  // front. An image's outputs are the same sums either way: the first image alone must give the
  // bits it gets inside a batch of several chunks. F(2×2, 3×3) with 400 filters (64 tiles per image,
  // chunks of 4; blocks of 256 filters forward); F(4×4, 3×3) and stride 2 on 8×8 (4 tiles, chunks
  // of 32; blocks of 56 and 80 filters forward, 52 and 40 input channels for dx).
  if (name === 'wasm') run('Winograd gives an image the same bits in a one-chunk batch (kernels by blocks) as in a chunked one', async (b) => {
    const r = rng(17);
    for (const [n, c, h, w, o, stride] of [[5, 32, 16, 16, 400, 1], [33, 64, 8, 8, 68, 1], [33, 64, 8, 8, 128, 2]] as const) {
      const ho = Math.ceil(h / stride), wo = Math.ceil(w / stride);
      const geo = { stride: [stride, stride] as [number, number], padding: [1, 1] as [number, number] };
      const xs = Float32Array.from({ length: n * c * h * w }, r), dys = Float32Array.from({ length: n * o * ho * wo }, r);
      const wt = b.tensor('f32', [o, c, 3, 3], Float32Array.from({ length: o * c * 9 }, r));
      const bias = b.tensor('f32', [o], Float32Array.from({ length: o }, r));
      const outputs = async (images: number) => {
        const x = b.tensor('f32', [images, c, h, w], xs.subarray(0, images * c * h * w));
        const dy = b.tensor('f32', [images, o, ho, wo], dys.subarray(0, images * o * ho * wo));
        const y = b.tensor('f32', [images, o, ho, wo]), dx = b.tensor('f32', [images, c, h, w]);
        b.conv2dForward({ x, w: wt, b: bias, y, ...geo });
        b.conv2dBackward({ x, w: wt, dy, dx, ...geo });
        const out = { y: (await b.read(y)).slice(0, o * ho * wo), dx: (await b.read(dx)).slice(0, c * h * w) };
        for (const t of [x, dy, y, dx]) b.release(t);
        return out;
      };
      const alone = await outputs(1), inBatch = await outputs(n);
      expect(alone.y, `y, ${c} → ${o}, stride ${stride}`).toEqual(inBatch.y);
      expect(alone.dx, `dx, ${c} → ${o}, stride ${stride}`).toEqual(inBatch.dx);
      b.release(wt);
      b.release(bias);
    }
  });

  run('rejects bad geometry, shapes, dtypes and aliasing with typed errors', async (b) => {
    const err = (fn: () => unknown) => { try { fn(); } catch (e) { return e as FeddipError; } throw new Error('did not throw'); };
    const x = b.tensor('f32', [4, 3, 8, 8]);
    const w = b.tensor('f32', [6, 3, 3, 3]);
    const y = b.tensor('f32', [4, 6, 6, 6]);
    const bias = b.tensor('f32', [6]);
    const wrongY = b.tensor('f32', [4, 6, 8, 8]);
    const shape = err(() => b.conv2dForward({ x, w, y: wrongY }));
    expect(shape).toBeInstanceOf(InvalidArgumentError);
    expect(shape.code).toBe('SHAPE_MISMATCH');
    expect(shape.message).toBe("conv2dForward: 'y' must have shape [4, 6, 6, 6], got [4, 6, 8, 8]");
    // The same y is right once padding 1 keeps the size.
    b.conv2dForward({ x, w, y: wrongY, padding: [1, 1] });
    for (const stride of [[0, 1], [1, -2], [1.5, 1], [1], [1, 1, 1], 2, [Number.NaN, 1]]) {
      const e = err(() => b.conv2dForward({ x, w, y, stride: stride as [number, number] }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/^conv2dForward: 'stride' must be a pair of positive integers \[strideH, strideW\], got /);
    }
    expect(err(() => b.conv2dBackward({ x, w, dy: y, padding: [-1, 0] })).message)
      .toMatch(/^conv2dBackward: 'padding' must be a pair of non-negative integers/);
    const w4 = b.tensor('f32', [6, 4, 3, 3]);
    expect(err(() => b.conv2dForward({ x, w: w4, y })).message)
      .toBe('conv2dForward: x has 3 channels but w is [6, 4, 3, 3] (expects [out, 3, kh, kw])');
    const wBig = b.tensor('f32', [6, 3, 11, 3]);
    expect(err(() => b.conv2dForward({ x, w: wBig, y, padding: [1, 1] })).message)
      .toBe('conv2dForward: a 11×3 kernel does not fit the 8×8 input padded by [1, 1]');
    const flat = b.tensor('f32', [4, 3, 64]);
    expect(err(() => b.conv2dForward({ x: flat, w, y })).message).toMatch(/'x' must have rank 4, got shape \[4, 3, 64\]/);
    expect(err(() => b.conv2dForward({ x, w, b: y, y })).message).toMatch(/'b' must have shape \[6\]/);
    const dwWrong = b.tensor('f32', [6, 3, 3, 2]);
    expect(err(() => b.conv2dBackward({ x, w, dy: y, dw: dwWrong })).message)
      .toBe("conv2dBackward: 'dw' must have shape [6, 3, 3, 3], got [6, 3, 3, 2]");
    expect(err(() => b.conv2dBackward({ x, w, dy: wrongY, dx: x })).message).toMatch(/'dy' must have shape \[4, 6, 6, 6\]/);
    const xi = b.tensor('i32', [4, 3, 8, 8]);
    expect(err(() => b.conv2dForward({ x: xi, w, y })).message).toBe("conv2dForward: 'x' must be f32, got i32");
    // A 'same' conv with C = O gives x, y, dx, dy one shape: aliasing must still be refused.
    const wSame = b.tensor('f32', [3, 3, 3, 3]);
    const same = b.tensor('f32', [4, 3, 8, 8]);
    expect(err(() => b.conv2dBackward({ x, w: wSame, dy: same, dx: same, padding: [1, 1] })).message)
      .toBe("conv2dBackward: 'dy' and 'dx' must be different tensors");
    expect(err(() => b.conv2dForward({ x, w: wSame, y: x, padding: [1, 1] })).message).toMatch(/'x' and 'y' must be different/);
    b.release(bias);
    expect(err(() => b.conv2dForward({ x, w, b: bias, y })).code).toBe('TENSOR_RELEASED');
    for (const t of [x, w, y, wrongY, w4, wBig, flat, dwWrong, xi, wSame, same]) b.release(t);
  });
});
