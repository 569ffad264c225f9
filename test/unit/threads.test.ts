// The threaded wasm backend: every split kernel gives bit-identical results to one thread (each
// output element is computed by one thread, along the serial kernel's path), whole training steps
// too; the workers demonstrably do their share; and the backend says how many threads it runs and
// why. Kernel workers run dist/kernel-worker.js, so these tests need `npm run build:js` first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Backend, createBackend, DEFAULT_SPLIT, initParameters, InvalidArgumentError, lenet5, Network, resnet18Cifar, Rng, sparse, type Tensor,
} from '../../src/index.ts';
import { rng } from './kernel-harness.ts';
import { workerExecArgv } from '../../src/platform/worker.ts';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Stats { split: number; workerParts: number; workerShares: number }
const statsOf = (b: Backend): Stats => (b as unknown as { threadStats(): Stats }).threadStats();

/** Runs the same body on a 1-thread and a 2-thread backend (the latter splitting every kernel it can). */
function bothWays(title: string, body: (b: Backend, r: () => number) => Promise<Array<Float32Array | Int32Array>>, seed = 1) {
  it(title, async () => {
    const before = statsOf(split);
    const want = await body(serial, rng(seed));
    const got = await body(split, rng(seed));
    const after = statsOf(split);
    expect(after.split, 'the kernel was split').toBeGreaterThan(before.split);
    expect(got.length).toBe(want.length);
    for (let k = 0; k < want.length; k++) {
      const a = got[k]!, e = want[k]!;
      expect(a.length).toBe(e.length);
      for (let i = 0; i < e.length; i++) {
        // Object.is: bit patterns down to signed zeros and NaN, not just equal values.
        if (!Object.is(a[i], e[i])) throw new Error(`output ${k}[${i}]: 2 threads gave ${a[i]}, 1 thread ${e[i]}`);
      }
    }
    expect(split.liveTensors).toBe(0);
    expect(serial.liveTensors).toBe(0);
  });
}

let serial: Backend;
let split: Backend;

beforeAll(async () => {
  serial = await createBackend('wasm', { threads: 1 });
  split = await createBackend('wasm', { threads: 2, minSplitMacs: 0, minSplitElements: 0 });
});
afterAll(() => {
  serial?.dispose();
  split?.dispose();
});

/** Allocates, runs, reads back and releases: a kernel call on fresh tensors. */
async function withTensors(b: Backend, make: (t: (shape: number[], data?: ArrayLike<number>, dtype?: 'f32' | 'i32') => Tensor) => Tensor[]) {
  const made: Tensor[] = [];
  const t = (shape: number[], data?: ArrayLike<number>, dtype: 'f32' | 'i32' = 'f32') => {
    const x = b.tensor(dtype, shape, data);
    made.push(x);
    return x;
  };
  try {
    const outs = make(t);
    return await Promise.all(outs.map((o) => b.read(o)));
  } finally {
    for (const x of made) b.release(x);
  }
}

const data = (r: () => number, n: number) => Float32Array.from({ length: n }, r);

