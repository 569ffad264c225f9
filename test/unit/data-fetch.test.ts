// Downloads against a local HTTP server on 127.0.0.1 that can misbehave on purpose: cut the
// connection mid-file, ignore Range, stall, answer 503 or 404. Each test scripts the server and
// then checks both the files on disk and the requests the server saw.
import { execFile, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { data, Rng } from '../../src/index.ts';
import { cifarBytes, idxBytes, pixels, rejection } from './data-helpers.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const noise = new Rng('pixels');
// The four files of a small MNIST-format data set, gzipped as the real ones are; the image file is
// large enough (≈ 200 kB) to arrive in several chunks.
const FILES: Record<string, Uint8Array> = {
  'train-images-idx3-ubyte.gz': gzipSync(idxBytes([250, 28, 28], Uint8Array.from({ length: 250 * 784 }, () => noise.nextU32() & 255))),
  'train-labels-idx1-ubyte.gz': gzipSync(idxBytes([250], Uint8Array.from({ length: 250 }, (_, i) => i % 10))),
  't10k-images-idx3-ubyte.gz': gzipSync(idxBytes([4, 28, 28], pixels(4 * 784, 3))),
  't10k-labels-idx1-ubyte.gz': gzipSync(idxBytes([4], [7, 2, 1, 0])),
};

function tinySpec(overrides: Partial<data.IdxDatasetSpec> = {}): data.IdxDatasetSpec {
  const mnist = data.DATASETS.mnist as data.IdxDatasetSpec;
  return {
    ...mnist,
    name: 'tiny',
    title: 'Tiny',
    trainSize: 250,
    testSize: 4,
    mirrors: [],
    contentSha256: {},
    downloads: mnist.downloads.map((d) => ({ ...d, bytes: FILES[d.file]!.length, sha256: sha(FILES[d.file]!) })),
    ...overrides,
  };
}

interface Seen { path: string; range: string | undefined; status: number; sent: number }

/** What the server does with one request; return false to fall through to the normal answer. */
type Trick = (req: IncomingMessage, res: ServerResponse, body: Uint8Array | undefined) => boolean;

let server: Server;
let base = '';
let files: Record<string, Uint8Array> = {};
let trick: Trick | undefined;
let ignoreRange = false;
const seen: Seen[] = [];

function answer(req: IncomingMessage, res: ServerResponse): void {
  const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
  const body = files[path];
  const entry: Seen = { path, range: req.headers.range, status: 0, sent: 0 };
  seen.push(entry);
  res.on('finish', () => { entry.status = res.statusCode; });
  if (trick?.(req, res, body)) { entry.status = res.statusCode; return; }
  if (!body) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m && !ignoreRange) {
    const start = Number(m[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
    entry.sent = body.length - start;
    res.end(body.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': body.length, 'accept-ranges': ignoreRange ? 'none' : 'bytes' });
  entry.sent = body.length;
  res.end(body);
}

/** Sends the first `n` bytes of a full 200 answer, then drops the connection. */
function cutAfter(res: ServerResponse, body: Uint8Array, n: number): void {
  res.writeHead(200, { 'content-length': body.length });
  res.write(body.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 20));
}

let cacheRoot = '';
beforeAll(async () => {
  server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cacheRoot = mkdtempSync(join(tmpdir(), 'feddip-data-fetch-'));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(cacheRoot, { recursive: true, force: true });
});
afterEach(() => {
  trick = undefined;
  ignoreRange = false;
  seen.length = 0;
  files = {};
});

let testDir = 0;
const freshCache = () => join(cacheRoot, `c${++testDir}`);
const quick = { retryDelayMs: 5, stallTimeoutMs: 2000 };
const serveAt = (prefix: string) => { files = Object.fromEntries(Object.entries(FILES).map(([k, v]) => [`${prefix}/${k}`, v])); };

describe('fetchDataset', () => {
  it('downloads every file, verifies it, reports progress, and leaves loadable data and no .part files', async () => {
    serveAt('/data');
    const cacheDir = freshCache();
    const progress: data.FetchProgress[] = [];
    const result = await data.fetchDataset(tinySpec(), { cacheDir, baseUrl: `${base}/data/`, onProgress: (p) => progress.push({ ...p }), ...quick });
    expect(result.dir).toBe(join(cacheDir, 'tiny'));
    expect(result.downloaded).toHaveLength(4);
    expect(result.bytesReceived).toBe(Object.values(FILES).reduce((s, f) => s + f.length, 0));
    expect(readdirSync(result.dir).sort()).toEqual(Object.keys(FILES).sort());
    for (const [name, bytes] of Object.entries(FILES)) expect(sha(readFileSync(join(result.dir, name)))).toBe(sha(bytes));
    expect(seen.every((s) => s.range === undefined)).toBe(true);

    const img = progress.filter((p) => p.file === 'train-images-idx3-ubyte.gz');
    expect(img.length).toBeGreaterThan(2);
    expect(img.every((p, i) => p.total === FILES[p.file]!.length && (i === 0 || p.bytes >= img[i - 1]!.bytes))).toBe(true);
    expect(img.at(-1)!.bytes).toBe(FILES['train-images-idx3-ubyte.gz']!.length);

    const { train, test } = await data.loadDataset(tinySpec(), { dataDir: cacheDir, env: {}, systemDirs: [] });
    expect([train.size, test.size]).toEqual([250, 4]);
    expect(Array.from(test.labels)).toEqual([7, 2, 1, 0]);

    // A second fetch finds everything in place and sends no request.
    seen.length = 0;
    const again = await data.fetchDataset(tinySpec(), { cacheDir, baseUrl: `${base}/data`, ...quick });
    expect(again.downloaded).toEqual([]);
    expect(seen).toEqual([]);
  });

  it('resumes with a Range request after the server cuts the connection mid-file', async () => {
    serveAt('');
    const name = '/train-images-idx3-ubyte.gz';
    const half = Math.floor(FILES[name.slice(1)]!.length / 2);
    let cut = false;
    trick = (req, res, body) => {
      if (req.url !== name || cut || !body) return false;
      cut = true;
      cutAfter(res, body, half);
      return true;
    };
    const cacheDir = freshCache();
    await data.fetchDataset(tinySpec(), { cacheDir, baseUrl: base, ...quick });
    const requests = seen.filter((s) => s.path === name);
    expect(requests).toHaveLength(2);
    expect(requests[0]!.range).toBeUndefined();
    expect(requests[1]!.range).toMatch(/^bytes=\d+-$/);
    const resumedAt = Number(/\d+/.exec(requests[1]!.range!)![0]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(half);
    expect(requests[1]!.status).toBe(206);
    expect(sha(readFileSync(join(cacheDir, 'tiny', name.slice(1))))).toBe(sha(FILES[name.slice(1)]!));
    expect(existsSync(join(cacheDir, 'tiny', `${name.slice(1)}.part`))).toBe(false);
  });

  it('starts over and still ends correct when the server ignores Range', async () => {
    serveAt('');
    ignoreRange = true;
    const cacheDir = freshCache();
    const dir = join(cacheDir, 'tiny');
    mkdirSync(dir, { recursive: true });
    // A stale part full of junk: kept only if the server honoured the range, which it does not.
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz.part'), new Uint8Array(1000).fill(0xee));
    await data.fetchDataset(tinySpec(), { cacheDir, baseUrl: base, ...quick });
    const img = seen.find((s) => s.path === '/train-images-idx3-ubyte.gz')!;
    expect(img.range).toBe('bytes=1000-');
    expect(img.status).toBe(200);
    expect(sha(readFileSync(join(dir, 'train-images-idx3-ubyte.gz')))).toBe(sha(FILES['train-images-idx3-ubyte.gz']!));
  });

  it('a checksum mismatch is a typed error, and neither the file nor its .part stays', async () => {
    serveAt('');
    const spec = tinySpec();
    const bad = { ...spec, downloads: spec.downloads.map((d) => (d.file.startsWith('t10k-labels') ? { ...d, sha256: '0'.repeat(64) } : d)) };
    const cacheDir = freshCache();
    const e = await rejection(data.fetchDataset(bad, { cacheDir, baseUrl: base, ...quick })) as data.ChecksumError;
    expect(e).toBeInstanceOf(data.ChecksumError);
    expect(e.expected).toBe('0'.repeat(64));
    expect(e.actual).toBe(sha(FILES['t10k-labels-idx1-ubyte.gz']!));
    expect(e.message).toContain(`${base}/t10k-labels-idx1-ubyte.gz`);
    const left = readdirSync(join(cacheDir, 'tiny'));
    expect(left.filter((f) => f.startsWith('t10k-labels'))).toEqual([]);
  });

  it('checks content hashes (decompressed) where the file hash is unknown, as for MNIST', async () => {
    serveAt('');
    const spec = tinySpec();
    const unknown = { ...spec, downloads: spec.downloads.map((d) => ({ ...d, sha256: null, bytes: null })), contentSha256: { 't10k-labels-idx1-ubyte': 'f'.repeat(64) } };
    const cacheDir = freshCache();
    const e = await rejection(data.fetchDataset(unknown, { cacheDir, baseUrl: base, ...quick }));
    expect(e.message).toMatch(/decompressed file is not Tiny's t10k-labels-idx1-ubyte/);
    expect(existsSync(join(cacheDir, 'tiny', 't10k-labels-idx1-ubyte.gz'))).toBe(false);
    // Without any hash, the format is still checked: an HTML error page served with 200 fails.
    files['/t10k-labels-idx1-ubyte.gz'] = new TextEncoder().encode('<html><body>Moved</body></html>');
    const html = await rejection(data.fetchDataset({ ...unknown, contentSha256: {} }, { cacheDir, baseUrl: base, ...quick }));
    expect(html.message).toMatch(/looks like an HTML/);
  });

  it('a 404 fails at once with a typed error naming the URL', async () => {
    serveAt('');
    delete files['/t10k-images-idx3-ubyte.gz'];
    const e = await rejection(data.fetchDataset(tinySpec(), { cacheDir: freshCache(), baseUrl: base, ...quick }), 'IO_ERROR') as data.DownloadError;
    expect(e).toBeInstanceOf(data.DownloadError);
    expect(e.status).toBe(404);
    expect(e.attempts).toBe(1);
    expect(e.url).toBe(`${base}/t10k-images-idx3-ubyte.gz`);
    expect(e.message).toMatch(/HTTP 404/);
    expect(seen.filter((s) => s.path === '/t10k-images-idx3-ubyte.gz')).toHaveLength(1);
  });

  it('retries 503 with back-off, and gives up after the retries with the last status', async () => {
    serveAt('');
    let busy = 2;
    trick = (req, res) => {
      if (req.url !== '/train-labels-idx1-ubyte.gz' || busy === 0) return false;
      busy--;
      res.writeHead(503).end();
      return true;
    };
    const cacheDir = freshCache();
    await data.fetchDataset(tinySpec(), { cacheDir, baseUrl: base, ...quick });
    expect(seen.filter((s) => s.path === '/train-labels-idx1-ubyte.gz').map((s) => s.status)).toEqual([503, 503, 200]);

    seen.length = 0;
    busy = 100;
    const e = await rejection(data.fetchDataset(tinySpec(), { cacheDir: freshCache(), baseUrl: base, ...quick, retries: 2 }), 'IO_ERROR') as data.DownloadError;
    expect(e.status).toBe(503);
    expect(e.attempts).toBe(3);
    expect(e.message).toMatch(/failed after 3 attempts: HTTP 503/);
  });

  it('aborts a stalled body and resumes where it stopped', async () => {
    serveAt('');
    const name = '/train-images-idx3-ubyte.gz';
    let stalled = false;
    trick = (req, res, body) => {
      if (req.url !== name || stalled || !body) return false;
      stalled = true;
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 5000)); // …and nothing more, connection left open
      return true;
    };
    const cacheDir = freshCache();
    await data.fetchDataset(tinySpec(), { cacheDir, baseUrl: base, retryDelayMs: 5, stallTimeoutMs: 300 });
    const requests = seen.filter((s) => s.path === name);
    expect(requests.map((r) => r.range)).toEqual([undefined, 'bytes=5000-']);
    expect(sha(readFileSync(join(cacheDir, 'tiny', name.slice(1))))).toBe(sha(FILES[name.slice(1)]!));
  });

  it('falls back to the mirrors when the standard URL fails', async () => {
    serveAt('/mirror');
    const spec = tinySpec();
    const withMirror = {
      ...spec,
      downloads: spec.downloads.map((d) => ({ ...d, url: `${base}/gone/${d.file}` })),
      mirrors: [`${base}/mirror/`],
    };
    const cacheDir = freshCache();
    const r = await data.fetchDataset(withMirror, { cacheDir, ...quick });
    expect(r.downloaded).toHaveLength(4);
    expect(seen.map((s) => `${s.path.split('/')[1]} ${s.status}`).slice(0, 2)).toEqual(['gone 404', 'mirror 200']);
  });

  it('keeps files of an interrupted earlier fetch that still verify, and replaces ones that do not', async () => {
    serveAt('');
    const cacheDir = freshCache();
    const dir = join(cacheDir, 'tiny');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), FILES['train-images-idx3-ubyte.gz']!);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), new Uint8Array(10));
    const r = await data.fetchDataset(tinySpec(), { cacheDir, baseUrl: base, ...quick });
    expect(seen.map((s) => s.path).sort()).toEqual(['/t10k-images-idx3-ubyte.gz', '/t10k-labels-idx1-ubyte.gz', '/train-labels-idx1-ubyte.gz']);
    expect(r.downloaded).toHaveLength(3);
    expect(sha(readFileSync(join(dir, 'train-labels-idx1-ubyte.gz')))).toBe(sha(FILES['train-labels-idx1-ubyte.gz']!));
  });
});

