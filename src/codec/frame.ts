// The wire format for models, masks and updates: one versioned, checksummed frame per message.
//
//   header  'FDIP' · version u8 · kind u8 · flags u8 · 0 u8 · round u32 · layout hash u32 ·
//           vector length u32 · segment count u32
//   body    per segment: encoding u8 · size u32 · sent u32 · payload
//             dense   : size values                       (used when nearly everything is sent)
//             bitmask : ⌈size/8⌉ bytes, LSB first · sent values
//             indices : sent LEB128 gaps between successive sent indices · sent values
//           the encoder picks whichever of the three is smallest for that segment
//   trailer CRC-32 of everything before it
// Values are little-endian fp32, or fp16 when flags bit 0 is set. All integers little-endian.
// Decoding never trusts a length before checking it against the bytes that are actually there.
import { CodecError } from '../errors.ts';
import { crc32 } from './crc32.ts';
import { fromHalf, toHalf } from './half.ts';

export const FRAME_VERSION = 1;
const MAGIC = [0x46, 0x44, 0x49, 0x50]; // "FDIP"
const HEADER_BYTES = 24;
const SEGMENT_HEADER_BYTES = 9;
const FLAG_FP16 = 1;

export type FrameKind = 'model' | 'update' | 'mask';
const KIND_CODES: Record<FrameKind, number> = { model: 1, update: 2, mask: 3 };
const KIND_NAMES = ['', 'model', 'update', 'mask'] as const;

const enum Encoding { Dense = 0, Bitmask = 1, Indices = 2 }

export interface EncodeOptions {
  kind: FrameKind;
  round: number;
  /** ParamLayout.hash(): 8 hex digits. */
  layoutHash: string;
  /** Sizes of the segments, in order; they must add up to the vector's length. */
  segmentSizes: readonly number[];
  /** Which entries are sent (1) — a model's mask, an update's top-k. Default: the non-zero entries. */
  sent?: Uint8Array;
  /** Send values as fp16 (half the bytes; ~3 significant digits). */
  fp16?: boolean;
}

export interface DecodeOptions {
  /** Refuse frames larger than this (default 256 MiB). */
  maxBytes?: number;
  /** Refuse frames of another kind. */
  kind?: FrameKind;
  /** Refuse frames made for another model layout. */
  layoutHash?: string;
  /** Refuse frames whose vector has another length. */
  length?: number;
}

/** The header fields every decoder returns. */
export interface FrameInfo {
  kind: FrameKind;
  round: number;
  layoutHash: string;
  fp16: boolean;
  /** Length of the full vector. */
  length: number;
  /** Number of entries sent. */
  sentCount: number;
}

/**
 * A frame as the list of its sent entries: `indices` (ascending, each once) and their `values`,
 * `sentCount` long. They are views into the caller's scratch arrays when those are big enough, so
 * a receiver that folds many frames allocates nothing per frame.
 */
export interface SparseFrame extends FrameInfo {
  indices: Uint32Array;
  values: Float32Array;
}

/** Reusable storage for decodeSparseFrame; it grows (is replaced) when a frame needs more. */
export interface SparseScratch {
  indices: Uint32Array;
  values: Float32Array;
}

export interface DecodedFrame {
  kind: FrameKind;
  round: number;
  layoutHash: string;
  fp16: boolean;
  /** The full-length vector: sent entries hold their values, the others 0. */
  values: Float32Array;
  /** 1 where an entry was sent. */
  sent: Uint8Array;
  /** Number of entries sent. */
  sentCount: number;
}

// ---------------------------------------------------------------- encoding

