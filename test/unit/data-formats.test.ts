// IDX and CIFAR parsing on bytes written here independently of the parser (big-endian headers by
// hand, gzip by node:zlib), plus the real Fashion-MNIST from Debian's package when installed.
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { data } from '../../src/index.ts';
import { cifarBytes, idxBytes, pixels, rejection as dataError } from './data-helpers.ts';

describe('IDX', () => {
  const images = idxBytes([3, 5, 7], pixels(3 * 5 * 7));
  const labels = idxBytes([3], [4, 0, 9]);

  it('parses images and labels, raw and gzipped, to the same values', async () => {
    for (const [img, lab] of [[images, labels], [gzipSync(images), gzipSync(labels)]] as const) {
      const ds = await data.idxDataset(new Uint8Array(img), new Uint8Array(lab), { name: 't', classes: 10 });
      expect(ds.size).toBe(3);
      expect(ds.shape).toEqual([1, 5, 7]);
      expect(Array.from(ds.labels)).toEqual([4, 0, 9]);
      const px = pixels(105);
      for (let i = 0; i < px.length; i++) expect(ds.images[i]).toBe(Math.fround(px[i]! / 255));
    }
  });

  it('returns the header dims and a view of the data without copying', () => {
    const idx = data.parseIdx(images, 'x');
    expect(idx.dims).toEqual([3, 5, 7]);
    expect(idx.data.buffer).toBe(images.buffer);
    expect(idx.data.byteOffset).toBe(16);
  });

  it('names the file and the problem for a bad magic number', async () => {
    const bad = images.slice();
    bad[0] = 1;
    expect((await dataError(() => data.parseIdx(bad, 'train-images'))).message)
      .toMatch(/^train-images: not an IDX file: .*01 00 08 03/);
    const html = new TextEncoder().encode('<!DOCTYPE html><html>Not found</html>');
    expect((await dataError(() => data.parseIdx(html, 'f'))).message).toMatch(/HTML/);
    const floats = images.slice();
    floats[2] = 0x0d;
    expect((await dataError(() => data.parseIdx(floats, 'f'))).message).toMatch(/float32\) is not supported/);
  });

  it('rejects truncated data, truncated headers and trailing bytes', async () => {
    expect((await dataError(() => data.parseIdx(images.subarray(0, images.length - 1), 'f'))).message)
      .toMatch(/truncated IDX data: the header declares 3×5×7 = 105 bytes, only 104 follow/);
    expect((await dataError(() => data.parseIdx(images.subarray(0, 10), 'f'))).message).toMatch(/truncated IDX header/);
    expect((await dataError(() => data.parseIdx(images.subarray(0, 3), 'f'))).message).toMatch(/too short/);
    const longer = new Uint8Array(images.length + 2);
    longer.set(images);
    expect((await dataError(() => data.parseIdx(longer, 'f'))).message).toMatch(/2 unexpected bytes after/);
    const huge = idxBytes([0xffffffff, 0xffffffff, 0xffffffff], []);
    expect((await dataError(() => data.parseIdx(huge, 'f'))).message).toMatch(/more than the file/);
  });

  it('rejects a truncated gzip file', async () => {
    const gz = gzipSync(images);
    const e = await dataError(data.readIdx(new Uint8Array(gz.subarray(0, gz.length - 20)), 'x.gz'));
    expect(e.message).toMatch(/^x\.gz: corrupt or truncated gzip/);
  });

  it('treats a corrupt size field in the gzip trailer as corrupt data, not as a size to allocate', async () => {
    const gz = new Uint8Array(gzipSync(images));
    gz.fill(0xff, gz.length - 4);
    expect((await dataError(data.readIdx(gz, 'isize.gz'))).message).toMatch(/^isize\.gz: corrupt or truncated gzip/);
  });

  it('catches swapped files, mismatched counts and labels beyond the classes', async () => {
    expect((await dataError(data.idxDataset(labels, images, { name: 't', classes: 10, imagesSource: 'L', labelsSource: 'I' }))).message)
      .toMatch(/^L: expected an IDX image file .* is this a label file\?/);
    expect((await dataError(data.idxDataset(images, idxBytes([2], [1, 2]), { name: 't', classes: 10 }))).message)
      .toMatch(/2 labels for 3 images/);
    expect((await dataError(data.idxDataset(images, labels, { name: 't', classes: 5, labelsSource: 'lab' }))).message)
      .toMatch(/^lab: label 2 is 9, but the data set has 5 classes/);
  });
});

