import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Rng, sparse } from '../../src/index.ts';
import type { Segment } from '../../src/sparse/index.ts';

const {
  roundHalfEven, prunedCount, layoutSegments, checkSegments, globalMagnitudeMask, layerwiseMagnitudeMask,
  keepLargestPerLayer, randomMask, erkDensities, maskSparsity, cubicSparsity, incrementalLambda,
  learningRate, isReconfigRound, packBits, unpackBits, popcount, popcount32, packedWords,
} = sparse;

/** Sort-based oracle: prune the k smallest |w| of `indices`; among equal |w| the higher index goes first. */
function oracleMask(values: Float32Array, indices: number[], k: number, mask: Uint8Array): void {
  const order = [...indices].sort((a, b) => Math.abs(values[a]!) - Math.abs(values[b]!) || b - a);
  for (const i of indices) mask[i] = 1;
  for (let j = 0; j < k; j++) mask[order[j]!] = 0;
}

const zerosIn = (mask: Uint8Array, seg: Segment) => seg.size - mask.subarray(seg.offset, seg.offset + seg.size).reduce((a, b) => a + b, 0);

/** Random weights; `ties` quantises them so that many magnitudes coincide (± and both zeros too). */
function weights(r: Rng, n: number, ties: boolean): Float32Array {
  return Float32Array.from({ length: n }, () => {
    const v = r.normal();
    return ties ? Math.round(v * 4) / 4 : v;
  });
}

/** A model-like layout: prunable weights, dense biases, and a gap nobody owns. */
function model(sizes: number[]): { segments: Segment[]; total: number } {
  const { segments, total } = layoutSegments(sizes.flatMap((n, l) => [
    { name: `w${l}`, shape: [n], prunable: true },
    { name: `b${l}`, shape: [l + 1], prunable: false },
  ]));
  // Leave three unowned entries at the end: they must stay 1.
  return { segments, total: total + 3 };
}

describe('rounding', () => {
  it('rounds halves to even like Python, and counts pruned entries with it', () => {
    const cases: Array<[number, number]> = [[0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-0.5, 0], [-1.5, -2], [-2.5, -2],
      [142.5, 142], [2.4999999, 2], [2.5000001, 3], [7, 7], [-7.2, -7], [2 ** 52 + 1, 2 ** 52 + 1]];
    for (const [x, want] of cases) expect(roundHalfEven(x) === want, `round(${x})`).toBe(true);
    // 0.95·150 is 142.5 in double arithmetic: Python keeps 142, Math.round would say 143.
    expect(prunedCount(0.95, 150)).toBe(142);
    expect(prunedCount(0.5, 48990)).toBe(24495);
    expect(prunedCount(0, 10)).toBe(0);
    expect(prunedCount(1, 10)).toBe(10);
    expect(() => prunedCount(1.01, 10)).toThrow(/sparsity must be in \[0, 1\]/);
    expect(() => prunedCount(Number.NaN, 10)).toThrow(InvalidArgumentError);
    expect(() => prunedCount(0.5, -1)).toThrow(/non-negative integer/);
    expect(() => roundHalfEven(Infinity)).toThrow(InvalidArgumentError);
  });
});

