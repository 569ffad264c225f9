// A streaming reader for tar archives (ustar, with the pax and GNU long-name extensions), enough to
// unpack CIFAR's tar.gz downloads without holding the uncompressed archive in memory: entries are
// handed to the caller in pieces as they stream past.
import { DataError } from './errors.ts';

const BLOCK = 512;

export interface TarEntry {
  /** Path inside the archive, without a leading './'. */
  path: string;
  /** 'file', 'directory' or 'other' (links, devices: skipped by CIFAR's needs). */
  kind: 'file' | 'directory' | 'other';
  size: number;
}

/**
 * What to do with an entry: return a consumer to receive its bytes (in order, in pieces that are
 * only valid during the call), or null to skip it.
 */
export type TarVisitor = (entry: TarEntry) => Promise<((piece: Uint8Array) => Promise<void>) | null>;

const decoder = new TextDecoder();

function cString(block: Uint8Array, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return decoder.decode(end < 0 ? field : field.subarray(0, end));
}

function octal(block: Uint8Array, start: number, length: number, what: string, source: string): number {
  if (block[start]! & 0x80) {
    // GNU base-256 for sizes of 8 GiB and more: big-endian bytes after the marker.
    let v = block[start]! & 0x7f;
    for (let i = start + 1; i < start + length; i++) v = v * 256 + block[i]!;
    return v;
  }
  const text = cString(block, start, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new DataError(source, `corrupt tar header: ${what} field '${text}' is not octal`);
  return text === '' ? 0 : parseInt(text, 8);
}

/** The header checksum: the byte sum of the block with its checksum field read as eight spaces. */
function checksumOk(block: Uint8Array, source: string): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum === octal(block, 148, 8, 'checksum', source);
}

/** Reads pax extended-header records ("LEN key=value\n") for the keys tar readers must honour. */
function paxRecords(data: Uint8Array): Map<string, string> {
  const text = decoder.decode(data);
  const out = new Map<string, string>();
  let at = 0;
  while (at < text.length) {
    const space = text.indexOf(' ', at);
    if (space < 0) break;
    const len = parseInt(text.slice(at, space), 10);
    if (!(len > 0)) break;
    const record = text.slice(space + 1, at + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    at += len;
  }
  return out;
}

/** Pulls exact byte counts out of a chunked stream. */
class ChunkReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #at = 0;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Up to `max` bytes (at least one) from the current chunk, or null at the end of the stream. */
  async piece(max: number): Promise<Uint8Array | null> {
    while (this.#at >= this.#chunk.length) {
      const { done, value } = await this.#reader.read();
      if (done) return null;
      this.#chunk = value;
      this.#at = 0;
    }
    const n = Math.min(max, this.#chunk.length - this.#at);
    const out = this.#chunk.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }

  /** Exactly n bytes as one array, or null if the stream ends first (with a partial read: error). */
  async exactly(n: number, source: string): Promise<Uint8Array | null> {
    const first = await this.piece(n);
    if (!first) return null;
    if (first.length === n) return first;
    const out = new Uint8Array(n);
    out.set(first);
    let filled = first.length;
    while (filled < n) {
      const p = await this.piece(n - filled);
      if (!p) throw new DataError(source, `truncated tar archive: it ends inside a ${n}-byte block`);
      out.set(p, filled);
      filled += p.length;
    }
    return out;
  }

  /** Feeds n bytes to `sink` (or drops them when sink is null). */
  async pass(n: number, sink: ((piece: Uint8Array) => Promise<void>) | null, source: string): Promise<void> {
    let left = n;
    while (left > 0) {
      const p = await this.piece(left);
      if (!p) throw new DataError(source, `truncated tar archive: it ends ${left} bytes before the end of an entry`);
      if (sink) await sink(p);
      left -= p.length;
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => undefined);
  }
}

/** Walks every entry of an (uncompressed) tar stream, calling `visit` for each. */
export async function readTar(stream: ReadableStream<Uint8Array>, visit: TarVisitor, source: string): Promise<void> {
  const r = new ChunkReader(stream);
  let longName: string | undefined;
  let paxPath: string | undefined;
  let entries = 0;
  try {
    for (;;) {
      const header = await r.exactly(BLOCK, source);
      if (!header) {
        if (entries === 0) throw new DataError(source, 'empty tar archive');
        return; // Some writers omit the two zero blocks that end an archive.
      }
      if (header.every((b) => b === 0)) return;
      if (!checksumOk(header, source)) throw new DataError(source, `corrupt tar archive: bad header checksum at entry ${entries + 1}`);
      entries++;
      const size = octal(header, 124, 12, 'size', source);
      const type = String.fromCharCode(header[156]!);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (type === 'L' || type === 'x' || type === 'g') {
        // Metadata for the next entry (GNU long name, pax path) or the whole archive (global pax).
        const data = size ? await r.exactly(size, source) : new Uint8Array(0);
        if (!data) throw new DataError(source, 'truncated tar archive: it ends inside an extended header');
        await r.pass(padded - size, null, source);
        if (type === 'L') longName = cString(data, 0, data.length);
        if (type === 'x') paxPath = paxRecords(data).get('path') ?? paxPath;
        continue;
      }
      let path = paxPath ?? longName;
      if (path === undefined) {
        const name = cString(header, 0, 100);
        const isUstar = cString(header, 257, 6).startsWith('ustar');
        const prefix = isUstar ? cString(header, 345, 155) : '';
        path = prefix ? `${prefix}/${name}` : name;
      }
      paxPath = undefined;
      longName = undefined;
      path = path.replace(/^(\.\/)+/, '');
      const kind = type === '0' || type === '\0' || type === '7' ? 'file' : type === '5' ? 'directory' : 'other';
      const sink = kind === 'file' ? await visit({ path, kind, size }) : (await visit({ path, kind, size: 0 }), null);
      await r.pass(size, sink, source);
      await r.pass(padded - size, null, source);
    }
  } finally {
    await r.cancel();
  }
}
