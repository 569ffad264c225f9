// A small seedable PRNG for everything random in a run (partitions, client selection, shuffles,
// initial weights, random masks), so that one run seed reproduces a run and a checkpointed state
// resumes it bit-exactly. Generator: xoshiro128** (Blackman & Vigna), chosen because it needs only
// 32-bit integer operations, which JavaScript does exactly and fast (Math.imul, >>>), unlike the
// 64-bit multiplies of PCG or xoshiro256 that would need BigInt. Period 2^128 − 1.
import { InvalidArgumentError } from '../errors.ts';

/** A generator's complete state as plain JSON data (for checkpoints). */
export interface RngState {
  algorithm: 'xoshiro128**';
  /** The four 32-bit state words, as unsigned integers. */
  words: [number, number, number, number];
  /** The second normal of the last polar-method pair, not yet handed out (null if none). */
  spareNormal: number | null;
}

const TWO_32 = 4294967296;
const TWO_53 = 9007199254740992;
const GOLDEN = 0x9e3779b9;
const INV_2_32 = 1 / TWO_32;
const INV_2_16 = 1 / 65536;

/** murmur3's 32-bit finaliser: a bijection that spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Turns any amount of seed material into four well-mixed state words. Each word is a different
 * chain over all the material, so two seeds collide only if all four 32-bit chains collide. A
 * zero state (the one state xoshiro cannot leave) is replaced by a fixed non-zero one.
 */
function expand(material: readonly number[]): [number, number, number, number] {
  const words: [number, number, number, number] = [0, 0, 0, 0];
  for (let lane = 0; lane < 4; lane++) {
    let h = fmix32(Math.imul(GOLDEN, lane + 1));
    for (const m of material) h = (fmix32((h ^ m) >>> 0) + GOLDEN) >>> 0;
    words[lane] = fmix32(h ^ material.length);
  }
  if ((words[0] | words[1] | words[2] | words[3]) === 0) words[0] = GOLDEN;
  return words;
}

/** UTF-8 bytes of a string, four to a word, then the byte count (so 'a' and 'a\0' differ). */
function stringMaterial(text: string, tag: number): number[] {
  const bytes = new TextEncoder().encode(text);
  const out = [tag];
  for (let i = 0; i < bytes.length; i += 4) {
    out.push((bytes[i]! | (bytes[i + 1] ?? 0) << 8 | (bytes[i + 2] ?? 0) << 16 | (bytes[i + 3] ?? 0) << 24) >>> 0);
  }
  out.push(bytes.length);
  return out;
}

// Domain tags keep seeds of different kinds (a number, a string, a fork, a split) from ever
// producing the same material.
const TAG_NUMBER = 0x6e756d31;
const TAG_STRING = 0x73747231;
const TAG_FORK = 0x666f726b;
const TAG_SPLIT = 0x73706c74;

function seedMaterial(seed: number | string): number[] {
  if (typeof seed === 'string') return stringMaterial(seed, TAG_STRING);
  if (!Number.isSafeInteger(seed)) {
    throw new InvalidArgumentError(`Rng: the seed must be a safe integer or a string, got ${String(seed)}`);
  }
  const hi = Math.floor(seed / TWO_32);
  return [TAG_NUMBER, (seed - hi * TWO_32) >>> 0, hi >>> 0];
}

export class Rng {
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  #spare: number | null = null;

  /** Seeds from a safe integer (negative allowed) or a string; equal seeds give equal streams. */
  constructor(seed: number | string = 0) {
    this.#load(expand(seedMaterial(seed)), null);
  }

  /** A generator resuming exactly where `state` was taken. */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  /** The next 32 random bits as an unsigned integer in [0, 2^32). */
  nextU32(): number {
    const s0 = this.#s0, s1 = this.#s1;
    let s2 = this.#s2, s3 = this.#s3;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    this.#s1 = s1 ^ s2;
    this.#s0 = s0 ^ s3;
    this.#s2 = s2 ^ t;
    this.#s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (every double of the form k·2^−53). */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_53;
  }

