// Downloads the standard data set files into the user cache. Each file goes to NAME.part first; a
// broken download resumes from where it stopped with an HTTP Range request; the file is checked
// (SHA-256 or content checks) and only then renamed into place, so a file under its final name is
// always complete and verified. Transient failures (network errors, 5xx, stalls) are retried with
// exponential back-off; definite ones (404, a checksum mismatch) fail at once with a typed error.
//
// Two processes fetching the same data set into the same cache at once would share the .part
// files: do not do that.
import { gunzipStream, byteStream, maybeGunzip, sha256Hex } from './bytes.ts';
import { cifarRecordBytes } from './cifar.ts';
import { ChecksumError, DataError, DownloadError } from './errors.ts';
import { parseIdx } from './idx.ts';
import { type DatasetSpec, type DownloadSpec, datasetSpec, defaultCacheDir, splitMembers } from './registry.ts';
import { readTar } from './tar.ts';
import { hasFileSystem, mkdirp, openSink, readFile, remove, rename, stat, joinPath, type FileSink } from '../platform/fs.ts';
import { FeddipError, InvalidArgumentError } from '../errors.ts';

export interface FetchProgress {
  /** The file being downloaded (its name in the cache folder). */
  file: string;
  url: string;
  /** Bytes of the file on disk so far, a resumed part included. */
  bytes: number;
  /** The file's size when the server said, else null. */
  total: number | null;
}

export interface DownloadOptions {
  onProgress?: (p: FetchProgress) => void;
  /** Attempts after the first, per URL, for transient failures (default 4). */
  retries?: number;
  /** First back-off delay in ms, doubled per retry, capped at 30 s (default 1000). */
  retryDelayMs?: number;
  /** Abort and retry when no byte arrives for this long (default 60000 ms). */
  stallTimeoutMs?: number;
}

export interface FetchOptions extends DownloadOptions {
  /** The cache root; files go to <cacheDir>/<name>/ (default $XDG_CACHE_HOME/feddip or ~/.cache/feddip). */
  cacheDir?: string;
  /** Fetch every file from <baseUrl>/<file> instead of the standard hosts (a mirror, a test server). */
  baseUrl?: string;
  /** Download again even if the files are already there and valid. */
  force?: boolean;
}

