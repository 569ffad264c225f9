// `feddip data`: argument handling, where/list, and a real fetch of Fashion-MNIST from a local
// server serving the upstream files (rebuilt from Debian's copies), verified against the registry.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { data } from '../../src/index.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

const run = async (...argv: string[]) => {
  const c = capture();
  const code = await main(argv, c.io);
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

const tmp = mkdtempSync(join(tmpdir(), 'feddip-data-cli-'));
const saved = { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, FEDDIP_DATA: process.env.FEDDIP_DATA };
beforeAll(() => {
  // The commands read the process environment: point the cache at an empty folder.
  process.env.XDG_CACHE_HOME = join(tmp, 'xdg');
  delete process.env.FEDDIP_DATA;
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('feddip data', () => {
  it('prints its help and rejects bad command lines with exit 2', async () => {
    expect((await run('data', 'help')).out).toMatch(/Usage: feddip data <list \| where NAME \| fetch NAME>/);
    expect((await run('help')).out).toMatch(/data <command> {6}find or download the data sets/);
    const unknownSet = await run('data', 'fetch', 'imagenet');
    expect(unknownSet.code).toBe(2);
    expect(unknownSet.err).toMatch(/unknown data set; known ones: mnist, fashion-mnist, cifar10, cifar100/);
    expect((await run('data', 'fetch')).code).toBe(2);
    expect((await run('data', 'where', 'mnist', '--fast')).err).toMatch(/unknown option --fast/);
    expect((await run('data', 'fetch', 'mnist', '--base-url')).err).toMatch(/--base-url needs a value/);
    expect((await run('data', 'frob')).code).toBe(2);
  });

  it('where: exit 1 with every place looked in when a data set is missing', async () => {
    const r = await run('data', 'where', 'cifar100', '--data-dir', join(tmp, 'nothing'));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(tmp, 'nothing', 'cifar100')} (data dir): no such folder`);
    expect(r.err).toContain(`${join(tmp, 'xdg', 'feddip', 'cifar100')} (user cache): no such folder`);
    expect(r.err).toContain('feddip data fetch cifar100');
  });

  it('list: one line per known data set', async () => {
    const r = await run('data', 'list');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').map((l) => l.split(' ')[0])).toEqual(data.listDatasets());
  });
});

const DEBIAN = '/usr/share/datasets/fashion-mnist';

describe.skipIf(!existsSync(`${DEBIAN}/train-images-idx3-ubyte.gz`))('feddip data fetch fashion-mnist', () => {
  let server: Server;
  let base = '';
  const served: Record<string, Uint8Array> = {};
  beforeAll(async () => {
    // The upstream files, byte for byte: Debian's deflate streams under the original gzip headers.
    for (const d of data.DATASETS['fashion-mnist'].downloads) {
      const deb = readFileSync(join(DEBIAN, d.file));
      const t = d.file.startsWith('train') ? 1504176606 : 1504176627;
      const name = Buffer.from(`${d.file.replace(/\.gz$/, '')}\0`);
      served[`/${d.file}`] = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 8, t & 255, (t >>> 8) & 255, (t >>> 16) & 255, t >>> 24, 0, 3]), name, deb.subarray(10)]);
    }
    server = createServer((req, res) => {
      const body = served[req.url ?? ''];
      if (!body) { res.writeHead(404).end(); return; }
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('downloads, verifies against the recorded SHA-256, reports progress, and then finds it in the cache', async () => {
    const cache = join(tmp, 'cache');
    const r = await run('data', 'fetch', 'fashion-mnist', '--cache-dir', cache, '--base-url', base);
    expect(r.code).toBe(0);
    expect(r.out).toBe(join(cache, 'fashion-mnist'));
    expect(r.err).toMatch(/train-images-idx3-ubyte\.gz: 26\.4 \/ 26\.4 MB \(100%\)/);
    expect(r.err).toMatch(/done: 4 file\(s\), 30\.9 MB received/);
    expect(readdirSync(join(cache, 'fashion-mnist')).sort()).toEqual(data.DATASETS['fashion-mnist'].downloads.map((d) => d.file).sort());
    const again = await run('data', 'fetch', 'fashion-mnist', '--cache-dir', cache, '--base-url', base);
    expect(again.err).toMatch(/already there/);
    const where = await run('data', 'where', 'fashion-mnist', '--data-dir', cache);
    expect(where.out).toBe(join(cache, 'fashion-mnist'));
  });
});
