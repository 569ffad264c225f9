// Dataset operations: checks of arrays from elsewhere, subsets, minibatch gathering, normalisation
// and CIFAR augmentation (against a plain pad-crop-flip written here).
import { describe, expect, it } from 'vitest';
import { data, InvalidArgumentError, Rng } from '../../src/index.ts';

function toy(n: number, shape: [number, number, number], classes = 3): data.Dataset {
  const stride = shape[0] * shape[1] * shape[2];
  const images = Float32Array.from({ length: n * stride }, (_, i) => i);
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  return data.makeDataset({ name: 'toy', images, labels, shape, classes });
}

describe('makeDataset', () => {
  it('wraps consistent arrays', () => {
    const ds = toy(4, [2, 3, 5]);
    expect(ds.size).toBe(4);
    expect(ds.shape).toEqual([2, 3, 5]);
  });

  it('rejects inconsistent arrays with the numbers in the message', () => {
    const images = new Float32Array(29);
    const labels = new Int32Array(1);
    expect(() => data.makeDataset({ name: 'x', images, labels, shape: [2, 3, 5], classes: 2 }))
      .toThrow(/1 labels need 1×2×3×5 = 30 pixels, images has 29/);
    expect(() => data.makeDataset({ name: 'x', images: new Float32Array(30), labels: Int32Array.of(2), shape: [2, 3, 5], classes: 2 }))
      .toThrow(/label 0 is 2, outside \[0, 2\)/);
    expect(() => data.makeDataset({ name: 'x', images: new Float32Array(30), labels, shape: [2, 3, 0] as never, classes: 2 }))
      .toThrow(InvalidArgumentError);
  });
});

describe('subset and gatherBatch', () => {
  const ds = toy(7, [1, 3, 3]);

  it('subset copies the rows at the indices, in order', () => {
    const s = data.subset(ds, [5, 0, 5]);
    expect(s.size).toBe(3);
    expect(Array.from(s.labels)).toEqual([2, 0, 2]);
    expect(Array.from(s.images.subarray(0, 9))).toEqual(Array.from(ds.images.subarray(45, 54)));
    expect(Array.from(s.images.subarray(9, 18))).toEqual(Array.from(ds.images.subarray(0, 9)));
    s.images[0] = -1;
    expect(ds.images[45]).toBe(45); // a copy, not a view
  });

  it('gatherBatch fills the front of preallocated buffers from a window of the permutation', () => {
    const order = Int32Array.of(6, 2, 4, 1, 3);
    const imgs = new Float32Array(4 * 9).fill(NaN);
    const labs = new Int32Array(4).fill(-1);
    expect(data.gatherBatch(ds, order, imgs, labs, 3, 2)).toBe(2);
    expect(Array.from(labs)).toEqual([1, 0, -1, -1]);
    expect(Array.from(imgs.subarray(0, 9))).toEqual(Array.from(ds.images.subarray(9, 18)));
    expect(Array.from(imgs.subarray(9, 18))).toEqual(Array.from(ds.images.subarray(27, 36)));
    expect(Number.isNaN(imgs[18])).toBe(true);
  });

  it('rejects indices outside the data set, windows outside the indices and small buffers', () => {
    const imgs = new Float32Array(18);
    const labs = new Int32Array(2);
    expect(() => data.gatherBatch(ds, [0, 7], imgs, labs)).toThrow(/index 7 \(position 1\) is not an image of 'toy' \(size 7\)/);
    expect(() => data.gatherBatch(ds, [0, 1], imgs, labs, 1, 2)).toThrow(/do not fit in 2 indices/);
    expect(() => data.gatherBatch(ds, [0, 1, 2], imgs, new Int32Array(3))).toThrow(/holds 18 floats, 3 images of 1×3×3 need 27/);
    expect(() => data.subset(ds, [-1])).toThrow(InvalidArgumentError);
  });
});