export interface FetchResult {
  name: string;
  /** The folder holding the data set (loadDataset finds it there as the user cache). */
  dir: string;
  /** Files downloaded by this call (empty when everything was already there). */
  downloaded: string[];
  /** Bytes received over the network by this call. */
  bytesReceived: number;
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** A failure worth retrying: the connection broke, the server was busy, the body stalled. */
class Transient extends Error {
  constructor(message: string, readonly status: number | null, readonly retryAfterMs = 0) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function parseContentRange(value: string | null): { start: number; total: number | null } | { unsatisfied: number | null } | null {
  if (!value) return null;
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(value.trim());
  if (!m) return null;
  const total = m[3] === '*' ? null : Number(m[3]);
  if (m[1] === undefined) return { unsatisfied: total };
  return { start: Number(m[1]), total };
}

function retryAfterMs(header: string | null): number {
  const seconds = header ? Number(header) : NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 60) * 1000 : 0;
}

interface AttemptState {
  received: number;
}

/**
 * One request for `url` into `part`: resumes from the part's size, follows the server's answer
 * (206: append; 200: start over; 416: maybe already complete). Resolves when the body has fully
 * arrived; throws Transient for what a retry may fix and DownloadError for what it cannot.
 */
async function attempt(url: string, part: string, file: string, options: DownloadOptions, state: AttemptState, attempts: number): Promise<void> {
  const offset = (await stat(part))?.size ?? 0;
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  const controller = new AbortController();
  const stallMs = options.stallTimeoutMs ?? 60_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Transient(`no data for ${stallMs} ms`, null)), stallMs);
  };
  let sink: FileSink | undefined;
  try {
    arm();
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: controller.signal, redirect: 'follow' });
    } catch (cause) {
      throw new Transient(`request failed: ${describe(cause, controller)}`, null);
    }
    const status = response.status;
    let total: number | null = null;
    let start = 0;
    if (status === 206) {
      const range = parseContentRange(response.headers.get('content-range'));
      if (!range || !('start' in range) || range.start !== offset) {
        // A range we did not ask for: drop the part and start over with a plain request.
        await response.body?.cancel();
        await remove(part);
        throw new Transient(`server answered a range request for byte ${offset} with Content-Range '${response.headers.get('content-range')}'`, status);
      }
      total = range.total;
      start = offset;
    } else if (status === 416) {
      await response.body?.cancel();
      const range = parseContentRange(response.headers.get('content-range'));
      if (range && 'unsatisfied' in range && range.unsatisfied === offset) return; // the part was already whole
      await remove(part);
      throw new Transient(`server cannot resume at byte ${offset} (416); starting over`, status);
    } else if (status === 200) {
      const length = response.headers.get('content-length');
      total = length !== null && /^\d+$/.test(length) ? Number(length) : null;
    } else {
      await response.body?.cancel();
      if (RETRYABLE_STATUS.has(status)) {
        throw new Transient(`HTTP ${status} ${response.statusText}`, status, retryAfterMs(response.headers.get('retry-after')));
      }
      throw new DownloadError(url, status, attempts, `downloading ${file} from ${url} failed: HTTP ${status} ${response.statusText}`.trim()
        + (status === 404 ? ' (not found: the host may have moved the file; try another --base-url mirror)' : ''));
    }
    if (!response.body) throw new Transient('response has no body', status);
    // 200 after a range request means the server ignored Range: the body is the whole file.
    sink = await openSink(part, { append: start > 0 });
    let bytes = start;
    const report = () => options.onProgress?.({ file, url, bytes, total });
    report();
    const reader = response.body.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (cause) {
        throw new Transient(`connection broke after ${bytes} bytes: ${describe(cause, controller)}`, status);
      }
      if (chunk.done) break;
      arm();
      await sink.write(chunk.value);
      bytes += chunk.value.length;
      state.received += chunk.value.length;
      report();
    }
    if (total !== null && bytes !== total) {
      throw new Transient(`body ended after ${bytes} of ${total} bytes`, status);
    }
  } finally {
    clearTimeout(timer);
    await sink?.close();
  }
}

