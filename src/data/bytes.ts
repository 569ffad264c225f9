// Gzip and SHA-256 through the web-standard APIs (DecompressionStream, WebCrypto) that Node 20,
// Deno and browsers all have, so the data room never needs node:zlib or node:crypto.
import { DataError } from './errors.ts';

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** A stream that hands out `bytes` as one chunk. */
export function byteStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** Gunzips a stream chunk by chunk (for archives too large to hold twice). */
export function gunzipStream(input: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return input.pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
}

/**
 * Decompresses a whole gzip file. The trailer's ISIZE field (the uncompressed size mod 2^32) sizes
 * the output up front, so a 47 MB image file is written once instead of being gathered in chunks
 * and copied; a wrong or wrapped ISIZE only costs a regrowth (or a short view of the buffer).
 */
export async function gunzip(bytes: Uint8Array, source: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) throw new DataError(source, 'not a gzip file (it does not start with 1f 8b)');
  if (bytes.length < 18) throw new DataError(source, `truncated gzip file: ${bytes.length} bytes is less than a gzip header and trailer`);
  const n = bytes.length;
  const isize = (bytes[n - 4]! | bytes[n - 3]! << 8 | bytes[n - 2]! << 16 | bytes[n - 1]! << 24) >>> 0;
  // Deflate expands at most ~1032:1, so a larger ISIZE is corrupt and must not size an allocation.
  let out = new Uint8Array(Math.max(Math.min(isize, n * 1032), 1024));
  let used = 0;
  const reader = gunzipStream(byteStream(bytes)).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (used + value.length > out.length) {
        const grown = new Uint8Array(Math.max(out.length * 2, used + value.length));
        grown.set(out.subarray(0, used));
        out = grown;
      }
      out.set(value, used);
      used += value.length;
    }
  } catch (cause) {
    throw new DataError(source, `corrupt or truncated gzip data (${(cause as Error)?.message ?? String(cause)})`, { cause });
  }
  return used === out.length ? out : out.subarray(0, used);
}

/** The bytes themselves, or their gunzipped content when they start with the gzip magic. */
export async function maybeGunzip(bytes: Uint8Array, source: string): Promise<Uint8Array> {
  return isGzip(bytes) ? gunzip(bytes, source) : bytes;
}

/** Lower-case hex SHA-256 of the bytes (WebCrypto). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}
