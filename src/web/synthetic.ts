// A small built-in data set, so the dashboard works with no files: 28×28 grey images of ten classes,
// each class a fixed arrangement of soft blobs, every sample shifted by up to two pixels, with its
// brightness varied and noise added. Hard enough that accuracy climbs over rounds rather than
// jumping to 100 %, small enough to train in seconds in a page. Deterministic in the seed.
import { type DataSplits, makeDataset } from '../data/dataset.ts';
import { InvalidArgumentError } from '../errors.ts';
import { Rng } from '../util/rng.ts';

export interface SyntheticOptions {
  train?: number;
  test?: number;
  seed?: number;
  /** Standard deviation of the pixel noise (default 0.25). */
  noise?: number;
}

const SIDE = 28;
const CLASSES = 10;

/** Each class: three blobs (row, column, radius) drawn from a seeded stream. */
function prototypes(rng: Rng): Float32Array[] {
  return Array.from({ length: CLASSES }, () => {
    const img = new Float32Array(SIDE * SIDE);
    for (let b = 0; b < 3; b++) {
      const cy = 5 + rng.uniform() * 18;
      const cx = 5 + rng.uniform() * 18;
      const r = 2 + rng.uniform() * 3;
      for (let y = 0; y < SIDE; y++) {
        for (let x = 0; x < SIDE; x++) {
          const d2 = ((y - cy) ** 2 + (x - cx) ** 2) / (r * r);
          img[y * SIDE + x] = Math.max(img[y * SIDE + x]!, Math.exp(-d2));
        }
      }
    }
    return img;
  });
}

function draw(protos: Float32Array[], n: number, noise: number, rng: Rng): { images: Float32Array; labels: Int32Array } {
  const images = new Float32Array(n * SIDE * SIDE);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = rng.int(CLASSES);
    labels[i] = label;
    const p = protos[label]!;
    const dy = rng.int(5) - 2;
    const dx = rng.int(5) - 2;
    const gain = 0.6 + 0.4 * rng.uniform();
    const base = i * SIDE * SIDE;
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const sy = y - dy;
        const sx = x - dx;
        const v = sy >= 0 && sy < SIDE && sx >= 0 && sx < SIDE ? gain * p[sy * SIDE + sx]! : 0;
        images[base + y * SIDE + x] = Math.min(1, Math.max(0, v + rng.normal(0, noise)));
      }
    }
  }
  return { images, labels };
}

/** Train and test splits of the synthetic data set (defaults: 2,000 and 500 images). */
export function syntheticDataset(options: SyntheticOptions = {}): DataSplits {
  const { train = 2000, test = 500, seed = 7, noise = 0.25 } = options;
  for (const [name, v] of [['train', train], ['test', test]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`syntheticDataset: ${name} must be a positive integer, got ${v}`);
  }
  if (!(noise >= 0 && Number.isFinite(noise))) throw new InvalidArgumentError(`syntheticDataset: noise must be ≥ 0, got ${noise}`);
  const rng = new Rng(seed);
  const protos = prototypes(rng.fork('prototypes'));
  const shape = [1, SIDE, SIDE] as const;
  const a = draw(protos, train, noise, rng.fork('train'));
  const b = draw(protos, test, noise, rng.fork('test'));
  return {
    train: makeDataset({ name: 'synthetic', ...a, shape, classes: CLASSES }),
    test: makeDataset({ name: 'synthetic[test]', ...b, shape, classes: CLASSES }),
  };
}
