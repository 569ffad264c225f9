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

class Writer {
  bytes: Uint8Array;
  view: DataView;
  length = 0;
  constructor(capacity: number) {
    this.bytes = new Uint8Array(Math.max(64, capacity));
    this.view = new DataView(this.bytes.buffer);
  }
  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    bigger.set(this.bytes.subarray(0, this.length));
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }
  u8(v: number): void { this.reserve(1); this.bytes[this.length++] = v; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  varint(v: number): void {
    this.reserve(5);
    while (v >= 0x80) { this.bytes[this.length++] = (v & 0x7f) | 0x80; v >>>= 7; }
    this.bytes[this.length++] = v;
  }
  value(v: number, fp16: boolean): void {
    if (fp16) { this.reserve(2); this.view.setUint16(this.length, toHalf(v), true); this.length += 2; }
    else { this.reserve(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  }
}

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
  const isSent = options.sent ? (i: number) => options.sent![i] !== 0 : (i: number) => values[i] !== 0;
  const valueBytes = fp16 ? 2 : 4;

  const w = new Writer(HEADER_BYTES + values.length);
  for (const b of MAGIC) w.u8(b);
  w.u8(FRAME_VERSION);
  w.u8(KIND_CODES[options.kind]);
  w.u8(fp16 ? FLAG_FP16 : 0);
  w.u8(0);
  w.u32(options.round);
  w.u32(parseInt(options.layoutHash, 16) >>> 0);
  w.u32(values.length);
  w.u32(segmentSizes.length);

  let offset = 0;
  for (const size of segmentSizes) {
    // Count what is sent and what the index list would cost, then pick the cheapest encoding.
    let sent = 0;
    let indexBytes = 0;
    let last = -1;
    for (let i = offset; i < offset + size; i++) {
      if (!isSent(i)) continue;
      indexBytes += varintBytes(i - offset - last - 1);
      last = i - offset;
      sent++;
    }
    const denseCost = size * valueBytes;
    const bitmaskCost = Math.ceil(size / 8) + sent * valueBytes;
    const indexCost = indexBytes + sent * valueBytes;
    const encoding = denseCost <= bitmaskCost && denseCost <= indexCost ? Encoding.Dense
      : bitmaskCost <= indexCost ? Encoding.Bitmask : Encoding.Indices;
    w.u8(encoding);
    w.u32(size);
    w.u32(encoding === Encoding.Dense ? size : sent);
    if (encoding === Encoding.Dense) {
      for (let i = offset; i < offset + size; i++) w.value(isSent(i) ? values[i]! : 0, fp16);
    } else {
      if (encoding === Encoding.Bitmask) {
        w.reserve(Math.ceil(size / 8));
        for (let j = 0; j < size; j += 8) {
          let byte = 0;
          for (let b = 0; b < 8 && j + b < size; b++) if (isSent(offset + j + b)) byte |= 1 << b;
          w.bytes[w.length++] = byte;
        }
      } else {
        let prev = -1;
        for (let i = offset; i < offset + size; i++) {
          if (!isSent(i)) continue;
          w.varint(i - offset - prev - 1);
          prev = i - offset;
        }
      }
      for (let i = offset; i < offset + size; i++) if (isSent(i)) w.value(values[i]!, fp16);
    }
    offset += size;
  }
  w.u32(crc32(w.bytes, 0, w.length));
  return w.bytes.slice(0, w.length);
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
  varint(what: string): number {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.u8(what);
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) {
        if (v > 0xffffffff) break;
        return v;
      }
    }
    throw new CodecError(`frame corrupt: ${what} is not a valid varint at offset ${this.pos}`);
  }
}

export function decodeFrame(bytes: Uint8Array, options: DecodeOptions = {}): DecodedFrame {
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
  const valueBytes = fp16 ? 2 : 4;
  // Each entry costs at least 1/8 byte (a bit) unless its segment is sparse, and each segment at
  // least its header: bound the allocation by what the bytes could possibly describe.
  if (segments > (body - HEADER_BYTES) / SEGMENT_HEADER_BYTES) throw new CodecError(`frame claims ${segments} segments, more than its ${body} bytes can hold`);
  if (length > 0x10000000) throw new CodecError(`frame claims ${length} entries, over the 2^28 limit`);

  const values = new Float32Array(length);
  const sent = new Uint8Array(length);
  let sentCount = 0;
  let offset = 0;
  const readValue = fp16
    ? () => { const v = fromHalf(r.view.getUint16(r.pos, true)); r.pos += 2; return v; }
    : () => { const v = r.view.getFloat32(r.pos, true); r.pos += 4; return v; };
  for (let s = 0; s < segments; s++) {
    const encoding = r.u8('segment encoding');
    const size = r.u32('segment size');
    const count = r.u32('segment sent count');
    if (offset + size > length) throw new CodecError(`segment ${s} (${size} entries at ${offset}) runs past the vector's ${length} entries`);
    if (count > size) throw new CodecError(`segment ${s} sends ${count} of ${size} entries`);
    if (encoding === Encoding.Dense) {
      if (count !== size) throw new CodecError(`dense segment ${s} must send all ${size} entries, says ${count}`);
      r.need(size * valueBytes, `segment ${s} values`);
      for (let i = 0; i < size; i++) { values[offset + i] = readValue(); sent[offset + i] = 1; }
    } else if (encoding === Encoding.Bitmask) {
      const maskBytes = Math.ceil(size / 8);
      r.need(maskBytes + count * valueBytes, `segment ${s} mask and values`);
      let seen = 0;
      for (let i = 0; i < size; i++) {
        if (r.bytes[r.pos + (i >>> 3)]! & (1 << (i & 7))) { sent[offset + i] = 1; seen++; }
      }
      if (seen !== count) throw new CodecError(`segment ${s}: the mask marks ${seen} entries, the header says ${count}`);
      r.pos += maskBytes;
      for (let i = 0; i < size; i++) if (sent[offset + i]) values[offset + i] = readValue();
    } else if (encoding === Encoding.Indices) {
      const positions = new Uint32Array(count);
      let index = -1;
      for (let k = 0; k < count; k++) {
        index += r.varint(`segment ${s} index ${k}`) + 1;
        if (index >= size) throw new CodecError(`segment ${s}: index ${index} is outside its ${size} entries`);
        positions[k] = index;
      }
      r.need(count * valueBytes, `segment ${s} values`);
      for (let k = 0; k < count; k++) { const i = offset + positions[k]!; sent[i] = 1; values[i] = readValue(); }
    } else {
      throw new CodecError(`segment ${s} has unknown encoding ${encoding}`);
    }
    sentCount += count;
    offset += size;
  }
  if (offset !== length) throw new CodecError(`segments cover ${offset} entries, the header says ${length}`);
  if (r.pos !== body) throw new CodecError(`frame has ${body - r.pos} unexplained bytes after its last segment`);
  return { kind, round, layoutHash, fp16, values, sent, sentCount };
}