let hasTar = true;
try {
  execFileSync('tar', ['--version'], { stdio: 'ignore' });
} catch {
  hasTar = false;
}

describe.skipIf(!hasTar)('fetchDataset for CIFAR archives', () => {
  function archive(variant: 'cifar10' | 'cifar100', folder: string, members: Record<string, Uint8Array>): Uint8Array {
    const work = mkdtempSync(join(tmpdir(), 'feddip-tar-'));
    try {
      mkdirSync(join(work, folder));
      for (const [name, bytes] of Object.entries(members)) writeFileSync(join(work, folder, name), bytes);
      writeFileSync(join(work, folder, 'readme.html'), `<p>${variant}</p>`);
      execFileSync('tar', ['-czf', join(work, 'a.tar.gz'), '-C', work, folder]);
      return new Uint8Array(readFileSync(join(work, 'a.tar.gz')));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  it('downloads the tar.gz, unpacks the record files to their folder, deletes the archive, and loads', async () => {
    const c10 = data.DATASETS.cifar10 as data.CifarDatasetSpec;
    const members = Object.fromEntries([...c10.train, ...c10.test].map((m, i) => [m, cifarBytes('cifar10', [{ label: i, seed: i }, { label: 9 - i, seed: i + 10 }])]));
    const tgz = archive('cifar10', 'cifar-10-batches-bin', members);
    files = { '/cifar-10-binary.tar.gz': tgz };
    const spec: data.CifarDatasetSpec = { ...c10, name: 'c10', trainSize: 10, testSize: 2, downloads: [{ ...c10.downloads[0]!, bytes: tgz.length, sha256: sha(tgz) }] };
    const cacheDir = freshCache();
    const r = await data.fetchDataset(spec, { cacheDir, baseUrl: base, ...quick });
    expect(readdirSync(r.dir)).toEqual(['cifar-10-batches-bin']);
    expect(readdirSync(join(r.dir, 'cifar-10-batches-bin')).sort()).toEqual(Object.keys(members).sort());
    const { train, test } = await data.loadDataset(spec, { dataDir: cacheDir, env: {}, systemDirs: [] });
    expect(Array.from(train.labels)).toEqual([0, 9, 1, 8, 2, 7, 3, 6, 4, 5]);
    expect(Array.from(test.labels)).toEqual([5, 4]);
  });

  it('rejects an archive without the expected files, leaving nothing behind', async () => {
    const c100 = data.DATASETS.cifar100 as data.CifarDatasetSpec;
    const tgz = archive('cifar100', 'cifar-100-binary', { 'train.bin': cifarBytes('cifar100', [{ label: 1, seed: 1 }]) });
    files = { '/cifar-100-binary.tar.gz': tgz };
    const cacheDir = freshCache();
    const e = await rejection(data.fetchDataset({ ...c100, name: 'c100' }, { cacheDir, baseUrl: base, ...quick }));
    expect(e.message).toMatch(/the archive lacks cifar-100-binary\/test\.bin/);
    expect(readdirSync(join(cacheDir, 'c100', 'cifar-100-binary'))).toEqual([]);
    expect(readdirSync(join(cacheDir, 'c100'))).toEqual(['cifar-100-binary']);
  });
});

describe('readTar', () => {
  it('reads ustar entries written by tar, long names included, in pieces', async () => {
    if (!hasTar) return;
    const work = mkdtempSync(join(tmpdir(), 'feddip-tar-'));
    try {
      const long = `${'d'.repeat(60)}/${'f'.repeat(70)}.bin`;
      mkdirSync(join(work, 'src', 'd'.repeat(60)), { recursive: true });
      writeFileSync(join(work, 'src', long), pixels(1500, 1));
      writeFileSync(join(work, 'src', 'small.txt'), 'hello');
      execFileSync('tar', ['-cf', join(work, 'a.tar'), '-C', join(work, 'src'), 'small.txt', long]);
      const got: Record<string, number[]> = {};
      await data.readTar(new Blob([readFileSync(join(work, 'a.tar'))]).stream(), async (entry) => {
        if (entry.kind !== 'file') return null;
        const bytes: number[] = [];
        got[entry.path] = bytes;
        return async (piece) => { bytes.push(...piece); };
      }, 'a.tar');
      expect(Object.keys(got).sort()).toEqual([long, 'small.txt']);
      expect(got[long]).toEqual(Array.from(pixels(1500, 1)));
      expect(new TextDecoder().decode(Uint8Array.from(got['small.txt']!))).toBe('hello');
      const corrupt = new Uint8Array(readFileSync(join(work, 'a.tar')));
      corrupt[10] = corrupt[10]! ^ 1;
      await rejection(data.readTar(new Blob([corrupt]).stream(), async () => null, 'bad.tar'));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

const require = createRequire(import.meta.url);
let denoBin: string | undefined;
try {
  denoBin = join(dirname(require.resolve('deno/package.json')), 'bin.cjs');
} catch {
  denoBin = undefined;
}

describe.skipIf(!denoBin)('the same in Deno', () => {
  it('fetches (resuming a cut download), loads, partitions and augments exactly as Node does', async () => {
    serveAt('');
    const name = '/train-images-idx3-ubyte.gz';
    let cut = false;
    trick = (req, res, body) => {
      if (req.url !== name || cut || !body) return false;
      cut = true;
      cutAfter(res, body, 70000);
      return true;
    };
    const work = freshCache();
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, 'spec.json'), JSON.stringify(tinySpec()));
    const script = fileURLToPath(new URL('../runtimes/deno-data.mjs', import.meta.url));
    const stdout = await new Promise<string>((resolve, reject) => {
      // Asynchronous on purpose: the server answering Deno runs on this event loop.
      execFile(process.execPath, [denoBin!, 'run', '--no-check', '--allow-read', '--allow-write', '--allow-net=127.0.0.1', script, work, base],
        { env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
        (error, out, err) => (error ? reject(new Error(`deno failed: ${error.message}\n${err}`)) : resolve(out)));
    });
    const got = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(seen.filter((s) => s.path === name).map((s) => s.status)).toEqual([200, 206]);

    const { train, test } = await data.loadDataset(tinySpec(), { dataDir: join(work, 'cache'), env: {}, systemDirs: [] });
    const batch = train.images.slice(0, 4 * 784);
    data.augmentBatch(batch, train.shape, new Rng(5), { padding: 2 });
    expect(got).toEqual({
      downloaded: 4,
      sizes: [250, 4],
      testLabels: Array.from(test.labels),
      parts: data.partition(train.labels, 7, 'dirichlet:0.5', new Rng(11)).map((p) => Array.from(p)),
      augmented: await data.sha256Hex(new Uint8Array(batch.buffer)),
      notFound: 'DatasetNotFoundError DATA_ERROR',
    });
  });
});
