// An image classification data set held as one flat array, and the few operations training needs
// on it: subsets (a client's shard), minibatch gathering into preallocated buffers (the hot path),
// per-channel normalisation, and CIFAR's crop-and-flip augmentation.
import { InvalidArgumentError } from '../errors.ts';
import type { Rng } from '../util/rng.ts';

/** Channels, height, width of one image. */
export type ImageShape = readonly [number, number, number];

export interface Dataset {
  readonly name: string;
  /** N×C×H×W, row-major; pixels scaled to [0, 1] by the loaders (normalize() changes them in place). */
  readonly images: Float32Array;
  /** N class indices in [0, classes). */
  readonly labels: Int32Array;
  readonly shape: ImageShape;
  readonly classes: number;
  /** N, the number of images. */
  readonly size: number;
}

export interface DataSplits {
  train: Dataset;
  test: Dataset;
}

export interface DatasetInit {
  name: string;
  images: Float32Array;
  labels: Int32Array;
  shape: ImageShape;
  classes: number;
}

const isPositiveInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;

function checkShape(fn: string, shape: ImageShape): number {
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every(isPositiveInt)) {
    throw new InvalidArgumentError(`${fn}: shape must be [C, H, W] of positive integers, got ${JSON.stringify(shape)}`);
  }
  return shape[0] * shape[1] * shape[2];
}

/** Checks arrays that come from elsewhere (a browser fetch, a user's own loader) and wraps them. */
export function makeDataset(init: DatasetInit): Dataset {
  const fn = 'makeDataset';
  const { name, images, labels, shape, classes } = init;
  if (!(images instanceof Float32Array)) throw new InvalidArgumentError(`${fn}: images must be a Float32Array`);
  if (!(labels instanceof Int32Array)) throw new InvalidArgumentError(`${fn}: labels must be an Int32Array`);
  if (!isPositiveInt(classes)) throw new InvalidArgumentError(`${fn}: classes must be a positive integer, got ${classes}`);
  const stride = checkShape(fn, shape);
  if (images.length !== labels.length * stride) {
    throw new InvalidArgumentError(`${fn}: ${labels.length} labels need ${labels.length}×${shape.join('×')} = ${labels.length * stride} pixels, images has ${images.length}`);
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y < 0 || y >= classes) throw new InvalidArgumentError(`${fn}: label ${i} is ${y}, outside [0, ${classes})`);
  }
  return { name, images, labels, shape: [shape[0], shape[1], shape[2]], classes, size: labels.length };
}

/** byte / 255 for every byte value; a table keeps the conversion of 47 M pixels to one load each. */
const UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/** Writes bytes scaled to [0, 1] into `out` from `offset` (what torchvision's ToTensor computes). */
export function bytesToUnit(src: Uint8Array, out: Float32Array, offset = 0): void {
  for (let i = 0; i < src.length; i++) out[offset + i] = UNIT[src[i]!]!;
}

function checkIndices(fn: string, ds: Dataset, indices: ArrayLike<number>, start: number, count: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > indices.length) {
    throw new InvalidArgumentError(`${fn}: start ${start} and count ${count} do not fit in ${indices.length} indices`);
  }
  for (let k = start; k < start + count; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= ds.size) {
      throw new InvalidArgumentError(`${fn}: index ${i} (position ${k}) is not an image of '${ds.name}' (size ${ds.size})`);
    }
  }
}

/** A new data set holding copies of the images at `indices`, in that order. */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = `${ds.name}[subset]`): Dataset {
  checkIndices('subset', ds, indices, 0, indices.length);
  const stride = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const images = new Float32Array(indices.length * stride);
  const labels = new Int32Array(indices.length);
  copyRows(ds, indices, 0, indices.length, images, labels, stride);
  return { name, images, labels, shape: ds.shape, classes: ds.classes, size: indices.length };
}