function varintBytes(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

export function encodeFrame(values: Float32Array, options: EncodeOptions): Uint8Array {
  const { segmentSizes, fp16 = false } = options;
  const total = segmentSizes.reduce((a, b) => a + b, 0);
  if (total !== values.length) throw new CodecError(`encodeFrame: segments cover ${total} entries but the vector has ${values.length}`);
  if (options.sent && options.sent.length !== values.length) throw new CodecError(`encodeFrame: 'sent' has ${options.sent.length} entries, the vector ${values.length}`);
  if (!/^[0-9a-f]{8}$/.test(options.layoutHash)) throw new CodecError(`encodeFrame: layoutHash must be 8 hex digits, got '${options.layoutHash}'`);
  if (!Number.isSafeInteger(options.round) || options.round < 0 || options.round > 0xffffffff) throw new CodecError(`encodeFrame: round must be a u32, got ${options.round}`);
  const mask = options.sent;
  const valueBytes = fp16 ? 2 : 4;

  // Pass 1: per segment, what is sent and what each encoding would cost; the cheapest wins. The
  // frame's exact size follows, so pass 2 writes into one buffer without bounds juggling.
  const encodings = new Uint8Array(segmentSizes.length);
  const counts = new Uint32Array(segmentSizes.length);
  let bytes = HEADER_BYTES + 4;
  let offset = 0;
  segmentSizes.forEach((size, s) => {
    let sent = 0;
    let indexBytes = 0;
    let last = -1;
    for (let i = 0; i < size; i++) {
      if (mask ? mask[offset + i] === 0 : values[offset + i] === 0) continue;
      indexBytes += varintBytes(i - last - 1);
      last = i;
      sent++;
    }
    const denseCost = size * valueBytes;
    const bitmaskCost = Math.ceil(size / 8) + sent * valueBytes;
    const indexCost = indexBytes + sent * valueBytes;
    const encoding = denseCost <= bitmaskCost && denseCost <= indexCost ? Encoding.Dense : bitmaskCost <= indexCost ? Encoding.Bitmask : Encoding.Indices;
    encodings[s] = encoding;
    counts[s] = encoding === Encoding.Dense ? size : sent;
    bytes += SEGMENT_HEADER_BYTES + (encoding === Encoding.Dense ? denseCost : encoding === Encoding.Bitmask ? bitmaskCost : indexCost);
    offset += size;
  });

  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = FRAME_VERSION;
  out[5] = KIND_CODES[options.kind];
  out[6] = fp16 ? FLAG_FP16 : 0;
  view.setUint32(8, options.round, true);
  view.setUint32(12, parseInt(options.layoutHash, 16) >>> 0, true);
  view.setUint32(16, values.length, true);
  view.setUint32(20, segmentSizes.length, true);
  let at = HEADER_BYTES;
  const put = fp16
    ? (v: number) => { view.setUint16(at, toHalf(v), true); at += 2; }
    : (v: number) => { view.setFloat32(at, v, true); at += 4; };
  offset = 0;
  segmentSizes.forEach((size, s) => {
    const encoding = encodings[s]!;
    out[at] = encoding;
    view.setUint32(at + 1, size, true);
    view.setUint32(at + 5, counts[s]!, true);
    at += SEGMENT_HEADER_BYTES;
    const end = offset + size;
    if (encoding === Encoding.Dense) {
      for (let i = offset; i < end; i++) put(mask && mask[i] === 0 ? 0 : values[i]!);
    } else {
      if (encoding === Encoding.Bitmask) {
        for (let i = offset; i < end; i++) if (mask ? mask[i] !== 0 : values[i] !== 0) out[at + ((i - offset) >>> 3)]! |= 1 << ((i - offset) & 7);
        at += Math.ceil(size / 8);
      } else {
        let prev = offset - 1;
        for (let i = offset; i < end; i++) {
          if (mask ? mask[i] === 0 : values[i] === 0) continue;
          let gap = i - prev - 1;
          prev = i;
          while (gap >= 0x80) { out[at++] = (gap & 0x7f) | 0x80; gap >>>= 7; }
          out[at++] = gap;
        }
      }
      for (let i = offset; i < end; i++) if (mask ? mask[i] !== 0 : values[i] !== 0) put(values[i]!);
    }
    offset = end;
  });
  view.setUint32(at, crc32(out, 0, at), true);
  return out;
}

// ---------------------------------------------------------------- decoding

class Reader {
  pos = 0;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly end: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new CodecError(`frame truncated: ${what} needs ${n} bytes at offset ${this.pos}, only ${this.end - this.pos} left`);
  }
  u8(what: string): number { this.need(1, what); return this.bytes[this.pos++]!; }
  u32(what: string): number { this.need(4, what); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
}

interface Header { kind: FrameKind; round: number; layoutHash: string; fp16: boolean; length: number; segments: number }

/** Checks size, magic and checksum, reads the header and checks it against `options`. */
function readHeader(bytes: Uint8Array, options: DecodeOptions): { header: Header; r: Reader } {
  if (!(bytes instanceof Uint8Array)) throw new CodecError('decodeFrame: expected a Uint8Array');
  const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  if (bytes.length > maxBytes) throw new CodecError(`frame of ${bytes.length} bytes exceeds the limit of ${maxBytes}`);
  if (bytes.length < HEADER_BYTES + 4) throw new CodecError(`frame of ${bytes.length} bytes is shorter than a header`);
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new CodecError('not a feddip frame (bad magic)');
  const body = bytes.length - 4;
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(body, true);
  if (crc32(bytes, 0, body) !== stored) throw new CodecError('frame checksum mismatch: the bytes were corrupted or truncated');

  const r = new Reader(bytes, body);
  r.pos = 4;
  const version = r.u8('version');
  if (version !== FRAME_VERSION) throw new CodecError(`frame version ${version} is not supported (this build reads version ${FRAME_VERSION})`);
  const kind = KIND_NAMES[r.u8('kind')];
  if (!kind) throw new CodecError('frame has an unknown kind');
  const flags = r.u8('flags');
  if (flags & ~FLAG_FP16) throw new CodecError(`frame has unknown flags ${flags}`);
  r.u8('reserved');
  const fp16 = (flags & FLAG_FP16) !== 0;
  const round = r.u32('round');
  const layoutHash = r.u32('layout hash').toString(16).padStart(8, '0');
  const length = r.u32('vector length');
  const segments = r.u32('segment count');
  if (options.kind && kind !== options.kind) throw new CodecError(`expected a ${options.kind} frame, got a ${kind} frame`);
  if (options.layoutHash && layoutHash !== options.layoutHash) throw new CodecError(`frame is for model layout ${layoutHash}, expected ${options.layoutHash}`);
  if (options.length !== undefined && length !== options.length) throw new CodecError(`frame carries ${length} entries, expected ${options.length}`);
  // Each segment costs at least its header, and the vector is bounded: nothing is allocated for
  // what the bytes could not possibly describe.
  if (segments > (body - HEADER_BYTES) / SEGMENT_HEADER_BYTES) throw new CodecError(`frame claims ${segments} segments, more than its ${body} bytes can hold`);
  if (length > 0x10000000) throw new CodecError(`frame claims ${length} entries, over the 2^28 limit`);
  return { header: { kind, round, layoutHash, fp16, length, segments }, r };
}

let positions = new Uint32Array(1024);
/** A module-wide scratch list of indices (decoding is synchronous, so one is enough). */
function positionBuffer(count: number): Uint32Array {
  if (positions.length < count) positions = new Uint32Array(Math.max(count, 2 * positions.length));
  return positions;
}

/**
 * Walks the segments, checking every count and index against the bytes, and hands each sent entry
 * to `put` in ascending index order (each index once). Returns the number of entries sent.
 */
function readSegments(r: Reader, h: Header, put: (index: number, value: number) => void): number {
  const valueBytes = h.fp16 ? 2 : 4;
  const view = r.view;
  const bytes = r.bytes;
  const readValue = h.fp16
    ? () => { const v = fromHalf(view.getUint16(r.pos, true)); r.pos += 2; return v; }
    : () => { const v = view.getFloat32(r.pos, true); r.pos += 4; return v; };
  let sentCount = 0;
  let offset = 0;
  for (let s = 0; s < h.segments; s++) {
    const encoding = r.u8('segment encoding');
    const size = r.u32('segment size');
    const count = r.u32('segment sent count');
    if (offset + size > h.length) throw new CodecError(`segment ${s} (${size} entries at ${offset}) runs past the vector's ${h.length} entries`);
    if (count > size) throw new CodecError(`segment ${s} sends ${count} of ${size} entries`);
    if (encoding === Encoding.Dense) {
      if (count !== size) throw new CodecError(`dense segment ${s} must send all ${size} entries, says ${count}`);
      r.need(size * valueBytes, `segment ${s} values`);
      for (let i = 0; i < size; i++) put(offset + i, readValue());
    } else if (encoding === Encoding.Bitmask) {
      const maskBytes = Math.ceil(size / 8);
      r.need(maskBytes + count * valueBytes, `segment ${s} mask and values`);
      const maskAt = r.pos;
      let seen = 0;
      for (let j = 0; j < maskBytes; j++) {
        let byte = bytes[maskAt + j]!;
        // Bits past the segment's end are padding: they mark nothing.
        if (j === maskBytes - 1 && size % 8) byte &= (1 << (size % 8)) - 1;
        while (byte) { seen++; byte &= byte - 1; }
      }
      if (seen !== count) throw new CodecError(`segment ${s}: the mask marks ${seen} entries, the header says ${count}`);
      r.pos += maskBytes;
      for (let j = 0; j < maskBytes; j++) {
        const byte = bytes[maskAt + j]!;
        if (byte === 0) continue;
        for (let b = 0; b < 8; b++) {
          const i = 8 * j + b;
          if (byte & (1 << b) && i < size) put(offset + i, readValue());
        }
      }
    } else if (encoding === Encoding.Indices) {
      // All indices first, checked, then the values: no entry is handed out from a list that later
      // proves corrupt. Varints are read inline (most gaps fit one byte) into a reused buffer.
      // Each entry costs at least one index byte and a value: check that before allocating anything.
      r.need(count * (1 + valueBytes), `segment ${s} indices and values`);
      const positions = positionBuffer(count);
      const end = r.end;
      let pos = r.pos;
      let index = -1;
      for (let k = 0; k < count; k++) {
        if (pos >= end) throw new CodecError(`frame truncated: segment ${s} index ${k} at offset ${pos}`);
        let b = bytes[pos++]!;
        let gap = b & 0x7f;
        for (let scale = 128; b & 0x80; scale *= 128) {
          if (pos >= end) throw new CodecError(`frame truncated: segment ${s} index ${k} at offset ${pos}`);
          if (scale > 2 ** 28) throw new CodecError(`frame corrupt: segment ${s} index ${k} is not a valid varint at offset ${pos}`);
          b = bytes[pos++]!;
          gap += (b & 0x7f) * scale;
        }
        index += gap + 1;
        if (index >= size) throw new CodecError(`segment ${s}: index ${index} is outside its ${size} entries`);
        positions[k] = index;
      }
      r.pos = pos;
      r.need(count * valueBytes, `segment ${s} values`);
      for (let k = 0; k < count; k++) put(offset + positions[k]!, readValue());
    } else {
      throw new CodecError(`segment ${s} has unknown encoding ${encoding}`);
    }
    sentCount += count;
    offset += size;
  }
  if (offset !== h.length) throw new CodecError(`segments cover ${offset} entries, the header says ${h.length}`);
  if (r.pos !== r.end) throw new CodecError(`frame has ${r.end - r.pos} unexplained bytes after its last segment`);
  return sentCount;
}

/** Decodes a frame into full-length vectors. Untrusted bytes can only make it throw a CodecError. */
export function decodeFrame(bytes: Uint8Array, options: DecodeOptions = {}): DecodedFrame {
  const { header, r } = readHeader(bytes, options);
  const values = new Float32Array(header.length);
  const sent = new Uint8Array(header.length);
  const sentCount = readSegments(r, header, (i, v) => { values[i] = v; sent[i] = 1; });
  return { kind: header.kind, round: header.round, layoutHash: header.layoutHash, fp16: header.fp16, values, sent, sentCount };
}

/**
 * Decodes a frame into the list of its sent entries, in `scratch` when it is big enough. The
 * aggregator folds thousands of sparse updates a second this way: the work and the memory are
 * those of the entries sent, not of the model. Untrusted bytes can only make it throw a CodecError;
 * a frame that fails leaves `scratch` holding garbage, never anything outside it.
 */
export function decodeSparseFrame(bytes: Uint8Array, options: DecodeOptions = {}, scratch?: SparseScratch): SparseFrame {
  const { header, r } = readHeader(bytes, options);
  // Every sent entry carries a value of at least 2 bytes (readSegments checks each against the
  // bytes there), so the frame's size bounds the count: no allocation beyond what was received.
  const bound = Math.min(header.length, (bytes.length - HEADER_BYTES - 4) >>> 1);
  let indices = scratch?.indices;
  let values = scratch?.values;
  if (!indices || !values || indices.length < bound || values.length < bound) {
    indices = new Uint32Array(bound);
    values = new Float32Array(bound);
    if (scratch) { scratch.indices = indices; scratch.values = values; }
  }
  const idx = indices;
  const val = values;
  let k = 0;
  const sentCount = readSegments(r, header, (i, v) => { idx[k] = i; val[k++] = v; });
  return {
    kind: header.kind, round: header.round, layoutHash: header.layoutHash, fp16: header.fp16, length: header.length, sentCount,
    indices: idx.subarray(0, sentCount), values: val.subarray(0, sentCount),
  };
}
