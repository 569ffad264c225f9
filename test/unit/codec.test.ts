// The wire frame: exact round trips, the cheapest encoding per segment, fp16, and untrusted bytes
// that can only ever produce a CodecError.
import { describe, expect, it } from 'vitest';
import { codec, CodecError, lenet5, Rng, sparse } from '../../src/index.ts';

const { encodeFrame, decodeFrame, decodeSparseFrame, toHalf, fromHalf, crc32 } = codec;

function sparseVector(n: number, density: number, rng: Rng): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) if (rng.uniform() < density) v[i] = rng.normal();
  return v;
}

const base = { kind: 'update' as const, round: 7, layoutHash: '0a1b2c3d' };

describe('frame codec', () => {
  it('computes the standard CRC-32, at every length and offset (slicing-by-8 against bit by bit)', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const bitwise = (b: Uint8Array, start: number, end: number) => {
      let c = 0xffffffff;
      for (let i = start; i < end; i++) {
        c ^= b[i]!;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      return (c ^ 0xffffffff) >>> 0;
    };
    const rng = new Rng(9);
    const bytes = Uint8Array.from({ length: 300 }, () => rng.int(256));
    for (let start = 0; start < 9; start++) for (let end = start; end <= bytes.length; end += 7) expect(crc32(bytes, start, end)).toBe(bitwise(bytes, start, end));
  });

  it('decodes into lists of sent entries, the same entries as the full decoder, in reused storage', () => {
    const rng = new Rng(4);
    const scratch = { indices: new Uint32Array(0), values: new Float32Array(0) };
    for (const density of [0, 0.01, 0.05, 0.3, 1]) {
      for (const fp16 of [false, true]) {
        const v = sparseVector(4000, density, rng);
        const bytes = encodeFrame(v, { ...base, segmentSizes: [1, 999, 3000], fp16 });
        const full = decodeFrame(bytes);
        const sparse = decodeSparseFrame(bytes, { kind: 'update', length: 4000 }, scratch);
        expect(sparse).toMatchObject({ kind: 'update', round: 7, layoutHash: '0a1b2c3d', fp16, length: 4000, sentCount: full.sentCount });
        expect(Array.from(sparse.indices)).toEqual(Array.from(full.sent.keys()).filter((i) => full.sent[i]));
        expect(Array.from(sparse.values)).toEqual(Array.from(sparse.indices, (i) => full.values[i]!));
        expect(scratch.indices.buffer).toBe(sparse.indices.buffer); // the scratch grew and is reused
      }
    }
    const grown = scratch.indices;
    decodeSparseFrame(encodeFrame(sparseVector(4000, 0.05, rng), { ...base, segmentSizes: [4000] }), {}, scratch);
    expect(scratch.indices).toBe(grown); // big enough already: no new allocation
  });

  it('round-trips values and the sent set exactly in fp32, at every density', () => {
    const rng = new Rng(1);
    for (const density of [0, 0.001, 0.05, 0.3, 0.9, 1]) {
      const v = sparseVector(5000, density, rng);
      const bytes = encodeFrame(v, { ...base, segmentSizes: [1000, 3000, 1000] });
      const d = decodeFrame(bytes, { kind: 'update', layoutHash: '0a1b2c3d', length: 5000 });
      expect(d.round).toBe(7);
      expect(Array.from(d.values)).toEqual(Array.from(v));
      expect(d.sentCount).toBe(v.filter((x) => x !== 0).length);
    }
  });

  it('sends exactly the entries of a given mask, zeros included', () => {
    const v = Float32Array.from([0, 1.5, 0, -2, 3]);
    const sent = Uint8Array.from([1, 1, 0, 1, 0]);
    const d = decodeFrame(encodeFrame(v, { ...base, kind: 'model', segmentSizes: [5], sent }));
    expect(Array.from(d.sent)).toEqual([1, 1, 0, 1, 0]);
    expect(Array.from(d.values)).toEqual([0, 1.5, 0, -2, 0]);
  });

  it('picks the smallest encoding: a LeNet-5 at 95 % sparsity costs far less than dense fp32', () => {
    const model = lenet5();
    const rng = new Rng(2);
    const w = Float32Array.from({ length: model.layout.size }, () => rng.normal());
    const mask = sparse.globalMagnitudeMask(w, model.layout.segments, 0.95);
    const sizes = model.layout.segments.map((s) => s.size);
    const dense = encodeFrame(w, { ...base, segmentSizes: sizes, sent: new Uint8Array(w.length).fill(1) });
    const pruned = encodeFrame(w, { ...base, segmentSizes: sizes, sent: mask });
    const half = encodeFrame(w, { ...base, segmentSizes: sizes, sent: mask, fp16: true });
    expect(dense.length).toBeGreaterThanOrEqual(4 * w.length);
    expect(pruned.length).toBeLessThan(dense.length / 10);
    expect(half.length).toBeLessThan(pruned.length * 0.7);
  });

  it('converts to and from fp16 with round-to-nearest-even', () => {
    for (const x of [0, 1, -2.5, 65504, 1e-8, 6.1e-5, 0.1, 3.14159]) {
      const back = fromHalf(toHalf(x));
      expect(Math.abs(back - x)).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -11, 2 ** -25));
    }
    expect(fromHalf(toHalf(1e6))).toBe(Infinity);
    expect(Number.isNaN(fromHalf(toHalf(NaN)))).toBe(true);
    expect(toHalf(1 + 2 ** -11)).toBe(toHalf(1)); // tie → even
  });

  it('rejects frames for another layout, kind or length with a clear message', () => {
    const bytes = encodeFrame(Float32Array.from([1, 0, 2]), { ...base, segmentSizes: [3] });
    expect(() => decodeFrame(bytes, { layoutHash: 'ffffffff' })).toThrow(/layout 0a1b2c3d, expected ffffffff/);
    expect(() => decodeFrame(bytes, { kind: 'model' })).toThrow(/expected a model frame, got a update frame/);
    expect(() => decodeFrame(bytes, { length: 4 })).toThrow(/carries 3 entries, expected 4/);
    expect(() => decodeFrame(bytes, { maxBytes: 10 })).toThrow(/exceeds the limit/);
  });

  it('never throws anything but a CodecError on corrupted, truncated or random bytes', () => {
    const rng = new Rng(3);
    const good = encodeFrame(sparseVector(300, 0.2, rng), { ...base, segmentSizes: [100, 200] });
    const attempts: Uint8Array[] = [];
    for (let i = 0; i < good.length; i++) {
      const flipped = good.slice();
      flipped[i]! ^= 1 << rng.int(8);
      attempts.push(flipped, good.slice(0, i));
    }
    for (let k = 0; k < 300; k++) attempts.push(Uint8Array.from({ length: rng.int(200) }, () => rng.int(256)));
    const scratch = { indices: new Uint32Array(0), values: new Float32Array(0) };
    for (const bytes of attempts) {
      for (const decode of [() => decodeFrame(bytes), () => decodeSparseFrame(bytes, {}, scratch)]) {
        try {
          decode();
          throw new Error('decoded a damaged frame');
        } catch (error) {
          expect(error).toBeInstanceOf(CodecError);
        }
      }
    }
  });

  it('checks every length against the bytes even when the checksum is valid (crafted frames)', () => {
    const good = encodeFrame(Float32Array.from([1, 0, 0, 2, 0, 0, 0, 0, 0, 0]), { ...base, segmentSizes: [4, 6] });
    const reseal = (bytes: Uint8Array) => {
      new DataView(bytes.buffer).setUint32(bytes.length - 4, crc32(bytes, 0, bytes.length - 4), true);
      return bytes;
    };
    const at = (offset: number, value: number) => {
      const b = good.slice();
      new DataView(b.buffer).setUint32(offset, value, true);
      return reseal(b);
    };
    const cases = [at(16, 0xffffffff), at(20, 0xffffffff), at(20, 1), at(25, 0x7fffffff), at(29, 99), at(16, 11)];
    for (const bytes of cases) {
      expect(() => decodeFrame(bytes)).toThrow(CodecError);
      expect(() => decodeSparseFrame(bytes)).toThrow(CodecError);
    }
  });

  it('allocates nothing a crafted count asks for before the bytes are there to back it', () => {
    // 41 bytes, checksum valid, one index-coded segment claiming 2^27 of 2^28 entries: refused
    // on the byte count, without a 512 MiB index list.
    const bytes = new Uint8Array(24 + 9 + 4 + 4);
    const view = new DataView(bytes.buffer);
    bytes.set([0x46, 0x44, 0x49, 0x50, 1, 2, 0, 0]);
    view.setUint32(16, 2 ** 28, true);
    view.setUint32(20, 1, true);
    bytes[24] = 2; // indices
    view.setUint32(25, 2 ** 28, true);
    view.setUint32(29, 2 ** 27, true);
    view.setUint32(bytes.length - 4, crc32(bytes, 0, bytes.length - 4), true);
    const scratch = { indices: new Uint32Array(0), values: new Float32Array(0) };
    expect(() => decodeSparseFrame(bytes, {}, scratch)).toThrow(/segment 0 indices and values needs/);
    expect(scratch.indices.length).toBeLessThan(64);
  });
});
