// The aggregator's checkpoint: one self-checking file, written whole and renamed into place, so a
// crash at any moment leaves either the previous checkpoint or the new one, never a mixture.
//
//   'FDCK' · version u32 · JSON length u32 · JSON (UTF-8) · zero padding to 4 bytes ·
//   the typed arrays, each at the offset the JSON gives · CRC-32 of everything before it
//
// Vectors go in as raw little-endian bytes (a 23M-parameter model would be ~10× bigger, and lossy
// unless printed with 9 digits, as JSON numbers).
import { crc32 } from '../codec/crc32.ts';
import { FeddipError } from '../errors.ts';
import { joinPath, mkdirp, readFile, remove, rename, stat, writeFile } from '../platform/fs.ts';

const MAGIC = [0x46, 0x44, 0x43, 0x4b]; // "FDCK"
export const CHECKPOINT_VERSION = 1;

/** Where checkpoints live; injected so tests and other runtimes can supply their own. */
export interface CheckpointStore {
  /** The bytes stored under `name`, or null when there are none. */
  read(name: string): Promise<Uint8Array | null>;
  /** Replaces `name` atomically: a reader sees the old bytes or the new ones. */
  write(name: string, bytes: Uint8Array): Promise<void>;
  /** A human-readable location, for messages. */
  readonly location: string;
}

export type CheckpointArray = Float32Array | Uint8Array;

interface ArrayEntry { name: string; dtype: 'f32' | 'u8'; offset: number; length: number }

export class CheckpointError extends FeddipError {
  constructor(message: string) {
    super('IO_ERROR', message);
    this.name = 'CheckpointError';
  }
}

export function encodeCheckpoint(json: Record<string, unknown>, arrays: Record<string, CheckpointArray>): Uint8Array {
  const entries: ArrayEntry[] = [];
  let dataBytes = 0;
  for (const [name, a] of Object.entries(arrays)) {
    entries.push({ name, dtype: a instanceof Float32Array ? 'f32' : 'u8', offset: dataBytes, length: a.length });
    dataBytes += Math.ceil(a.byteLength / 4) * 4;
  }
  const text = new TextEncoder().encode(JSON.stringify({ ...json, arrays: entries }));
  const head = 12 + Math.ceil(text.length / 4) * 4;
  const out = new Uint8Array(head + dataBytes + 4);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(4, CHECKPOINT_VERSION, true);
  view.setUint32(8, text.length, true);
  out.set(text, 12);
  const values = Object.values(arrays);
  entries.forEach((e, k) => {
    const a = values[k]!;
    if (a instanceof Float32Array) {
      for (let i = 0; i < a.length; i++) view.setFloat32(head + e.offset + 4 * i, a[i]!, true);
    } else {
      out.set(a, head + e.offset);
    }
  });
  view.setUint32(out.length - 4, crc32(out, 0, out.length - 4), true);
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array, where = 'checkpoint'): { json: Record<string, unknown>; arrays: Record<string, CheckpointArray> } {
  const bad = (what: string): never => { throw new CheckpointError(`${where} is unusable: ${what}`); };
  if (bytes.length < 16 || MAGIC.some((b, i) => bytes[i] !== b)) bad('not a feddip checkpoint');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (crc32(bytes, 0, bytes.length - 4) !== view.getUint32(bytes.length - 4, true)) bad('checksum mismatch (the file was damaged)');
  const version = view.getUint32(4, true);
  if (version !== CHECKPOINT_VERSION) bad(`version ${version}; this build reads version ${CHECKPOINT_VERSION}`);
  const textLength = view.getUint32(8, true);
  const head = 12 + Math.ceil(textLength / 4) * 4;
  if (head > bytes.length - 4) bad('its header runs past the end');
  let json: Record<string, unknown> & { arrays?: unknown };
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + textLength)));
  } catch (error) {
    return bad(`its JSON does not parse (${(error as Error).message})`);
  }
  if (!Array.isArray(json.arrays)) bad("no 'arrays' table");
  const arrays: Record<string, CheckpointArray> = {};
  const dataBytes = bytes.length - 4 - head;
  for (const e of json.arrays as ArrayEntry[]) {
    const width = e?.dtype === 'f32' ? 4 : e?.dtype === 'u8' ? 1 : bad(`array '${String(e?.name)}' has dtype ${String(e?.dtype)}`);
    if (!Number.isSafeInteger(e.offset) || !Number.isSafeInteger(e.length) || e.offset < 0 || e.length < 0
      || e.offset + e.length * width > dataBytes) bad(`array '${e.name}' lies outside the file`);
    if (e.dtype === 'f32') {
      const a = new Float32Array(e.length);
      for (let i = 0; i < e.length; i++) a[i] = view.getFloat32(head + e.offset + 4 * i, true);
      arrays[e.name] = a;
    } else {
      arrays[e.name] = bytes.slice(head + e.offset, head + e.offset + e.length);
    }
  }
  delete json.arrays;
  return { json, arrays };
}

/** Checkpoints as files in `dir` (Node, Deno): written to a temporary name, then renamed. */
export function fileCheckpointStore(dir: string): CheckpointStore {
  let made = false;
  return {
    location: dir,
    async read(name) {
      const path = joinPath(dir, name);
      if (!(await stat(path))?.isFile) return null;
      return readFile(path);
    },
    async write(name, bytes) {
      if (!made) { await mkdirp(dir); made = true; }
      const path = joinPath(dir, name);
      const tmp = `${path}.tmp`;
      try {
        await writeFile(tmp, bytes);
        await rename(tmp, path);
      } catch (error) {
        await remove(tmp).catch(() => undefined);
        throw error;
      }
    },
  };
}

/** Checkpoints in memory (tests, browsers): the same contract without a disk. */
export function memoryCheckpointStore(): CheckpointStore & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    location: 'memory',
    read: async (name) => files.get(name)?.slice() ?? null,
    write: async (name, bytes) => { files.set(name, bytes.slice()); },
  };
}