function copyRows(ds: Dataset, indices: ArrayLike<number>, start: number, count: number,
  outImages: Float32Array, outLabels: Int32Array, stride: number): void {
  const src = ds.images;
  for (let b = 0; b < count; b++) {
    const i = indices[start + b]!;
    outLabels[b] = ds.labels[i]!;
    // A plain loop rather than set(subarray()): no view object per row, so a training epoch
    // allocates nothing here.
    const from = i * stride;
    const to = b * stride;
    for (let j = 0; j < stride; j++) outImages[to + j] = src[from + j]!;
  }
}

/**
 * Copies the images and labels at indices[start … start+count) into the front of preallocated
 * buffers, and returns count. With an epoch's permutation as `indices` and start = b·B this is
 * a minibatch, with no allocation; the last, short batch simply passes a smaller count.
 */
export function gatherBatch(ds: Dataset, indices: ArrayLike<number>, outImages: Float32Array, outLabels: Int32Array,
  start = 0, count = indices.length - start): number {
  const fn = 'gatherBatch';
  checkIndices(fn, ds, indices, start, count);
  const stride = ds.shape[0] * ds.shape[1] * ds.shape[2];
  if (outImages.length < count * stride) {
    throw new InvalidArgumentError(`${fn}: outImages holds ${outImages.length} floats, ${count} images of ${ds.shape.join('×')} need ${count * stride}`);
  }
  if (outLabels.length < count) throw new InvalidArgumentError(`${fn}: outLabels holds ${outLabels.length} labels, need ${count}`);
  copyRows(ds, indices, start, count, outImages, outLabels, stride);
  return count;
}

function checkChannelParams(fn: string, channels: number, mean: ArrayLike<number>, std: ArrayLike<number>): void {
  if (mean.length !== channels || std.length !== channels) {
    throw new InvalidArgumentError(`${fn}: need one mean and one std per channel (${channels}), got ${mean.length} and ${std.length}`);
  }
  for (let c = 0; c < channels; c++) {
    if (!Number.isFinite(mean[c]!)) throw new InvalidArgumentError(`${fn}: mean[${c}] must be finite, got ${mean[c]}`);
    if (!(std[c]! > 0) || !Number.isFinite(std[c]!)) throw new InvalidArgumentError(`${fn}: std[${c}] must be positive and finite, got ${std[c]}`);
  }
}

/** (x − mean[c]) / std[c] in place over N×C×H×W images (any N). */
export function normalizeImages(images: Float32Array, shape: ImageShape, mean: ArrayLike<number>, std: ArrayLike<number>): void {
  const fn = 'normalizeImages';
  const stride = checkShape(fn, shape);
  checkChannelParams(fn, shape[0], mean, std);
  if (images.length % stride !== 0) throw new InvalidArgumentError(`${fn}: ${images.length} floats is not a whole number of ${shape.join('×')} images`);
  const plane = shape[1] * shape[2];
  for (let base = 0; base < images.length; base += stride) {
    for (let c = 0; c < shape[0]; c++) {
      const m = mean[c]!;
      const inv = 1 / std[c]!;
      const p0 = base + c * plane;
      for (let p = p0; p < p0 + plane; p++) images[p] = (images[p]! - m) * inv;
    }
  }
}

/** Per-channel normalisation of the whole data set, in place; returns it. */
export function normalize(ds: Dataset, mean: ArrayLike<number>, std: ArrayLike<number>): Dataset {
  normalizeImages(ds.images, ds.shape, mean, std);
  return ds;
}

/** Per-channel mean and (population) standard deviation over every image, summed in doubles. */
export function channelStats(ds: Dataset): { mean: number[]; std: number[] } {
  const [C, H, W] = ds.shape;
  const plane = H * W;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < C; c++) {
    let sum = 0;
    let sumSq = 0;
    for (let n = 0; n < ds.size; n++) {
      const p0 = (n * C + c) * plane;
      for (let p = p0; p < p0 + plane; p++) {
        const v = ds.images[p]!;
        sum += v;
        sumSq += v * v;
      }
    }
    const count = ds.size * plane;
    const m = count ? sum / count : 0;
    mean.push(m);
    std.push(count ? Math.sqrt(Math.max(0, sumSq / count - m * m)) : 0);
  }
  return { mean, std };
}