  /**
   * Standard normal N(mean, std²) by Marsaglia's polar method, which needs only sqrt (exact in IEEE
   * arithmetic) and log, not sin/cos. Pairs are produced together; the second is kept in the state.
   * Bit-exact reproduction across engines rests on Math.log agreeing, which holds for V8-based
   * runtimes (Node, Deno, Chromium) but is not promised by the language.
   */
  normal(mean = 0, std = 1): number {
    if (this.#spare !== null) {
      const z = this.#spare;
      this.#spare = null;
      return mean + std * z;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt(-2 * Math.log(s) / s);
    this.#spare = v * f;
    return mean + std * u * f;
  }

  /** Uniform integer in [0, n) without modulo bias, for 1 ≤ n ≤ 2^53. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_53) {
      throw new InvalidArgumentError(`Rng.int: n must be an integer in [1, 2^53], got ${n}`);
    }
    if (n <= TWO_32) {
      // Lemire's multiply-and-reject: the high word of the 64-bit product r·n is the result, and
      // draws whose low word falls below 2^32 mod n are rejected, which removes the bias exactly.
      // The product is formed from two 16×32-bit halves so every step is exact in doubles, and
      // the slow floating-point modulo runs only in the rare case lo < n.
      let reject = -1;
      for (;;) {
        const r = this.nextU32();
        const a = (r & 0xffff) * n; // < 2^48
        const b = (r >>> 16) * n; // < 2^48, weighs 2^16
        const aHi = Math.floor(a * INV_2_32); // exact: powers of two
        const bHi = Math.floor(b * INV_2_16);
        let lo = (a - aHi * TWO_32) + (b - bHi * 65536) * 65536;
        let hi = aHi + bHi;
        if (lo >= TWO_32) { lo -= TWO_32; hi++; }
        if (lo >= n) return hi;
        if (reject < 0) reject = (TWO_32 - n) % n;
        if (lo >= reject) return hi;
      }
    }
    const limit = TWO_53 - (TWO_53 % n);
    for (;;) {
      const x = (this.nextU32() >>> 5) * 67108864 + (this.nextU32() >>> 6);
      if (x < limit) return x % n;
    }
  }

  /** Shuffles in place (Fisher–Yates: every permutation equally likely) and returns the array. */
  shuffle<A extends { length: number; [index: number]: unknown }>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /**
   * k distinct integers of [0, n), in random order (every ordered k-subset equally likely). It is
   * the first k steps of a Fisher–Yates shuffle of 0…n−1; for small k the untouched part of that
   * array is virtual (a Map of the swapped slots), so memory is O(k) and the result is the same.
   */
  sample(n: number, k: number): number[] {
    if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(k) || k < 0 || k > n) {
      throw new InvalidArgumentError(`Rng.sample: need integers 0 ≤ k ≤ n, got n = ${n}, k = ${k}`);
    }
    const out = new Array<number>(k);
    if (4 * k >= n && n <= 0x7fffffff) {
      const v = new Int32Array(n);
      for (let i = 0; i < n; i++) v[i] = i;
      for (let i = 0; i < k; i++) {
        const j = i + this.int(n - i);
        const vj = v[j]!;
        v[j] = v[i]!;
        v[i] = vj;
        out[i] = vj;
      }
      return out;
    }
    const swapped = new Map<number, number>();
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const vj = swapped.get(j) ?? j;
      swapped.set(j, swapped.get(i) ?? i);
      out[i] = vj;
    }
    return out;
  }

  /**
   * An independent stream named by `label`, derived from this generator's current state without
   * advancing it: the same state and label always give the same child, different labels give
   * unrelated children. Fork the named streams of a run (e.g. 'partition', 'clients', 'init') from
   * the root generator before drawing from it.
   */
  fork(label: string): Rng {
    const r = new Rng(0);
    r.#load(expand([this.#s0 >>> 0, this.#s1 >>> 0, this.#s2 >>> 0, this.#s3 >>> 0, ...stringMaterial(label, TAG_FORK)]), null);
    return r;
  }

  /** An independent stream seeded from four draws of this one (advances this generator). */
  split(): Rng {
    const r = new Rng(0);
    r.#load(expand([TAG_SPLIT, this.nextU32(), this.nextU32(), this.nextU32(), this.nextU32()]), null);
    return r;
  }

  /** An identical copy that then evolves on its own. */
  clone(): Rng {
    return Rng.fromState(this.getState());
  }

  getState(): RngState {
    return {
      algorithm: 'xoshiro128**',
      words: [this.#s0 >>> 0, this.#s1 >>> 0, this.#s2 >>> 0, this.#s3 >>> 0],
      spareNormal: this.#spare,
    };
  }

  setState(state: RngState): void {
    const words = state?.words;
    if (state?.algorithm !== 'xoshiro128**' || !Array.isArray(words) || words.length !== 4
      || words.some((w) => !Number.isInteger(w) || w < 0 || w >= TWO_32)) {
      throw new InvalidArgumentError(`Rng.setState: expected {algorithm: 'xoshiro128**', words: four uint32, spareNormal}, got ${JSON.stringify(state)}`);
    }
    if ((words[0] | words[1] | words[2] | words[3]) === 0) {
      throw new InvalidArgumentError('Rng.setState: an all-zero xoshiro state never changes; it cannot come from a generator');
    }
    const spare = state.spareNormal ?? null;
    if (spare !== null && !Number.isFinite(spare)) {
      throw new InvalidArgumentError(`Rng.setState: spareNormal must be a finite number or null, got ${String(spare)}`);
    }
    this.#load(words, spare);
  }

  #load(words: readonly number[], spare: number | null): void {
    this.#s0 = words[0]! | 0;
    this.#s1 = words[1]! | 0;
    this.#s2 = words[2]! | 0;
    this.#s3 = words[3]! | 0;
    this.#spare = spare;
  }
}