describe('wasm threads: the backend says what it runs', () => {
  it('reports its thread count and the reason', () => {
    expect(serial.threading).toEqual({ threads: 1, reason: 'single-threaded: 1 thread requested' });
    expect(serial.description).toBe('wasm (relaxed SIMD, 1 thread)');
    expect(split.threading.threads).toBe(2);
    expect(split.threading.reason).toMatch(/^2 threads on shared memory \(as requested\)/);
    expect(split.description).toBe('wasm (relaxed SIMD, 2 threads)');
  });

  it('gives its workers the process\'s Node flags but those about the main script\'s source', () => {
    expect(workerExecArgv(['--input-type=module', '-e', 'code', '--stack-size=2000'])).toEqual(['--stack-size=2000']);
    expect(workerExecArgv(['--input-type', 'module', '--eval=code', '-p', 'x', '-pe', 'y', '--print=z'])).toEqual([]);
    expect(workerExecArgv(['--experimental-wasm-relaxed-simd', '--max-old-space-size=4096'])).toEqual(['--experimental-wasm-relaxed-simd', '--max-old-space-size=4096']);
  });

  const dist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'feddip.js');
  it.skipIf(!existsSync(dist))('runs its threads under `node --input-type=module -e`', () => {
    const script = `const f = await import(${JSON.stringify(`file://${dist}`)}); const b = await f.createBackend('wasm', { threads: 2 }); console.log(JSON.stringify(b.threading)); b.dispose();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ threads: 2 });
  });

  it('rejects a thread count that is not a positive integer', async () => {
    for (const threads of [0, -1, 1.5, Number.NaN]) {
      await expect(createBackend('wasm', { threads })).rejects.toThrow(InvalidArgumentError);
    }
    await expect(createBackend('wasm', { minSplitMacs: -1 })).rejects.toThrow(/minSplitMacs/);
  });

  it('keeps small kernels on the calling thread with the default thresholds', async () => {
    const b = await createBackend('wasm', { threads: 2 });
    try {
      const x = b.tensor('f32', [8, 16]), w = b.tensor('f32', [4, 16]), y = b.tensor('f32', [8, 4]);
      b.linearForward({ x, w, y }); // 512 multiply-adds
      expect(statsOf(b).split).toBe(0);
      const big = b.tensor('f32', [DEFAULT_SPLIT.elements]), out = b.tensor('f32', [DEFAULT_SPLIT.elements]);
      b.reluForward({ x: big, y: out });
      expect(statsOf(b).split).toBe(1);
    } finally {
      b.dispose();
    }
  });
});

describe('wasm threads: the threads share the work', () => {
  it('runs shares of a kernel long enough to outlast a wake-up on the worker', async () => {
    const n = 1 << 22; // about a millisecond of ReLU per call
    const x = split.tensor('f32', [n], data(rng(7), n)), y = split.tensor('f32', [n]);
    try {
      const before = statsOf(split);
      for (let i = 0; i < 20; i++) split.reluForward({ x, y });
      const after = statsOf(split);
      expect(after.split - before.split).toBe(20);
      const shares = after.workerShares - before.workerShares, parts = after.workerParts - before.workerParts;
      expect(shares, 'the worker took shares').toBeGreaterThan(0);
      // Two shares per kernel (one per thread): the worker takes part in at most every kernel, and
      // runs one share, or both when this thread is late to claim its own.
      expect(parts).toBeLessThanOrEqual(20);
      expect(shares).toBeGreaterThanOrEqual(parts);
      expect(shares).toBeLessThanOrEqual(2 * parts);
    } finally {
      split.release(x);
      split.release(y);
    }
  });
});