describe('CIFAR binary', () => {
  it('reads CIFAR-10 batches in file order, pixels already C×H×W', () => {
    const a = cifarBytes('cifar10', [{ label: 3, seed: 1 }, { label: 9, seed: 2 }]);
    const b = cifarBytes('cifar10', [{ label: 0, seed: 3 }]);
    const ds = data.parseCifar([{ bytes: a, source: 'a' }, { bytes: b, source: 'b' }], { variant: 'cifar10' });
    expect(ds.size).toBe(3);
    expect(ds.shape).toEqual([3, 32, 32]);
    expect(ds.classes).toBe(10);
    expect(Array.from(ds.labels)).toEqual([3, 9, 0]);
    // Image 2, channel 1 (green), row 4, column 5 is byte 1024 + 4·32 + 5 of its record.
    const p = 1024 + 4 * 32 + 5;
    expect(ds.images[2 * 3072 + p]).toBe(Math.fround(((p * 7 + 3 * 13) % 256) / 255));
  });

  it('reads CIFAR-100 fine labels by default and coarse ones on request', () => {
    const bytes = cifarBytes('cifar100', [{ label: 99, coarse: 19, seed: 1 }, { label: 42, coarse: 7, seed: 2 }]);
    const fine = data.parseCifar({ bytes, source: 'train.bin' }, { variant: 'cifar100' });
    expect(Array.from(fine.labels)).toEqual([99, 42]);
    expect(fine.classes).toBe(100);
    const coarse = data.parseCifar({ bytes, source: 'train.bin' }, { variant: 'cifar100', label: 'coarse' });
    expect(Array.from(coarse.labels)).toEqual([19, 7]);
    expect(coarse.classes).toBe(20);
    expect(coarse.name).toBe('cifar100-coarse');
    expect(coarse.images[3072 + 10]).toBe(Math.fround(((10 * 7 + 2 * 13) % 256) / 255));
  });

  it('rejects partial records and out-of-range labels, naming the file', async () => {
    const ten = cifarBytes('cifar10', [{ label: 1, seed: 1 }, { label: 2, seed: 1 }]);
    expect((await dataError(() => data.parseCifar({ bytes: ten.subarray(1), source: 'b1' }, { variant: 'cifar10' }))).message)
      .toMatch(/^b1: 6145 bytes is not a whole number of CIFAR-10 records \(3073 bytes each\): 1 records and 3072 bytes over/);
    const badLabel = cifarBytes('cifar10', [{ label: 10, seed: 1 }]);
    expect((await dataError(() => data.parseCifar({ bytes: badLabel, source: 'b2' }, { variant: 'cifar10' }))).message)
      .toMatch(/^b2: record 0: label 10 is not a CIFAR-10 class/);
    const badCoarse = cifarBytes('cifar100', [{ label: 5, coarse: 20, seed: 1 }]);
    expect((await dataError(() => data.parseCifar({ bytes: badCoarse, source: 't' }, { variant: 'cifar100' }))).message)
      .toMatch(/coarse label 20/);
    expect(() => data.parseCifar([], { variant: 'cifar10' })).toThrow(/no files/);
  });
});

const DEBIAN = '/usr/share/datasets/fashion-mnist';
const haveFashion = existsSync(`${DEBIAN}/train-labels-idx1-ubyte.gz`);

describe.skipIf(!haveFashion)('Fashion-MNIST from the Debian package', () => {
  it('loads 60000/10000 28×28 images with labels in 0…9, the first training label 9, verified content', async () => {
    const { train, test } = await data.loadDataset('fashion-mnist', { env: {}, dataDir: undefined, cwd: '/nonexistent' });
    expect(train.size).toBe(60000);
    expect(test.size).toBe(10000);
    expect(train.shape).toEqual([1, 28, 28]);
    expect(train.labels[0]).toBe(9);
    for (const ds of [train, test]) {
      const hist = new Array(10).fill(0);
      for (const y of ds.labels) hist[y]++;
      expect(hist).toEqual(new Array(10).fill(ds.size / 10));
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of train.images) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    expect([lo, hi]).toEqual([0, 1]);
  });

  it('ships the upstream files with only the gzip header normalised: restoring it gives the recorded SHA-256', async () => {
    // Upstream headers: FNAME set, mtime 2017-08-31 (train files 10:50:06, test files 10:50:27 UTC),
    // XFL 0, OS 3 (Unix), then the original file name.
    const mtime = { 'train': 1504176606, 't10k': 1504176627 } as const;
    const spec = data.DATASETS['fashion-mnist'];
    for (const d of spec.downloads) {
      const deb = new Uint8Array(readFileSync(`${DEBIAN}/${d.file}`));
      expect(deb[3]).toBe(0); // Debian's copy: no FNAME
      const name = new TextEncoder().encode(`${d.file.replace(/\.gz$/, '')}\0`);
      const t = mtime[d.file.startsWith('train') ? 'train' : 't10k'];
      const header = Uint8Array.of(0x1f, 0x8b, 8, 8, t & 255, (t >>> 8) & 255, (t >>> 16) & 255, t >>> 24, 0, 3);
      const upstream = new Uint8Array(header.length + name.length + deb.length - 10);
      upstream.set(header);
      upstream.set(name, header.length);
      upstream.set(deb.subarray(10), header.length + name.length);
      expect(upstream.length).toBe(d.bytes);
      expect(await data.sha256Hex(upstream)).toBe(d.sha256);
    }
  });
});
