import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Rng, type RngState } from '../../src/index.ts';

const draws = (r: Rng, n: number) => Array.from({ length: n }, () => r.nextU32());

describe('Rng', () => {
  it('is xoshiro128**: matches the authors\' C code from a given state', () => {
    // Expected values from Blackman & Vigna's reference xoshiro128starstar.c, compiled and run.
    const r = Rng.fromState({ algorithm: 'xoshiro128**', words: [1, 2, 3, 4], spareNormal: null });
    expect(draws(r, 6)).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
    for (let i = 0; i < 994; i++) r.nextU32();
    expect(r.nextU32()).toBe(136054147);
    r.setState({ algorithm: 'xoshiro128**', words: [0xdeadbeef, 0x01234567, 0x89abcdef, 0xfedcba98], spareNormal: null });
    expect(draws(r, 4)).toEqual([2576977298, 1162350735, 558593417, 7144843]);
  });

  it('gives equal streams for equal seeds and different ones otherwise', () => {
    expect(draws(new Rng(42), 8)).toEqual(draws(new Rng(42), 8));
    expect(draws(new Rng('run-a'), 8)).toEqual(draws(new Rng('run-a'), 8));
    const seeds: Array<number | string> = [0, 1, -1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, '', '0', 'a', 'a\0', 'b'];
    const firsts = seeds.map((s) => draws(new Rng(s), 2).join(','));
    expect(new Set(firsts).size).toBe(seeds.length);
    for (const bad of [1.5, Number.NaN, Infinity, 2 ** 53]) expect(() => new Rng(bad)).toThrow(InvalidArgumentError);
  });

  it('draws uniforms in [0, 1) with the right mean and 53-bit resolution', () => {
    const r = new Rng(1);
    let sum = 0;
    let fine = false;
    for (let i = 0; i < 20000; i++) {
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
      // A 32-bit uniform is always a multiple of 2^-32; 53-bit ones almost never are.
      if ((u * 2 ** 32) % 1 !== 0) fine = true;
    }
    expect(Math.abs(sum / 20000 - 0.5)).toBeLessThan(0.01);
    expect(fine).toBe(true);
  });

  it('draws standard normals with mean 0 and variance 1, and scales them', () => {
    const r = new Rng(2);
    const n = 20000;
    let s = 0, s2 = 0;
    for (let i = 0; i < n; i++) { const z = r.normal(); s += z; s2 += z * z; }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
    const a = new Rng(3), b = new Rng(3);
    for (let i = 0; i < 5; i++) expect(a.normal(10, 0.5)).toBeCloseTo(10 + 0.5 * b.normal(), 12);
  });

  it('draws integers in [0, n) without modulo bias', () => {
    const r = new Rng(4);
    expect(r.int(1)).toBe(0);
    for (const n of [2, 3, 7, 1000, 2 ** 32, 2 ** 40 + 3]) {
      for (let i = 0; i < 200; i++) {
        const v = r.int(n);
        expect(Number.isInteger(v) && v >= 0 && v < n).toBe(true);
      }
    }
    // With n = 3·2^30, r % n on a raw 32-bit draw would land below 2^30 half of the time, not a third.
    const n = 3 * 2 ** 30;
    let low = 0;
    for (let i = 0; i < 30000; i++) if (r.int(n) < 2 ** 30) low++;
    expect(Math.abs(low / 30000 - 1 / 3)).toBeLessThan(0.015);
    // Large n exercise the 53-bit path: values must reach past 2^32.
    let above = false;
    for (let i = 0; i < 50; i++) if (r.int(2 ** 50) >= 2 ** 32) above = true;
    expect(above).toBe(true);
    for (const bad of [0, -1, 2.5, 2 ** 53 + 2, Number.NaN]) expect(() => r.int(bad)).toThrow(/integer in \[1, 2\^53\]/);
  });

  it('shuffles into a permutation, every position reachable', () => {
    const r = new Rng(5);
    const a = Array.from({ length: 50 }, (_, i) => i);
    const s = r.shuffle([...a]);
    expect([...s].sort((x, y) => x - y)).toEqual(a);
    expect(s).not.toEqual(a);
    const typed = r.shuffle(Int32Array.from(a));
    expect([...typed].sort((x, y) => x - y)).toEqual(a);
    // Element 0 of [0, 1, 2] ends up in each slot about a third of the time.
    const where = [0, 0, 0];
    for (let i = 0; i < 6000; i++) where[r.shuffle([0, 1, 2]).indexOf(0)]!++;
    for (const c of where) expect(Math.abs(c / 6000 - 1 / 3)).toBeLessThan(0.03);
    expect(new Rng(9).shuffle([...a])).toEqual(new Rng(9).shuffle([...a]));
  });

  it('samples k distinct values, the first k steps of a Fisher–Yates shuffle on either path', () => {
    for (const [n, k] of [[10, 0], [10, 10], [10, 3], [1000, 5], [1000, 300], [1, 1], [2 ** 40, 4]] as const) {
      const r = new Rng(n * 31 + k);
      const expected = r.clone();
      const got = r.sample(n, k);
      expect(got.length).toBe(k);
      expect(new Set(got).size).toBe(k);
      for (const v of got) expect(Number.isInteger(v) && v >= 0 && v < n).toBe(true);
      // Oracle: the same partial shuffle written out plainly.
      const slots = new Map<number, number>();
      const want = [];
      for (let i = 0; i < k; i++) {
        const j = i + expected.int(n - i);
        const vj = slots.get(j) ?? j;
        slots.set(j, slots.get(i) ?? i);
        want.push(vj);
      }
      expect(got).toEqual(want);
      expect(r.nextU32()).toBe(expected.nextU32());
    }
    expect(() => new Rng(0).sample(3, 4)).toThrow(InvalidArgumentError);
  });

  it('forks named streams without advancing the parent, and splits by advancing it', () => {
    const root = new Rng(7);
    const before = root.getState();
    const a1 = draws(root.fork('clients'), 4);
    const a2 = draws(root.fork('clients'), 4);
    const b = draws(root.fork('partition'), 4);
    expect(root.getState()).toEqual(before);
    expect(a1).toEqual(a2);
    expect(b).not.toEqual(a1);
    expect(a1).not.toEqual(draws(root.clone(), 4));
    // A fork depends on the parent's state, not only on the label.
    expect(draws(new Rng(8).fork('clients'), 4)).not.toEqual(a1);
    const s1 = root.split();
    expect(root.getState()).not.toEqual(before);
    const s2 = root.split();
    expect(draws(s1, 4)).not.toEqual(draws(s2, 4));
  });

  it('round-trips its state through JSON and resumes bit-exactly, pending normal included', () => {
    const r = new Rng('checkpoint');
    draws(r, 17);
    r.normal(); // leaves the pair's second value pending
    const saved = JSON.parse(JSON.stringify(r.getState())) as RngState;
    expect(saved.spareNormal).not.toBeNull();
    const resumed = Rng.fromState(saved);
    for (let i = 0; i < 50; i++) {
      expect(resumed.normal()).toBe(r.normal());
      expect(resumed.uniform()).toBe(r.uniform());
      expect(resumed.int(1000)).toBe(r.int(1000));
    }
    const bad = [
      { algorithm: 'pcg32', words: [1, 2, 3, 4], spareNormal: null },
      { algorithm: 'xoshiro128**', words: [1, 2, 3], spareNormal: null },
      { algorithm: 'xoshiro128**', words: [1, 2, 3, 2 ** 32], spareNormal: null },
      { algorithm: 'xoshiro128**', words: [0, 0, 0, 0], spareNormal: null },
      { algorithm: 'xoshiro128**', words: [1, 2, 3, 4], spareNormal: Number.NaN },
    ];
    for (const state of bad) expect(() => r.setState(state as RngState)).toThrow(InvalidArgumentError);
  });
});