describe('layout', () => {
  it('lays segments out back to back and rejects layouts that cannot be right', () => {
    const { segments, total } = layoutSegments([{ name: 'a', shape: [2, 3], prunable: true }, { name: 'b', shape: [4], prunable: false }]);
    expect(total).toBe(10);
    expect(segments.map((s) => [s.offset, s.size])).toEqual([[0, 6], [6, 4]]);
    const seg = (offset: number, size: number, name = 's'): Segment => ({ name, shape: [size], offset, size, prunable: true });
    expect(checkSegments('t', [seg(5, 2, 'late'), seg(0, 5, 'early')], 7).map((s) => s.name)).toEqual(['early', 'late']);
    expect(() => checkSegments('t', [seg(0, 5), seg(4, 2, 'x')], 10)).toThrow(/'x' at offset 4 overlaps/);
    expect(() => checkSegments('t', [seg(8, 5, 'x')], 10)).toThrow(/'x' ends at 13, past the end of the vector \(10/);
    expect(() => checkSegments('t', [{ ...seg(0, 5, 'x'), size: 4 }], 10)).toThrow(/\(5 elements\) but size 4/);
    expect(() => checkSegments('t', [{ ...seg(0, 5), offset: -1 }], 10)).toThrow(InvalidArgumentError);
    expect(() => layoutSegments([{ name: 'x', shape: [2, -1], prunable: true }])).toThrow(/'x' has shape/);
  });
});

describe('magnitude masks', () => {
  it('prune exactly round(s·|P|) entries, equal to a sort-based oracle, at many sizes and sparsities', () => {
    const r = new Rng('global-mask');
    const sparsities = [0, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 1];
    for (const sizes of [[1], [3], [7, 1], [31, 33], [32, 5, 64], [100, 17, 250], [1000, 3]]) {
      for (const ties of [false, true]) {
        const { segments, total } = model(sizes);
        const w = weights(r, total, ties);
        const prunable = segments.filter((s) => s.prunable);
        const indices = prunable.flatMap((s) => Array.from({ length: s.size }, (_, i) => s.offset + i));
        for (const s of sparsities) {
          const got = globalMagnitudeMask(w, segments, s);
          const want = new Uint8Array(total).fill(1);
          oracleMask(w, indices, prunedCount(s, indices.length), want);
          expect(got, `global sizes ${sizes} ties ${ties} s ${s}`).toEqual(want);
          expect(maskSparsity(got, segments).nonzero).toBe(indices.length - prunedCount(s, indices.length));

          const lw = layerwiseMagnitudeMask(w, segments, s);
          const lwWant = new Uint8Array(total).fill(1);
          for (const seg of prunable) {
            oracleMask(w, Array.from({ length: seg.size }, (_, i) => seg.offset + i), prunedCount(s, seg.size), lwWant);
            expect(zerosIn(lw, seg)).toBe(prunedCount(s, seg.size));
          }
          expect(lw, `layerwise sizes ${sizes} ties ${ties} s ${s}`).toEqual(lwWant);
        }
      }
    }
  });

  it('finds the cut among magnitudes that share their high bits (the second radix level)', () => {
    // Values 1 + j·2^-23 differ only in the low mantissa bits, so they all fall in one top-level bucket.
    const n = 5000;
    const r = new Rng(11);
    const w = r.shuffle(Float32Array.from({ length: n }, (_, j) => (r.uniform() < 0.5 ? -1 : 1) * (1 + (j % 3000) * 2 ** -23)));
    const { segments } = layoutSegments([{ name: 'w', shape: [n], prunable: true }]);
    const all = Array.from({ length: n }, (_, i) => i);
    for (const s of [0.013, 0.5, 0.77, 0.999]) {
      const want = new Uint8Array(n);
      oracleMask(w, all, prunedCount(s, n), want);
      expect(globalMagnitudeMask(w, segments, s)).toEqual(want);
    }
  });

  it('breaks ties by keeping the lower flat index, across segment boundaries too', () => {
    const w = new Float32Array(10).fill(0.5);
    w[3] = -0.5; // same magnitude, other sign
    const { segments } = layoutSegments([{ name: 'a', shape: [4], prunable: true }, { name: 'b', shape: [6], prunable: true }]);
    expect([...globalMagnitudeMask(w, segments, 0.3)]).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    expect([...globalMagnitudeMask(w, segments, 0.7)]).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    // Layer-wise: each segment keeps its own first entries (round(0.5·4) = 2, round(0.5·6) = 3).
    expect([...layerwiseMagnitudeMask(w, segments, 0.5)]).toEqual([1, 1, 0, 0, 1, 1, 1, 0, 0, 0]);
    // Segments given out of order are still taken in flat order.
    expect([...globalMagnitudeMask(w, [segments[1]!, segments[0]!], 0.3)]).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    // ±0 are equal magnitudes; smaller magnitudes go before ties.
    const z = Float32Array.from([0, -0, 0.25, -0, 0.1]);
    const zs = layoutSegments([{ name: 'z', shape: [5], prunable: true }]).segments;
    expect([...globalMagnitudeMask(z, zs, 0.4)]).toEqual([1, 0, 1, 0, 1]);
    expect([...globalMagnitudeMask(z, zs, 0.8)]).toEqual([0, 0, 1, 0, 0]);
  });

  it('orders NaN above +∞ above every finite magnitude, as torch.topk does', () => {
    const w = Float32Array.from([Number.NaN, 1, -Infinity, 3, 2, Infinity]);
    const { segments } = layoutSegments([{ name: 'w', shape: [6], prunable: true }]);
    expect([...globalMagnitudeMask(w, segments, 0.5)]).toEqual([1, 0, 1, 0, 0, 1]);
    expect([...globalMagnitudeMask(w, segments, 5 / 6)]).toEqual([1, 0, 0, 0, 0, 0]);
  });

  it('leave non-prunable entries and gaps at 1, and reuse an output array', () => {
    const { segments, total } = model([20, 30]);
    const w = weights(new Rng(1), total, false);
    const out = new Uint8Array(total).fill(7);
    const got = globalMagnitudeMask(w, segments, 1, out);
    expect(got).toBe(out);
    for (const s of segments) for (let i = s.offset; i < s.offset + s.size; i++) expect(got[i]).toBe(s.prunable ? 0 : 1);
    expect([...got.subarray(total - 3)]).toEqual([1, 1, 1]);
    expect(maskSparsity(got, segments)).toEqual({ overPrunable: 1, overAll: 50 / total, nonzero: 0, nonzeroAll: total - 50, prunable: 50, total });
  });

  it('accept one sparsity per layer, and exact kept counts per layer', () => {
    const { segments, total } = model([40, 25, 9]);
    const w = weights(new Rng(2), total, true);
    const prunable = segments.filter((s) => s.prunable);
    const m = layerwiseMagnitudeMask(w, segments, [0.5, 0.9, 0]);
    expect(prunable.map((s) => zerosIn(m, s))).toEqual([20, prunedCount(0.9, 25), 0]);
    const k = keepLargestPerLayer(w, segments, [3, 25, 0]);
    expect(prunable.map((s) => s.size - zerosIn(k, s))).toEqual([3, 25, 0]);
    expect(keepLargestPerLayer(w, segments, [20, 3, 9])).toEqual(layerwiseMagnitudeMask(w, segments, [0.5, 22 / 25, 0]));
    expect(() => layerwiseMagnitudeMask(w, segments, [0.5, 0.9])).toThrow(/one entry per prunable segment \(3\), got 2 entries/);
    expect(() => keepLargestPerLayer(w, segments, [3, 26, 0])).toThrow(/keptCounts\[1\] for 'w1' must be an integer in \[0, 25\]/);
  });

  it('reject bad arguments with typed errors', () => {
    const { segments, total } = model([4]);
    const w = new Float32Array(total);
    expect(() => globalMagnitudeMask(new Float64Array(total) as unknown as Float32Array, segments, 0.5)).toThrow(/must be a Float32Array/);
    expect(() => globalMagnitudeMask(w, segments, 1.5)).toThrow(/sparsity must be a number in \[0, 1\], got 1.5/);
    expect(() => globalMagnitudeMask(w.subarray(0, 4), segments, 0.5)).toThrow(/past the end of the vector \(4 elements\)/);
    expect(() => globalMagnitudeMask(w, segments, 0.5, new Uint8Array(2))).toThrow(/out must be a Uint8Array of 8 elements, got 2/);
    expect(() => layerwiseMagnitudeMask(w, segments, Number.NaN)).toThrow(InvalidArgumentError);
  });
});

describe('random masks', () => {
  it('keep exactly floor(d·n) per layer, leave the rest dense, and reproduce from the seed', () => {
    const { segments, total } = model([100, 37, 1, 8]);
    const prunable = segments.filter((s) => s.prunable);
    const d = [0.5, 0.2, 0.9, 1];
    const a = randomMask(segments, d, new Rng(3), total);
    expect(a.length).toBe(total);
    expect(prunable.map((s) => s.size - zerosIn(a, s))).toEqual([50, 7, 0, 8]);
    for (const s of segments.filter((x) => !x.prunable)) expect([...a.subarray(s.offset, s.offset + s.size)].every((v) => v === 1)).toBe(true);
    expect([...a.subarray(total - 3)]).toEqual([1, 1, 1]);
    expect(randomMask(segments, d, new Rng(3), total)).toEqual(a);
    expect(randomMask(segments, d, new Rng(4), total)).not.toEqual(a);
    expect(randomMask(segments, 0.5, new Rng(3)).length).toBe(total - 3);
    expect(() => randomMask(segments, [0.5], new Rng(3))).toThrow(/one entry per prunable segment/);
    expect(() => randomMask(segments, 1.2, new Rng(3))).toThrow(/density for 'w0' must be in \[0, 1\]/);
  });

  it('make every position equally likely to be kept', () => {
    const { segments } = layoutSegments([{ name: 'w', shape: [10], prunable: true }]);
    const r = new Rng(5);
    const kept = new Array(10).fill(0);
    for (let t = 0; t < 3000; t++) randomMask(segments, 0.3, r).forEach((v, i) => { kept[i] += v; });
    for (const c of kept) expect(Math.abs(c / 3000 - 0.3)).toBeLessThan(0.04);
  });
});

describe('ERK densities', () => {
  const lenet = [[6, 1, 5, 5], [16, 6, 5, 5], [120, 400], [84, 120], [10, 84]];
  const numel = lenet.map((s) => s.reduce((a, b) => a * b, 1));

  it('match FedDIP\'s reference numbers for LeNet-5', () => {
    const half = erkDensities(lenet, 0.5);
    expect(half.denseLayers).toEqual([0, 4]);
    expect(half.epsilon).toBeCloseTo(39.345238095238095, 12);
    expect(half.keptCounts).toEqual([150, 1259, 20459, 8026, 840]);
    const low = erkDensities(lenet, 0.05);
    expect(low.denseLayers).toEqual([]);
    expect(low.keptCounts).toEqual([60, 113, 1843, 723, 333]);
    expect(low.layerDensities[0]).toBeCloseTo(0.4017647058823529, 14);
  });

  it('spend exactly the requested budget, never exceed density 1, and ignore shape when powerScale is 0', () => {
    for (const d of [0.01, 0.1, 0.3, 0.5, 0.8, 0.99, 1]) {
      const e = erkDensities(lenet, d);
      const kept = e.layerDensities.reduce((s, x, l) => s + x * numel[l]!, 0);
      expect(kept / numel.reduce((a, b) => a + b, 0)).toBeCloseTo(d, 10);
      for (const [l, x] of e.layerDensities.entries()) {
        expect(x).toBeLessThanOrEqual(1 + 1e-12);
        expect(e.layerSparsities[l]).toBeCloseTo(1 - x, 15);
        if (e.denseLayers.includes(l)) expect(x).toBe(1);
      }
    }
    expect(erkDensities(lenet, 0.2, 0).layerDensities.every((x) => Math.abs(x - 0.2) < 1e-12)).toBe(true);
    expect(() => erkDensities(lenet, 1.5)).toThrow(/density must be in \[0, 1\]/);
    expect(() => erkDensities([[3, 0]], 0.5)).toThrow(/positive integer dimensions/);
    expect(() => erkDensities(lenet, 0.5, -1)).toThrow(/powerScale/);
  });

  it('give a random mask that keeps exactly its kept counts', () => {
    const { segments } = layoutSegments(lenet.map((shape, l) => ({ name: `w${l}`, shape, prunable: true })));
    const e = erkDensities(lenet, 0.1);
    const m = randomMask(segments, e.layerDensities, new Rng(6));
    expect(segments.map((s) => s.size - zerosIn(m, s))).toEqual(e.keptCounts);
  });
});

describe('measured sparsity', () => {
  it('counts zeros of masks and of weights over P and over everything', () => {
    const { segments } = layoutSegments([{ name: 'w', shape: [4], prunable: true }, { name: 'b', shape: [2], prunable: false }]);
    const w = Float32Array.from([0, 1.5, -0, Number.NaN, 0, 2]);
    expect(maskSparsity(w, segments)).toEqual({ overPrunable: 0.5, overAll: 0.5, nonzero: 2, nonzeroAll: 3, prunable: 4, total: 6 });
    expect(maskSparsity(new Uint8Array(0), [])).toEqual({ overPrunable: 0, overAll: 0, nonzero: 0, nonzeroAll: 0, prunable: 0, total: 0 });
  });
});

describe('schedules', () => {
  it('ramp sparsity cubically from s0 to sp and hold it past T', () => {
    expect(cubicSparsity(0, 100, 0.5, 0.9)).toBe(0.5);
    expect(cubicSparsity(50, 100, 0.5, 0.9)).toBeCloseTo(0.9 - 0.4 / 8, 15);
    expect(cubicSparsity(100, 100, 0.5, 0.9)).toBe(0.9);
    expect(cubicSparsity(250, 100, 0.5, 0.9)).toBe(0.9);
    let prev = 0;
    for (let t = 0; t < 100; t++) { const s = cubicSparsity(t, 100, 0.5, 0.99); expect(s).toBeGreaterThan(prev); prev = s; }
    expect(() => cubicSparsity(-1, 100, 0.5, 0.9)).toThrow(/t must be a non-negative integer/);
    expect(() => cubicSparsity(0, 0, 0.5, 0.9)).toThrow(/T must be a positive integer/);
    expect(() => cubicSparsity(0, 10, 0.5, 1.2)).toThrow(/sp must be in \[0, 1\]/);
  });

  it('step λ over Q segments: the reference stops at 18/19 of the way, the default reaches λmax', () => {
    const opts = { lambda0: 5e-4, lambdaMax: 1e-3, Q: 20 };
    const ref = (t: number, T = 1000) => incrementalLambda(t, T, { ...opts, mode: 'reference' });
    const def = (t: number, T = 1000) => incrementalLambda(t, T, opts);
    expect([ref(0), ref(49), def(49)]).toEqual([0, 0, 0]);
    expect([ref(50), def(50)]).toEqual([5e-4, 5e-4]);
    expect(ref(999)).toBeCloseTo(5e-4 + 18 / 19 * 5e-4, 18);
    expect(def(999)).toBe(1e-3);
    expect(def(950)).toBe(1e-3);
    expect(def(949)).toBeCloseTo(5e-4 + 17 / 18 * 5e-4, 18);
    // The last segment absorbs T mod Q: with T = 205, L = 10 and rounds 190…204 are segment 19.
    expect(ref(204, 205)).toBe(ref(190, 205));
    expect(ref(189, 205)).toBeLessThan(ref(190, 205));
    // Q = 2: the one non-zero segment is λmax by default, λ0 in reference mode.
    expect(incrementalLambda(7, 10, { Q: 2 })).toBe(1e-3);
    expect(incrementalLambda(7, 10, { Q: 2, mode: 'reference' })).toBe(5e-4);
    // T < Q: each round is a segment rather than a division by zero.
    expect(incrementalLambda(3, 5, { Q: 20, mode: 'reference' })).toBeCloseTo(5e-4 + 2 / 19 * 5e-4, 18);
    expect(() => incrementalLambda(0, 10, { Q: 0 })).toThrow(/Q must be a positive integer/);
    expect(() => incrementalLambda(0, 10, { mode: 'paper' as 'default' })).toThrow(/mode must be/);
  });

  it('decay the learning rate and pick reconfiguration rounds', () => {
    expect(learningRate(0)).toBe(0.1);
    expect(learningRate(10)).toBeCloseTo(0.1 * 0.998 ** 10, 16);
    expect(learningRate(3, 0.05, 0.5)).toBe(0.00625);
    expect([0, 1, 4, 5, 10, 11].map((t) => isReconfigRound(t, 5))).toEqual([true, false, false, true, true, false]);
    expect(() => isReconfigRound(3, 0)).toThrow(/R must be a positive integer/);
    expect(() => learningRate(-1)).toThrow(InvalidArgumentError);
  });
});

describe('bit-packed masks', () => {
  it('pack LSB-first into 32-bit words and back, with zero tail bits and a matching popcount', () => {
    expect([...packBits([1, 0, 0, 1])]).toEqual([9]);
    const top = new Uint8Array(32); top[31] = 1;
    expect([...packBits(top)]).toEqual([0x80000000]);
    const r = new Rng(12);
    for (const n of [0, 1, 31, 32, 33, 64, 100, 1000]) {
      const m = Uint8Array.from({ length: n }, () => (r.uniform() < 0.3 ? 1 : 0));
      const words = packBits(m);
      expect(words.length).toBe(packedWords(n));
      expect(unpackBits(words, n)).toEqual(m);
      expect(popcount(words)).toBe(m.reduce((a, b) => a + b, 0));
      if (n % 32) expect(words[words.length - 1]! >>> (n % 32)).toBe(0);
    }
    // Any non-zero value is a kept entry (f32 masks, weights).
    expect([...packBits(Float32Array.from([0.5, 0, -2, Number.NaN]))]).toEqual([0b1101]);
    expect([popcount32(0), popcount32(0xffffffff), popcount32(0x80000001)]).toEqual([0, 32, 2]);
    expect(() => unpackBits(new Uint32Array(1), 33)).toThrow(/hold at most 32 bits, asked for 33/);
    expect(() => packBits(new Uint8Array(40), new Uint32Array(1))).toThrow(/2 words for 40 bits/);
  });
});
