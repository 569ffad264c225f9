// Partitions among clients: exact counts, determinism per seed, a disjoint and complete cover,
// Dirichlet skew that grows as alpha shrinks, and the spec parser's messages.
import { describe, expect, it } from 'vitest';
import { data, InvalidArgumentError, Rng } from '../../src/index.ts';

/** Unbalanced labels: class c has 50 + 13·c samples, shuffled by a fixed rule. */
function makeLabels(classes = 10): Int32Array {
  const out: number[] = [];
  for (let c = 0; c < classes; c++) for (let k = 0; k < 50 + 13 * c; k++) out.push(c);
  const rng = new Rng('labels');
  return Int32Array.from(rng.shuffle(out));
}

function expectExactCover(parts: Int32Array[], n: number): void {
  const seen = new Uint8Array(n);
  for (const p of parts) {
    for (let k = 0; k < p.length; k++) {
      expect(seen[p[k]!]).toBe(0);
      seen[p[k]!] = 1;
      if (k) expect(p[k]!).toBeGreaterThan(p[k - 1]!);
    }
  }
  expect(seen.every((v) => v === 1)).toBe(true);
}

const spread = (v: ArrayLike<number>) => Math.max(...Array.from(v)) - Math.min(...Array.from(v));

describe('partition', () => {
  const labels = makeLabels();
  const n = labels.length;

  it('iid: every client gets every class count ±1 and the same total ±1, an exact cover', () => {
    for (const clients of [1, 7, 50]) {
      const parts = data.partition(labels, clients, 'iid', new Rng(1));
      expect(parts).toHaveLength(clients);
      expectExactCover(parts, n);
      const s = data.partitionSummary(labels, parts, 10);
      expect(spread(s.counts)).toBeLessThanOrEqual(1);
      for (let c = 0; c < 10; c++) {
        const perClient = s.histograms.map((h) => h[c]!);
        expect(spread(perClient)).toBeLessThanOrEqual(1);
        expect(perClient.reduce((a, b) => a + b, 0)).toBe(50 + 13 * c);
      }
    }
  });

  it('is deterministic for a seed and differs between seeds, for every kind', () => {
    for (const spec of ['iid', 'dirichlet:0.5', 'pathological:2']) {
      const a = data.partition(labels, 9, spec, new Rng(42));
      const b = data.partition(labels, 9, spec, new Rng(42));
      const c = data.partition(labels, 9, spec, new Rng(43));
      expect(a.map((p) => Array.from(p))).toEqual(b.map((p) => Array.from(p)));
      expect(a.map((p) => Array.from(p))).not.toEqual(c.map((p) => Array.from(p)));
    }
  });

  it('dirichlet: an exact cover, no empty client, and skew that grows as alpha shrinks', () => {
    const clients = 10;
    const meanMaxShare: number[] = [];
    for (const alpha of [100, 1, 0.1]) {
      const parts = data.partition(labels, clients, { kind: 'dirichlet', alpha }, new Rng(`d${alpha}`));
      expectExactCover(parts, n);
      expect(parts.every((p) => p.length >= 1)).toBe(true);
      const s = data.partitionSummary(labels, parts, 10);
      // The share of a client's largest class: 1/10 for perfectly mixed data, 1 for one class.
      meanMaxShare.push(s.histograms.reduce((acc, h, c) => acc + Math.max(...h) / s.counts[c]!, 0) / clients);
    }
    expect(meanMaxShare[0]!).toBeLessThan(0.2);
    expect(meanMaxShare[1]!).toBeGreaterThan(meanMaxShare[0]!);
    expect(meanMaxShare[2]!).toBeGreaterThan(meanMaxShare[1]!);
    expect(meanMaxShare[2]!).toBeGreaterThan(0.5);
  });

  it('dirichlet: redraws until every client has minSize samples, and says when it cannot', () => {
    // With this seed the first draw leaves a client with 41 samples, so minSize 45 forces redraws.
    const first = data.partition(labels, 10, 'dirichlet:0.3', new Rng(3), { minSize: 0 });
    expect(Math.min(...first.map((p) => p.length))).toBeLessThan(45);
    const parts = data.partition(labels, 10, 'dirichlet:0.3', new Rng(3), { minSize: 45 });
    expectExactCover(parts, n);
    expect(Math.min(...parts.map((p) => p.length))).toBeGreaterThanOrEqual(45);
    expect(() => data.partition(labels, 50, 'dirichlet:0.001', new Rng(3), { minSize: 20, maxTries: 3 }))
      .toThrow(/no Dirichlet\(0.001\) draw in 3 tries gave every one of 50 clients at least 20 samples/);
  });

  it('pathological: clients·k equal shards of label-sorted data, k per client', () => {
    // 5 classes of 60: 10 clients × 3 shards of 10 samples; shards never straddle a class.
    const even = Int32Array.from({ length: 300 }, (_, i) => i % 5);
    const parts = data.partition(even, 10, 'pathological:3', new Rng(5));
    expectExactCover(parts, 300);
    const s = data.partitionSummary(even, parts, 5);
    expect(s.counts).toEqual(new Array(10).fill(30));
    for (const h of s.histograms) {
      for (const v of h) expect(v % 10).toBe(0); // whole shards only
      expect(s.classesPresent[s.histograms.indexOf(h)]).toBeLessThanOrEqual(3);
    }
    const uneven = data.partition(labels, 12, 'pathological:2', new Rng(5));
    expectExactCover(uneven, n);
    expect(spread(uneven.map((p) => p.length))).toBeLessThanOrEqual(2);
    expect(() => data.partition(Int32Array.of(0, 1, 0), 2, 'pathological:2', new Rng(1))).toThrow(/needs 4 shards .* only 3 samples/);
  });

  it('rejects bad arguments with typed errors', () => {
    expect(() => data.partition(labels, 0, 'iid', new Rng(1))).toThrow(InvalidArgumentError);
    expect(() => data.partition(Int32Array.of(0, -1), 2, 'iid', new Rng(1))).toThrow(/label 1 is -1/);
    expect(() => data.partition(Int32Array.of(0, 5), 2, 'iid', new Rng(1), { classes: 3 })).toThrow(/label 5 is outside the 3 classes/);
  });
});