describe('normalisation', () => {
  it('normalize subtracts the channel mean and divides by its std, in place', () => {
    const ds = toy(2, [2, 1, 2]);
    const before = Array.from(ds.images);
    expect(data.normalize(ds, [1, 2], [2, 4])).toBe(ds);
    // image n, channel c occupies [4n + 2c, 4n + 2c + 2)
    before.forEach((v, i) => {
      const c = Math.floor(i / 2) % 2;
      expect(ds.images[i]).toBeCloseTo((v - [1, 2][c]!) / [2, 4][c]!, 6);
    });
    expect(() => data.normalize(ds, [0], [1])).toThrow(/one mean and one std per channel \(2\)/);
    expect(() => data.normalize(ds, [0, 0], [1, 0])).toThrow(/std\[1\] must be positive/);
  });

  it('channelStats gives each channel mean 0 and std 1 after normalising by them', () => {
    const ds = data.makeDataset({
      name: 'rand', shape: [3, 4, 5], classes: 2, labels: new Int32Array(6),
      images: Float32Array.from({ length: 6 * 60 }, (_, i) => Math.sin(i * 1.7) * (1 + (Math.floor(i / 20) % 3)) + (Math.floor(i / 20) % 3)),
    });
    const { mean, std } = data.channelStats(ds);
    expect(mean[1]).not.toBeCloseTo(mean[0]!, 2);
    data.normalize(ds, mean, std);
    const after = data.channelStats(ds);
    for (let c = 0; c < 3; c++) {
      expect(after.mean[c]).toBeCloseTo(0, 5);
      expect(after.std[c]).toBeCloseTo(1, 5);
    }
  });
});

/** torchvision's way, written out: pad into a bigger canvas, crop at (oy, ox), mirror. */
function padCropFlip(images: Float32Array, shape: [number, number, number], rng: Rng, pad: number, fill: number[]): Float32Array {
  const [C, H, W] = shape;
  const out = new Float32Array(images.length);
  const n = images.length / (C * H * W);
  for (let i = 0; i < n; i++) {
    const oy = rng.int(2 * pad + 1);
    const ox = rng.int(2 * pad + 1);
    const mirror = rng.uniform() < 0.5;
    for (let c = 0; c < C; c++) {
      const PH = H + 2 * pad;
      const PW = W + 2 * pad;
      const canvas = new Float32Array(PH * PW).fill(fill[c]!);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) canvas[(y + pad) * PW + x + pad] = images[((i * C + c) * H + y) * W + x]!;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const cx = mirror ? W - 1 - x : x;
          out[((i * C + c) * H + y) * W + x] = canvas[(y + oy) * PW + cx + ox]!;
        }
      }
    }
  }
  return out;
}

describe('augmentBatch', () => {
  const shape: [number, number, number] = [3, 7, 5];
  const batch = () => Float32Array.from({ length: 6 * 105 }, (_, i) => 1 + (i % 97) / 7);

  it('equals pad, random crop and flip done the plain way, for the same draws', () => {
    for (const pad of [0, 1, 4]) {
      const imgs = batch();
      const expected = padCropFlip(imgs, shape, new Rng(`aug${pad}`), pad, [0, -1, 0.5]);
      data.augmentBatch(imgs, shape, new Rng(`aug${pad}`), { padding: pad, fill: [0, -1, 0.5] });
      expect(Array.from(imgs)).toEqual(Array.from(expected));
    }
  });

  it('keeps the shape, changes images, and is deterministic for a seed', () => {
    const a = batch();
    const b = batch();
    data.augmentBatch(a, shape, new Rng(7));
    data.augmentBatch(b, shape, new Rng(7));
    expect(a.length).toBe(6 * 105);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(batch()));
    const c = batch();
    data.augmentBatch(c, shape, new Rng(8));
    expect(Array.from(c)).not.toEqual(Array.from(a));
  });

  it('touches only the first count images of a partly filled buffer', () => {
    const imgs = batch();
    const tail = Array.from(imgs.subarray(2 * 105));
    data.augmentBatch(imgs, shape, new Rng(1), { count: 2 });
    expect(Array.from(imgs.subarray(2 * 105))).toEqual(tail);
    expect(() => data.augmentBatch(new Float32Array(100), shape, new Rng(1))).toThrow(/not a whole number of 3×7×5 images/);
    expect(() => data.augmentBatch(imgs, shape, new Rng(1), { count: 7 })).toThrow(/count must be an integer in \[0, 6\]/);
  });
});