describe('wasm threads: split kernels are bit-identical to one thread', () => {
  // Sizes off every blocking width: odd rows (gemmNT pairs), rows not a multiple of 4 (the
  // strided products), columns not a multiple of 4 (the weight gradient's tap groups).
  bothWays('linear forward and backward, 67×45 → 38', (b, r) => withTensors(b, (t) => {
    const x = t([67, 45], data(r, 67 * 45)), w = t([38, 45], data(r, 38 * 45)), bias = t([38], data(r, 38));
    const y = t([67, 38]), dy = t([67, 38], data(r, 67 * 38)), dx = t([67, 45]), dw = t([38, 45]), db = t([38]);
    b.linearForward({ x, w, b: bias, y });
    b.linearBackward({ x, w, dy, dx, dw, db });
    return [y, dx, dw, db];
  }));

  bothWays('linear backward through panels and chunks of k: 14×700 → 520', (b, r) => withTensors(b, (t) => {
    const x = t([14, 700], data(r, 14 * 700)), w = t([520, 700], data(r, 520 * 700));
    const dy = t([14, 520], data(r, 14 * 520)), dx = t([14, 700]), dw = t([520, 700]);
    b.linearBackward({ x, w, dy, dx, dw });
    return [dx, dw];
  }));

  it('a product cut into panels and chunks of k gives the bits of the one computed whole', async () => {
    // dx = dy·W with W 520 × 700: 13 rows go by panels of 256 columns and chunks of 256 rows of W,
    // resuming from the partial sums in dx; one row at a time goes whole. Same bits either way.
    const r = rng(5);
    const [dy, w] = [data(r, 13 * 520), data(r, 520 * 700)];
    const [whole] = await withTensors(serial, (t) => {
      const dx = t([13, 700]);
      serial.linearBackward({ x: t([13, 700]), w: t([520, 700], w), dy: t([13, 520], dy), dx });
      return [dx];
    });
    for (let i = 0; i < 13; i++) {
      const [row] = await withTensors(serial, (t) => {
        const dx = t([1, 700]);
        serial.linearBackward({ x: t([1, 700]), w: t([520, 700], w), dy: t([1, 520], dy.subarray(i * 520, (i + 1) * 520)), dx });
        return [dx];
      });
      for (let j = 0; j < 700; j++) {
        if (!Object.is(row![j], whole![i * 700 + j])) throw new Error(`dx[${i}, ${j}]: ${whole![i * 700 + j]} in the blocked product, ${row![j]} alone`);
      }
    }
  });

  it('every height of a product\'s last block of rows gives each row the bits it gets alone, in both SIMD builds', async () => {
    // The packed products run 6 rows (relaxed build) or 5 (plain) per register block, and the last
    // block of 1 … 13 rows takes a shorter block or a padded one. dx = dy·W goes through the
    // transposing copy of A's rows, dW = dyᵀ·x through the contiguous one; depth 300 resumes
    // from partial sums once; 45 columns leave a tail of 5.
    const r = rng(9);
    const [x, w, dy] = [data(r, 13 * 45), data(r, 300 * 45), data(r, 13 * 300)];
    for (const simd of ['relaxed', 'baseline'] as const) {
      const b = await createBackend('wasm', { threads: 1, simd });
      try {
        const run = (rows: number, features: number) => withTensors(b, (t) => {
          // dx [rows × 45] = dy [rows × 300]·W [300 × 45]; dW [features × 45] = dyᵀ·x over the 13 samples.
          const dyRows = t([rows, 300], dy.subarray(0, rows * 300));
          const wT = t([300, 45], w.subarray(0, 300 * 45)), dx = t([rows, 45]);
          b.linearBackward({ x: t([rows, 45], x.subarray(0, rows * 45)), w: wT, dy: dyRows, dx });
          const dyCols = t([13, features], Float32Array.from({ length: 13 * features }, (_, i) => dy[Math.floor(i / features) * 300 + (i % features)]!));
          const dw = t([features, 45]);
          b.linearBackward({ x: t([13, 45], x), w: t([features, 45], w.subarray(0, features * 45)), dy: dyCols, dw });
          return [dx, dw];
        });
        const [dxAlone, dwAlone] = await run(1, 1);
        for (let rows = 2; rows <= 13; rows++) {
          const [dx, dw] = await run(rows, rows);
          const what = `${simd} build, ${rows} rows`;
          for (let j = 0; j < 45; j++) {
            if (!Object.is(dx![j], dxAlone![j])) throw new Error(`${what}: dx[0, ${j}] ${dx![j]}, alone ${dxAlone![j]}`);
            if (!Object.is(dw![j], dwAlone![j])) throw new Error(`${what}: dW[0, ${j}] ${dw![j]}, alone ${dwAlone![j]}`);
          }
          // The last row too: it sits in the last block, whatever its height.
          const [dxLast, dwLast] = await withTensors(b, (t) => {
            const one = t([1, 45]), dwOne = t([1, 45]);
            b.linearBackward({ x: t([1, 45], x.subarray(0, 45)), w: t([300, 45], w.subarray(0, 300 * 45)), dy: t([1, 300], dy.subarray((rows - 1) * 300, rows * 300)), dx: one });
            const col = Float32Array.from({ length: 13 }, (_, i) => dy[i * 300 + rows - 1]!);
            b.linearBackward({ x: t([13, 45], x), w: t([1, 45], w.subarray((rows - 1) * 45, rows * 45)), dy: t([13, 1], col), dw: dwOne });
            return [one, dwOne];
          });
          for (let j = 0; j < 45; j++) {
            if (!Object.is(dx![(rows - 1) * 45 + j], dxLast![j])) throw new Error(`${what}: dx[${rows - 1}, ${j}] ${dx![(rows - 1) * 45 + j]}, alone ${dxLast![j]}`);
            if (!Object.is(dw![(rows - 1) * 45 + j], dwLast![j])) throw new Error(`${what}: dW[${rows - 1}, ${j}] ${dw![(rows - 1) * 45 + j]}, alone ${dwLast![j]}`);
          }
        }
      } finally {
        b.dispose();
      }
    }
  });

  const convs: Array<[string, number[], [number, number], [number, number]]> = [
    // [n, c, h, w, o, kh, kw]
    ['5×5 pad 2 (LeNet conv1 shape), batch 3', [3, 1, 12, 12, 6, 5, 5], [1, 1], [2, 2]],
    ['5×5 (LeNet conv2 shape), 6 → 16', [5, 6, 14, 14, 16, 5, 5], [1, 1], [0, 0]],
    ['3×3 stride 2 pad 1, 7 → 9 channels', [4, 7, 11, 10, 9, 3, 3], [2, 2], [1, 1]],
    ['1×1 pointwise (no im2col)', [3, 13, 6, 5, 7, 1, 1], [1, 1], [0, 0]],
    ['2×3 strides 3×2, taps not a multiple of 4', [2, 3, 9, 8, 5, 2, 3], [3, 2], [0, 1]],
    // ResNet's first convolution: 32+ filters on im2col, 27 taps split 16 + 11 between the
    // threads, the second share's columns padded to 16 for the packed product.
    ['3×3 pad 1, 3 → 40 channels (27 taps on im2col)', [3, 3, 10, 9, 40, 3, 3], [1, 1], [1, 1]],
    // Output rows ≥ 16 wide: the weight gradient on lanes, groups of four images split between the
    // threads (the last group short), an odd filter and taps past a multiple of 4.
    ['3×3 pad 1, 17-wide rows (lanes weight gradient), batch 11', [11, 2, 9, 17, 5, 3, 3], [1, 1], [1, 1]],
    // 32+ channels: Winograd F(2×2, 3×3). Images split for y and dx (5 and 4: chunks of 2 images of
    // 12 × 11 tiles, the first thread's last chunk short), filters in blocks of 4 for dW (34 = 16 +
    // 18, ending in a block of 2); odd planes, channel counts off the SIMD width.
    ['3×3 pad 1, 33 → 34 channels (Winograd), batch 9', [9, 33, 23, 22, 34, 3, 3], [1, 1], [1, 1]],
    // 64+ channels: y and dx through F(4×4, 3×3), chunks of 3 images of 4 × 11 tiles (5 and 4 images
    // per thread), partial tiles at both edges.
    ['3×3 pad 1, 65 → 66 channels (Winograd F(4×4, 3×3)), batch 9', [9, 65, 13, 42, 66, 3, 3], [1, 1], [1, 1]],
    // Fewer tiles in the batch than output channels (ResNet's last layers): y and dx split by
    // output channels in blocks of 4 (40 = 20 + 20, 36 = 16 + 20; 70 = 36 + 34, 66 = 32 + 34,
    // each ending in a short block), each thread transforming only its kernels.
    ['3×3 pad 1, 36 → 40 channels, 12 tiles (Winograd by channels)', [2, 36, 3, 5, 40, 3, 3], [1, 1], [1, 1]],
    ['3×3 pad 1, 66 → 70 channels, 8 tiles (F(4×4, 3×3) by channels)', [2, 66, 5, 6, 70, 3, 3], [1, 1], [1, 1]],
    // Stride 2 with 32+ channels (assembly/winograd-s2.ts): 36 tiles per image, images split for y
    // and dx (one chunk of 8 on the first thread, the rest of 1 … on the second), filters for dW;
    // then 8 tiles against 40 and 36 channels: y and dx split by output channels.
    ['3×3 stride 2 pad 1, 33 → 34 channels (polyphase Winograd), batch 9', [9, 33, 23, 22, 34, 3, 3], [2, 2], [1, 1]],
    ['3×3 stride 2 pad 1, 36 → 40 channels, 8 tiles (by channels)', [2, 36, 7, 6, 40, 3, 3], [2, 2], [1, 1]],
  ];
  for (const [label, [n, c, h, w, o, kh, kw], stride, padding] of convs) {
    bothWays(`conv2d forward and backward: ${label}`, (b, r) => withTensors(b, (t) => {
      const ho = Math.floor((h! + 2 * padding[0] - kh!) / stride[0]) + 1;
      const wo = Math.floor((w! + 2 * padding[1] - kw!) / stride[1]) + 1;
      const x = t([n!, c!, h!, w!], data(r, n! * c! * h! * w!));
      const wt = t([o!, c!, kh!, kw!], data(r, o! * c! * kh! * kw!));
      const bias = t([o!], data(r, o!));
      const y = t([n!, o!, ho, wo]);
      const dy = t([n!, o!, ho, wo], data(r, n! * o! * ho * wo));
      const dx = t([n!, c!, h!, w!]), dw = t([o!, c!, kh!, kw!]), db = t([o!]);
      b.conv2dForward({ x, w: wt, b: bias, y, stride, padding });
      b.conv2dBackward({ x, w: wt, dy, dx, dw, db, stride, padding });
      return [y, dx, dw, db];
    }));
  }

  bothWays('conv2d forward with its max-pool behind it, with and without the ReLU (LeNet conv1, 5 images)', (b, r) => withTensors(b, (t) => {
    const x = t([5, 1, 28, 28], data(r, 5 * 784)), w = t([6, 1, 5, 5], data(r, 150)), bias = t([6], data(r, 6));
    const outs: Tensor[] = [];
    for (const relu of [false, true]) {
      const y = t([5, 6, 14, 14]), indices = t([5, 6, 14, 14], undefined, 'i32');
      b.conv2dForwardPooled({ x, w, b: bias, padding: [2, 2], pool: { kernel: [2, 2] }, relu, y, indices });
      outs.push(y, indices);
    }
    return outs;
  }));

  bothWays('conv2d weight gradient from a max-pool\'s side (LeNet conv1 and conv2 shapes)', (b, r) => withTensors(b, (t) => {
    const outs: Tensor[] = [];
    for (const [n, c, h, w, o, pad] of [[5, 6, 14, 14, 16, 0], [3, 1, 28, 28, 6, 2]] as const) {
      const ho = h + 2 * pad - 4, pooled = (ho / 2) * (ho / 2);
      const x = t([n, c, h, w], data(r, n * c * h * w));
      const g = t([n, o, ho / 2, ho / 2], data(r, n * o * pooled));
      // Each pooled position picks one of its 2×2 window's outputs.
      const idx = Int32Array.from({ length: n * o * pooled }, (_, i) => {
        const p = i % pooled, pr = Math.floor(p / (ho / 2)), pc = p % (ho / 2);
        const pick = Math.floor((r() + 1) * 2);
        return (2 * pr + (pick >> 1)) * ho + 2 * pc + (pick & 1);
      });
      const dw = t([o, c, 5, 5]), db = t([o]);
      b.conv2dWeightGradPooled({ x, g, indices: t([n, o, ho / 2, ho / 2], idx, 'i32'), dw, db, padding: [pad, pad] });
      outs.push(dw, db);
    }
    return outs;
  }));

  bothWays('conv2d input gradient from a max-pool\'s side (LeNet conv2, and channels wide enough for the dense fallback)', (b, r) => withTensors(b, (t) => {
    const outs: Tensor[] = [];
    for (const [n, c, h, o, k, pad] of [[5, 6, 14, 16, 5, 0], [3, 20, 8, 6, 3, 1]] as const) {
      const ho = h + 2 * pad - k + 1, hp = ho / 2, pooled = hp * hp;
      const g = t([n, o, hp, hp], data(r, n * o * pooled));
      const idx = Int32Array.from({ length: n * o * pooled }, (_, i) => {
        const p = i % pooled, pr = Math.floor(p / hp), pc = p % hp;
        const pick = Math.floor((r() + 1) * 2);
        return (2 * pr + (pick >> 1)) * ho + 2 * pc + (pick & 1);
      });
      const dx = t([n, c, h, h]);
      b.conv2dInputGradPooled({ g, indices: t([n, o, hp, hp], idx, 'i32'), w: t([o, c, k, k], data(r, o * c * k * k)), dx, padding: [pad, pad] });
      outs.push(dx);
    }
    return outs;
  }));

  bothWays('sparse conv2d input gradient from a max-pool\'s side (LeNet conv2 at 10 % density, and padded)', (b, r) => withTensors(b, (t) => {
    const outs: Tensor[] = [];
    for (const [n, c, h, o, k, pad] of [[5, 6, 14, 16, 5, 0], [3, 4, 8, 6, 3, 1]] as const) {
      const ho = h + 2 * pad - k + 1, hp = ho / 2, pooled = hp * hp, taps = c * k * k;
      const g = t([n, o, hp, hp], data(r, n * o * pooled));
      const idx = Int32Array.from({ length: n * o * pooled }, (_, i) => {
        const p = i % pooled, pr = Math.floor(p / hp), pc = p % hp;
        const pick = Math.floor((r() + 1) * 2);
        return (2 * pr + (pick >> 1)) * ho + 2 * pc + (pick & 1);
      });
      const st = sparse.csrTranspose(sparse.csrFromMask(Uint8Array.from({ length: o * taps }, () => ((r() + 1) / 2 < 0.1 ? 1 : 0)), o, taps));
      const wt = { rows: st.rows, cols: st.cols, rowPtr: t([st.rowPtr.length], st.rowPtr, 'i32'), colIdx: t([Math.max(1, st.colIdx.length)], st.colIdx, 'i32'), values: t([Math.max(1, st.colIdx.length)], data(r, st.colIdx.length)) };
      const dx = t([n, c, h, h]);
      b.sparseConv2dInputGradPooled({ g, indices: t([n, o, hp, hp], idx, 'i32'), wt, kernel: [k, k], dx, padding: [pad, pad] });
      outs.push(dx);
    }
    return outs;
  }));

  bothWays('max, average and adaptive pooling, forward and backward', (b, r) => withTensors(b, (t) => {
    const x = t([3, 5, 9, 8], data(r, 3 * 5 * 72));
    const ym = t([3, 5, 4, 4]), idx = t([3, 5, 4, 4], undefined, 'i32'), dxm = t([3, 5, 9, 8]);
    const ya = t([3, 5, 5, 5]), dxa = t([3, 5, 9, 8]);
    const yd = t([3, 5, 3, 3]), dxd = t([3, 5, 9, 8]);
    const dym = t([3, 5, 4, 4], data(r, 240)), dya = t([3, 5, 5, 5], data(r, 375)), dyd = t([3, 5, 3, 3], data(r, 135));
    b.maxPool2dForward({ x, y: ym, indices: idx, kernel: [2, 2] });
    b.maxPool2dBackward({ dy: dym, indices: idx, dx: dxm });
    b.avgPool2dForward({ x, y: ya, kernel: [3, 2], stride: [2, 2], padding: [1, 1] });
    b.avgPool2dBackward({ dy: dya, dx: dxa, kernel: [3, 2], stride: [2, 2], padding: [1, 1] });
    b.adaptiveAvgPool2dForward({ x, y: yd });
    b.adaptiveAvgPool2dBackward({ dy: dyd, dx: dxd });
    return [ym, idx, dxm, ya, dxa, yd, dxd];
  }));

  bothWays('batch norm: training forward (running statistics too), backward, evaluation', (b, r) => withTensors(b, (t) => {
    const x = t([4, 7, 5, 3], data(r, 4 * 7 * 15)), gamma = t([7], data(r, 7)), beta = t([7], data(r, 7));
    const rm = t([7], data(r, 7)), rv = t([7], Float32Array.from({ length: 7 }, () => 1 + Math.abs(r())));
    const y = t([4, 7, 5, 3]), mean = t([7]), invStd = t([7]), dy = t([4, 7, 5, 3], data(r, 420));
    const dx = t([4, 7, 5, 3]), dg = t([7]), dbeta = t([7]), ye = t([4, 7, 5, 3]);
    b.batchNorm2dForward({ x, gamma, beta, runningMean: rm, runningVar: rv, y, saveMean: mean, saveInvStd: invStd, training: true });
    b.batchNorm2dBackward({ x, gamma, dy, saveMean: mean, saveInvStd: invStd, dx, dgamma: dg, dbeta });
    b.batchNorm2dForward({ x, gamma, beta, runningMean: rm, runningVar: rv, y: ye, training: false });
    return [y, mean, invStd, rm, rv, dx, dg, dbeta, ye];
  }));

  bothWays('element-wise kernels over 1,003 elements', (b, r) => withTensors(b, (t) => {
    const n = 1003;
    const x = t([n], data(r, n)), g = t([n], data(r, n)), m = t([n], Float32Array.from({ length: n }, () => (r() > 0 ? 1 : 0)));
    const relu = t([n]), drelu = t([n]), drop = t([n]), sum = t([n]), masked = t([n]), filled = t([n]), copied = t([n]);
    const param = t([n], data(r, n)), acc = t([n], data(r, n)), grad = t([n], data(r, n)), ss = t([1]);
    b.reluForward({ x, y: relu });
    b.reluBackward({ x, dy: g, dx: drelu });
    b.dropoutForward({ x, mask: m, y: drop, p: 0.3 });
    b.add({ a: x, b: g, y: sum });
    b.applyMask({ w: x, mask: m, y: masked });
    b.fill({ y: filled, value: -2.5 });
    b.copy({ x: g, y: copied });
    b.sgdStep({ param, grad: g, lr: 0.1, weightDecay: 5e-4 });
    b.axpy({ alpha: 0.37, x, y: acc });
    b.sumSquares({ x, out: ss });
    b.addScaledByInvNorm({ x, sumSquares: ss, grad, lambda: 1e-3 });
    return [relu, drelu, drop, sum, masked, filled, copied, param, acc, grad];
  }));
});