describe('parsePartitionSpec', () => {
  it('reads the three kinds and writes them back', () => {
    expect(data.parsePartitionSpec('iid')).toEqual({ kind: 'iid' });
    expect(data.parsePartitionSpec(' Dirichlet:0.5 ')).toEqual({ kind: 'dirichlet', alpha: 0.5 });
    expect(data.parsePartitionSpec('dirichlet:1e-2')).toEqual({ kind: 'dirichlet', alpha: 0.01 });
    expect(data.parsePartitionSpec('pathological:2')).toEqual({ kind: 'pathological', k: 2 });
    for (const s of ['iid', 'dirichlet:0.5', 'pathological:2']) expect(data.formatPartitionSpec(data.parsePartitionSpec(s))).toBe(s);
  });

  it('says what is wrong and what is expected', () => {
    expect(() => data.parsePartitionSpec('dirichlet')).toThrow(/alpha must be a positive number, e.g. dirichlet:0.5/);
    expect(() => data.parsePartitionSpec('dirichlet:-1')).toThrow(/alpha must be a positive number/);
    expect(() => data.parsePartitionSpec('dirichlet:abc')).toThrow(InvalidArgumentError);
    expect(() => data.parsePartitionSpec('pathological:1.5')).toThrow(/k must be a positive integer/);
    expect(() => data.parsePartitionSpec('iid:3')).toThrow(/iid takes no parameter/);
    expect(() => data.parsePartitionSpec('shards:2')).toThrow(/unknown kind 'shards'; expected 'iid', 'dirichlet:<alpha>'/);
  });
});

describe('Dirichlet sampling', () => {
  it('draws points of the simplex whose mean is uniform, even for tiny alpha', () => {
    const rng = new Rng('dir');
    const mean = new Float64Array(4);
    for (let t = 0; t < 2000; t++) {
      const p = data.dirichlet(2, 4, rng);
      expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      p.forEach((v, j) => { mean[j] = mean[j]! + v / 2000; });
    }
    for (const m of mean) expect(m).toBeCloseTo(0.25, 1);
    const tiny = data.dirichlet(0.001, 5, rng);
    expect(tiny.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(Math.max(...tiny)).toBeGreaterThan(0.99);
  });

  it('Gamma(shape) has mean shape and variance shape, above and below 1', () => {
    const rng = new Rng('gamma');
    for (const shape of [0.3, 1, 4.5]) {
      let s = 0;
      let s2 = 0;
      const N = 20000;
      for (let i = 0; i < N; i++) {
        const g = Math.exp(data.logGamma(shape, rng));
        s += g;
        s2 += g * g;
      }
      const mean = s / N;
      expect(mean).toBeCloseTo(shape, 1);
      expect((s2 / N - mean * mean) / shape).toBeGreaterThan(0.9);
      expect((s2 / N - mean * mean) / shape).toBeLessThan(1.1);
    }
  });
});

describe('partitionSummary', () => {
  it('counts classes per client and formats a table', () => {
    const labels = Int32Array.of(0, 1, 1, 2, 2, 2);
    const s = data.partitionSummary(labels, [Int32Array.of(0, 3), Int32Array.of(1, 2, 4, 5)], 3);
    expect(s.counts).toEqual([2, 4]);
    expect(s.histograms.map((h) => Array.from(h))).toEqual([[1, 0, 1], [0, 2, 2]]);
    expect(s.classesPresent).toEqual([2, 2]);
    expect(data.formatPartitionSummary(s)).toBe([
      'client  samples  c0  c1  c2',
      '     0        2   1   0   1',
      '     1        4   0   2   2',
      '2 clients, 6 samples: min 2, max 4, mean 3.0 per client',
    ].join('\n'));
    const compact = data.formatPartitionSummary(s, { maxClassColumns: 2 });
    expect(compact.split('\n')[0]).toBe('client  samples  classes  largest');
    expect(compact.split('\n')[2]).toBe('     1        4        2  1:2 2:2');
    expect(() => data.partitionSummary(labels, [Int32Array.of(9)], 3)).toThrow(/client 0 holds index 9/);
  });
});