function describe(cause: unknown, controller: AbortController): string {
  if (controller.signal.aborted && controller.signal.reason instanceof Transient) return controller.signal.reason.message;
  const e = cause as Error & { cause?: { message?: string; code?: string } };
  const inner = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(cause)}${inner ? ` (${inner})` : ''}`;
}

/**
 * Brings `url` into `part` completely, retrying transient failures with back-off. An attempt that
 * received bytes resets the retry budget: the download moved forward, so a long file on a flaky
 * line still completes.
 */
async function downloadWithRetries(url: string, part: string, file: string, options: DownloadOptions): Promise<number> {
  const retries = options.retries ?? 4;
  const baseDelay = options.retryDelayMs ?? 1000;
  const state = { received: 0 };
  let failures = 0;
  let attempts = 0;
  for (;;) {
    attempts++;
    const before = state.received;
    try {
      await attempt(url, part, file, options, state, attempts);
      return state.received;
    } catch (error) {
      if (!(error instanceof Transient)) throw error;
      failures = state.received > before ? 1 : failures + 1;
      if (failures > retries) {
        throw new DownloadError(url, error.status, attempts,
          `downloading ${file} from ${url} failed after ${attempts} attempts: ${error.message}`, { cause: error });
      }
      await sleep(Math.max(error.retryAfterMs, Math.min(30_000, baseDelay * 2 ** (failures - 1))));
    }
  }
}

export interface DownloadFileOptions extends DownloadOptions {
  /** Expected SHA-256 (hex) of the complete file; null/undefined: not checked. */
  sha256?: string | null;
  /** Expected size in bytes; null/undefined: not checked. */
  bytes?: number | null;
  /**
   * Further checks on the complete .part file before it is renamed into place (content hashes,
   * format); throw to reject it.
   */
  check?: (partPath: string, url: string) => Promise<void>;
}

/**
 * Downloads a file to `dest`, trying each URL in turn (mirrors) until one delivers it. The bytes
 * land in `dest`.part, are checked, and only then renamed to `dest`. A file that fails its checks
 * is deleted, .part included, and the error is thrown: bytes that hash wrong are never resumed.
 * Returns the number of bytes received.
 */
export async function downloadFile(urls: string | readonly string[], dest: string, options: DownloadFileOptions = {}): Promise<number> {
  const list = typeof urls === 'string' ? [urls] : [...urls];
  if (list.length === 0) throw new InvalidArgumentError('downloadFile: no URL given');
  const part = `${dest}.part`;
  const file = dest.slice(dest.lastIndexOf('/') + 1);
  const failures: DownloadError[] = [];
  let received = 0;
  for (const url of list) {
    try {
      received += await downloadWithRetries(url, part, file, options);
    } catch (error) {
      if (!(error instanceof DownloadError)) throw error;
      failures.push(error);
      continue;
    }
    try {
      await verifyPart(part, url, options);
    } catch (error) {
      await remove(part);
      throw error;
    }
    await rename(part, dest);
    return received;
  }
  if (failures.length === 1) throw failures[0]!;
  const last = failures[failures.length - 1]!;
  throw new DownloadError(last.url, last.status, failures.reduce((s, f) => s + f.attempts, 0),
    `could not download ${file} from any of ${failures.length} URLs:\n${failures.map((f) => `  ${f.message}`).join('\n')}`, { cause: last });
}

async function verifyPart(part: string, url: string, options: DownloadFileOptions): Promise<void> {
  if (options.bytes != null) {
    const size = (await stat(part))?.size ?? 0;
    if (size !== options.bytes) throw new DataError(url, `downloaded ${size} bytes, the file has ${options.bytes}; it was deleted, fetch again`);
  }
  if (options.sha256) {
    const actual = await sha256Hex(await readFile(part));
    if (actual !== options.sha256.toLowerCase()) {
      throw new ChecksumError(url, options.sha256.toLowerCase(), actual, 'the download is corrupt or not the expected file; it was deleted, fetch again (or use another --base-url)');
    }
  }
  await options.check?.(part, url);
}

/** Content checks of a downloaded IDX file: the decompressed hash where known, else the format. */
function idxCheck(spec: DatasetSpec, member: string): (part: string, url: string) => Promise<void> {
  return async (part, url) => {
    const content = await maybeGunzip(await readFile(part), url);
    const expected = spec.contentSha256[member];
    if (expected) {
      const actual = await sha256Hex(content);
      if (actual !== expected) {
        throw new ChecksumError(url, expected, actual, `the decompressed file is not ${spec.title}'s ${member}; it was deleted (try another --base-url)`);
      }
    } else {
      parseIdx(content, url);
    }
  };
}

/** Whether every member file is in `dir` and passes its cheap checks (sizes, formats). */
async function complete(spec: DatasetSpec, dir: string): Promise<boolean> {
  const members = splitMembers(spec);
  for (const m of [...members.train, ...members.test]) {
    if (spec.format === 'idx') {
      const gz = await stat(joinPath(dir, `${m}.gz`));
      const raw = await stat(joinPath(dir, m));
      if (!gz?.isFile && !raw?.isFile) return false;
    } else {
      const s = await stat(joinPath(dir, spec.folder, m));
      if (!s?.isFile || s.size === 0 || s.size % cifarRecordBytes(spec.format) !== 0) return false;
    }
  }
  return true;
}

/**
 * Unpacks the member files of a CIFAR tar.gz into <dir>/<folder>/, each through a .part file that
 * is renamed once the archive has been read to its end and the file is a whole number of records.
 */
