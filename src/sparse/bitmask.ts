// Bit-packed masks: 1 bit per weight instead of 1 byte, for the wire and for checkpoints. Bit j of
// word w is entry 32·w + j (LSB first). Written out as little-endian words, which is what a
// Uint32Array's bytes are on every platform feddip runs on, the byte stream is also LSB-first per
// byte, the layout numpy.packbits(bitorder='little') produces.
import { InvalidArgumentError } from '../errors.ts';

/** Number of 32-bit words that hold n bits. */
export function packedWords(n: number): number {
  return Math.ceil(n / 32);
}

/** Packs a 0/1 array (any non-zero counts as 1) into bits; the unused tail bits are 0. */
export function packBits(mask: ArrayLike<number>, out?: Uint32Array): Uint32Array {
  const n = mask.length;
  const words = out ?? new Uint32Array(packedWords(n));
  if (!(words instanceof Uint32Array) || words.length !== packedWords(n)) {
    throw new InvalidArgumentError(`packBits: out must be a Uint32Array of ${packedWords(n)} words for ${n} bits`);
  }
  const full = n >>> 5;
  for (let w = 0; w < full; w++) {
    const base = w << 5;
    let v = 0;
    for (let j = 0; j < 32; j++) if (mask[base + j] !== 0) v |= 1 << j;
    words[w] = v;
  }
  if (full < words.length) {
    let v = 0;
    for (let i = full << 5, j = 0; i < n; i++, j++) if (mask[i] !== 0) v |= 1 << j;
    words[full] = v;
  }
  return words;
}

/** Unpacks the first n bits into a 0/1 Uint8Array. */
export function unpackBits(words: Uint32Array, n: number, out?: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0 || packedWords(n) > words.length) {
    throw new InvalidArgumentError(`unpackBits: ${words.length} words hold at most ${words.length * 32} bits, asked for ${n}`);
  }
  const mask = out ?? new Uint8Array(n);
  if (!(mask instanceof Uint8Array) || mask.length !== n) throw new InvalidArgumentError(`unpackBits: out must be a Uint8Array of ${n} elements`);
  for (let i = 0; i < n; i++) mask[i] = (words[i >>> 5]! >>> (i & 31)) & 1;
  return mask;
}

/** Set bits in one 32-bit word (SWAR count). */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Set bits in all words: the number of kept entries of a packed mask. */
export function popcount(words: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < words.length; i++) n += popcount32(words[i]!);
  return n;
}