describe('wasm threads: whole training steps are bit-identical', () => {
  async function lenetRun(b: Backend): Promise<Float32Array[]> {
    const model = lenet5();
    const net = new Network(model, b);
    const r = new Rng(7);
    const w = initParameters(model.layout, () => r.uniform());
    net.setParameters(w);
    const mask = new Uint8Array(model.layout.size).map(() => (r.uniform() < 0.5 ? 1 : 0));
    net.setMask(mask);
    const x = Float32Array.from({ length: 32 * 784 }, () => r.uniform());
    const labels = Int32Array.from({ length: 32 }, () => r.int(10));
    for (let i = 0; i < 5; i++) net.trainStep(x, labels, { lr: 0.05, weightDecay: 5e-4, lambda: 1e-3 });
    const out = [await net.getParameters(), await net.predict(x, 32)];
    net.dispose();
    return out;
  }
  bothWays('LeNet-5: 5 FedDIP steps at batch 32 (pruned point, penalty, SGD), then a prediction', lenetRun);

  it('ResNet-18 (CIFAR): one step at batch 4 gives the same weights and running statistics', async () => {
    const run = async (b: Backend) => {
      const model = resnet18Cifar(10);
      const net = new Network(model, b);
      const r = new Rng(3);
      net.setParameters(initParameters(model.layout, () => r.uniform()));
      const x = Float32Array.from({ length: 4 * 3 * 32 * 32 }, () => r.uniform());
      net.trainStep(x, Int32Array.from([1, 5, 9, 0]), { lr: 0.1, weightDecay: 5e-4, lambda: 1e-4 });
      const params = await net.getParameters();
      net.dispose();
      return params;
    };
    const before = statsOf(split).split;
    const want = await run(serial);
    const got = await run(split);
    expect(statsOf(split).split).toBeGreaterThan(before);
    let differ = 0;
    for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) differ++;
    expect(differ).toBe(0);
  }, 120_000);

  it('with more threads than cores (late workers, their shares taken by others), 60 LeNet-5 steps at batches 1 … 37 give the bits of one thread', async () => {
    const run = async (b: Backend) => {
      const model = lenet5();
      const net = new Network(model, b);
      const r = new Rng(3);
      net.setParameters(initParameters(model.layout, () => r.uniform()));
      for (let step = 0; step < 60; step++) {
        const batch = 1 + (step % 37);
        const x = Float32Array.from({ length: batch * 784 }, () => r.uniform());
        net.trainStep(x, Int32Array.from({ length: batch }, (_, i) => (i + step) % 10), { lr: 0.01, weightDecay: 5e-4 });
      }
      const params = await net.getParameters();
      net.dispose();
      return params;
    };
    const crowded = await createBackend('wasm', { threads: 6, minSplitMacs: 0, minSplitElements: 0 });
    try {
      const want = await run(serial);
      const got = await run(crowded);
      expect(statsOf(crowded).workerShares, 'the workers took shares').toBeGreaterThan(0);
      let differ = 0;
      for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) differ++;
      expect(differ).toBe(0);
    } finally {
      crowded.dispose();
    }
  }, 120_000);
});