async function extractCifar(spec: DatasetSpec & { format: 'cifar10' | 'cifar100' }, archive: string, dir: string): Promise<string[]> {
  const out = joinPath(dir, spec.folder);
  await mkdirp(out);
  const wanted = new Map<string, string>();
  for (const m of [...spec.train, ...spec.test]) wanted.set(`${spec.folder}/${m}`, joinPath(out, m));
  const written = new Map<string, number>();
  const sinks: FileSink[] = [];
  try {
    try {
      const compressed = await readFile(archive);
      await readTar(gunzipStream(byteStream(compressed)), async (entry) => {
        const dest = wanted.get(entry.path);
        if (!dest || entry.kind !== 'file') return null;
        const sink = await openSink(`${dest}.part`, { append: false });
        sinks.push(sink);
        written.set(entry.path, entry.size);
        return (piece) => sink.write(piece);
      }, archive);
    } finally {
      // Closed before any clean-up below: some systems cannot delete a file that is still open.
      for (const s of sinks) await s.close();
    }
  } catch (error) {
    for (const dest of wanted.values()) await remove(`${dest}.part`);
    throw error instanceof FeddipError ? error : new DataError(archive, `could not unpack: ${(error as Error).message}`, { cause: error });
  }
  const missing = [...wanted.keys()].filter((p) => !written.has(p));
  const recordBytes = cifarRecordBytes(spec.format);
  const bad = [...written].filter(([, size]) => size === 0 || size % recordBytes !== 0).map(([p, size]) => `${p} (${size} bytes)`);
  if (missing.length || bad.length) {
    for (const dest of wanted.values()) await remove(`${dest}.part`);
    throw new DataError(archive, [
      missing.length ? `the archive lacks ${missing.join(', ')}` : '',
      bad.length ? `not whole ${spec.title} records: ${bad.join(', ')}` : '',
    ].filter(Boolean).join('; ') + ' — not the standard archive?');
  }
  for (const dest of wanted.values()) await rename(`${dest}.part`, dest);
  return [...wanted.values()];
}

/**
 * Downloads a data set into <cacheDir>/<name>/ (see FetchOptions), where loadDataset looks for it.
 * Files already there and complete are kept (unless `force`). CIFAR archives are unpacked to
 * their standard folder and then deleted.
 */
export async function fetchDataset(nameOrSpec: string | DatasetSpec, options: FetchOptions = {}): Promise<FetchResult> {
  const spec = datasetSpec(nameOrSpec);
  if (!hasFileSystem()) {
    throw new FeddipError('IO_ERROR', `fetchDataset('${spec.name}') writes to a cache folder and needs Node or Deno; in a browser, fetch the files yourself and pass their bytes`);
  }
  const root = options.cacheDir ?? defaultCacheDir();
  if (!root) throw new FeddipError('IO_ERROR', 'fetchDataset: no cache folder: $HOME and $XDG_CACHE_HOME are unset; pass cacheDir');
  const dir = joinPath(root, spec.name);
  const result: FetchResult = { name: spec.name, dir, downloaded: [], bytesReceived: 0 };
  if (!options.force && await complete(spec, dir)) return result;
  await mkdirp(dir);
  for (const d of spec.downloads) {
    const dest = joinPath(dir, d.file);
    const urls = sourceUrls(spec, d, options.baseUrl);
    const member = spec.format === 'idx' ? d.file.replace(/\.gz$/, '') : undefined;
    if (!options.force && member && (await stat(dest))?.isFile) {
      // A file from an earlier, interrupted fetch of the data set: keep it if it still checks out.
      try {
        await verifyPart(dest, dest, { sha256: d.sha256, bytes: d.bytes, check: idxCheck(spec, member) });
        continue;
      } catch (error) {
        if (!(error instanceof DataError)) throw error;
        await remove(dest);
      }
    }
    result.bytesReceived += await downloadFile(urls, dest, {
      ...options,
      sha256: d.sha256,
      bytes: d.bytes,
      check: member ? idxCheck(spec, member) : undefined,
    });
    result.downloaded.push(dest);
    if (spec.format !== 'idx') {
      try {
        await extractCifar(spec, dest, dir);
      } finally {
        // Unpacked, or not the archive it should be: either way it has no further use.
        await remove(dest);
      }
    }
  }
  return result;
}

function sourceUrls(spec: DatasetSpec, d: DownloadSpec, baseUrl: string | undefined): string[] {
  const join = (base: string) => `${base.replace(/\/+$/, '')}/${d.file}`;
  if (baseUrl) return [join(baseUrl)];
  return [d.url, ...spec.mirrors.map(join)];
}