export interface AugmentOptions {
  /** Zero padding on every side before the random crop back to H×W (default 4, CIFAR's). */
  padding?: number;
  /** Mirror each image left–right with probability 1/2 (default true). */
  flip?: boolean;
  /**
   * Value of the padded pixels, per channel (default 0). torchvision pads the [0, 1] image and then
   * normalises; for images normalised beforehand, pass −mean[c]/std[c] to get the same pixels.
   */
  fill?: ArrayLike<number>;
  /** Number of images to augment from the front of `images` (default: all it holds). */
  count?: number;
}

/**
 * CIFAR augmentation in place on a batch of N×C×H×W images: each image is padded by `padding`
 * pixels, cropped back to H×W at a uniformly random offset (0 … 2·padding in each direction, as
 * torchvision's RandomCrop), then mirrored with probability 1/2. Per image the draws are: row
 * offset, column offset, flip — the same for a given Rng state on every runtime.
 *
 * A crop is a shift of the image by (dy, dx) = offset − padding. Rows are moved in the order that
 * never reads a row already overwritten (like memmove), each through a one-row scratch, so no copy
 * of the image is needed.
 */
export function augmentBatch(images: Float32Array, shape: ImageShape, rng: Rng, options: AugmentOptions = {}): void {
  const fn = 'augmentBatch';
  const stride = checkShape(fn, shape);
  const [C, H, W] = shape;
  const { padding = 4, flip = true } = options;
  if (!Number.isSafeInteger(padding) || padding < 0) throw new InvalidArgumentError(`${fn}: padding must be a non-negative integer, got ${padding}`);
  const fill = options.fill ?? new Array<number>(C).fill(0);
  if (fill.length !== C) throw new InvalidArgumentError(`${fn}: fill needs one value per channel (${C}), got ${fill.length}`);
  const capacity = Math.floor(images.length / stride);
  const count = options.count ?? capacity;
  if (options.count === undefined && images.length % stride !== 0) {
    throw new InvalidArgumentError(`${fn}: ${images.length} floats is not a whole number of ${shape.join('×')} images (pass count for a partly filled buffer)`);
  }
  if (!Number.isSafeInteger(count) || count < 0 || count > capacity) {
    throw new InvalidArgumentError(`${fn}: count must be an integer in [0, ${capacity}], got ${count}`);
  }
  const row = new Float32Array(W);
  const span = 2 * padding + 1;
  for (let n = 0; n < count; n++) {
    const dy = rng.int(span) - padding;
    const dx = rng.int(span) - padding;
    const mirror = flip && rng.uniform() < 0.5;
    if (dy === 0 && dx === 0 && !mirror) continue;
    for (let c = 0; c < C; c++) {
      const plane = (n * C + c) * H * W;
      const f = fill[c]!;
      // Output row y reads source row y + dy: walk upwards when dy > 0 so sources are still intact.
      for (let k = 0; k < H; k++) {
        const y = dy >= 0 ? k : H - 1 - k;
        const sy = y + dy;
        const out = plane + y * W;
        if (sy < 0 || sy >= H) {
          images.fill(f, out, out + W);
          continue;
        }
        const src = plane + sy * W;
        for (let x = 0; x < W; x++) row[x] = images[src + x]!;
        for (let x = 0; x < W; x++) {
          // Cropped pixel x comes from source column x + dx; mirroring reads the crop at W−1−x.
          const sx = (mirror ? W - 1 - x : x) + dx;
          images[out + x] = sx >= 0 && sx < W ? row[sx]! : f;
        }
      }
    }
  }
}
