// Data and starting points shared by the federated-learning tests: a data set small enough to
// train in seconds that a model still has to learn, contiguous client shares, and seeded weights.
import { initParameters, Rng } from '../../src/index.ts';
import type { ParamLayout } from '../../src/nn/layout.ts';

/** n 28×28 images of ten classes: noise plus a bright row whose position is the label. */
export function synthetic(n: number, seed: number): { images: Float32Array; labels: Int32Array } {
  const r = new Rng(seed);
  const labels = Int32Array.from({ length: n }, () => r.int(10));
  const images = Float32Array.from({ length: n * 784 }, () => 0.2 * r.uniform());
  labels.forEach((label, i) => { for (let c = 0; c < 28; c++) images[i * 784 + (2 + 2 * label) * 28 + c] = 1; });
  return { images, labels };
}

/** Sample indices of n samples cut into `clients` equal contiguous shares (the remainder unused). */
export function split(n: number, clients: number): Int32Array[] {
  const share = Math.floor(n / clients);
  return Array.from({ length: clients }, (_, k) => Int32Array.from({ length: share }, (_, i) => k * share + i));
}

/** A model's parameters initialised from its own stream of the seed. */
export function seededWeights(layout: ParamLayout, seed: number): Float32Array {
  const r = new Rng(seed);
  return initParameters(layout, () => r.uniform());
}
