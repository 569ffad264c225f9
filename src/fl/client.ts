// What a client does with a task: E epochs of minibatch SGD over its own samples (reshuffled every
// epoch from a seeded generator) on the FedDIP step, then the update Δ = W_k − received, cut down
// to what the uplink policy sends. The same code serves simulated and networked clients.
import type { Network } from '../nn/network.ts';
import { globalMagnitudeMask } from '../sparse/masks.ts';
import type { Rng } from '../util/rng.ts';
import type { ClientResult, ClientTask } from './types.ts';

/** A client's view of the training data: shared arrays, its own sample indices. */
export interface ClientData {
  /** All training images, N × (C·H·W), row-major. */
  images: Float32Array;
  labels: Int32Array;
  /** Values per sample (C·H·W). */
  sampleSize: number;
  /** This client's samples. */
  indices: Int32Array;
}

/** Preallocated minibatch buffers, reused across steps, epochs and clients. */
export class BatchBuffers {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  constructor(readonly batch: number, readonly sampleSize: number) {
    this.images = new Float32Array(batch * sampleSize);
    this.labels = new Int32Array(batch);
  }
}

function gather(data: ClientData, order: Int32Array, from: number, count: number, out: BatchBuffers): { images: Float32Array; labels: Int32Array } {
  const s = data.sampleSize;
  for (let k = 0; k < count; k++) {
    const i = data.indices[order[from + k]!]!;
    out.images.set(data.images.subarray(i * s, i * s + s), k * s);
    out.labels[k] = data.labels[i]!;
  }
  return count === out.batch
    ? { images: out.images, labels: out.labels }
    : { images: out.images.subarray(0, count * s), labels: out.labels.subarray(0, count) };
}

export interface TrainOptions {
  clientId: number;
  net: Network;
  data: ClientData;
  rng: Rng;
  buffers: BatchBuffers;
  /** Called after every local step (progress reporting). */
  onStep?: () => void;
}

export async function trainClient(task: ClientTask, o: TrainOptions): Promise<ClientResult> {
  const { net, data, rng } = o;
  const { config } = task;
  net.setParameters(task.weights);
  net.setMask(task.mask);
  // Dropout masks come from the client's own stream, so runs repeat whatever the client order.
  net.rng = rng.fork('dropout');
  const n = data.indices.length;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let lossSum = 0;
  let steps = 0;
  for (let epoch = 0; epoch < config.localEpochs; epoch++) {
    rng.shuffle(order);
    for (let from = 0; from < n; from += config.batch) {
      const count = Math.min(config.batch, n - from);
      const batch = gather(data, order, from, count, o.buffers);
      net.trainStep(batch.images, batch.labels, { lr: config.lr, weightDecay: config.weightDecay, lambda: config.lambda });
      lossSum += (await net.lastLoss()).loss;
      steps++;
      o.onStep?.();
    }
  }
  const trained = await net.getParameters();
  const update = new Float32Array(trained.length);
  for (let i = 0; i < update.length; i++) update[i] = trained[i]! - task.weights[i]!;
  const sent = uplinkSet(task, update, net);
  for (let i = 0; i < update.length; i++) if (!sent[i]) update[i] = 0;
  return { clientId: o.clientId, samples: n, update, sent, trainLoss: steps ? lossSum / steps : NaN };
}

/** Which coordinates of Δ go up: all, those inside the mask, or the largest |Δ| (biases always). */
function uplinkSet(task: ClientTask, update: Float32Array, net: Network): Uint8Array {
  const { uplink, uplinkDensity } = task.config;
  if (uplink === 'dense' || (uplink === 'masked' && !task.mask)) return new Uint8Array(update.length).fill(1);
  if (uplink === 'masked') return task.mask!.slice();
  return globalMagnitudeMask(update, net.layout.segments, 1 - uplinkDensity);
}
