// What a client does with a task: E epochs of minibatch SGD over its own samples (reshuffled every
// epoch from a seeded generator) on the FedDIP step, then the update Δ = W_k − received, cut down
// to what the uplink policy sends. The same code serves simulated and networked clients, and every
// method: the task switches on what a method needs beyond that (see LocalConfig) — a hard mask, a
// mask of the client's own, per-layer penalties, reported statistics, pruning or a mask
// readjustment after training, error-feedback compression of the uplink.
import { InvalidArgumentError } from '../errors.ts';
import type { ParamLayout } from '../nn/layout.ts';
import type { Network } from '../nn/network.ts';
import { dropAndGrow, erkDensities, globalMagnitudeMask, randomMask } from '../sparse/masks.ts';
import { augmentBatch } from '../data/dataset.ts';
import type { Augmentation } from '../data/prepare.ts';
import type { Rng } from '../util/rng.ts';
import type { ClientResult, ClientState, ClientTask } from './types.ts';

/** A client's view of the training data: shared arrays, its own sample indices. */
export interface ClientData {
  /** All training images, N × (C·H·W), row-major. */
  images: Float32Array;
  labels: Int32Array;
  /** Values per sample (C·H·W). */
  sampleSize: number;
  /** This client's samples. */
  indices: Int32Array;
  /** Augment every training batch so (CIFAR); absent: train on the images as they are. */
  augment?: Augmentation | null;
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
  /** Called after every local step with the samples of its minibatch (progress reporting). */
  onStep?: (samples: number) => void;
}

/**
 * Least time between two progress messages of a training worker: a message per step would cost
 * more than a small model's step, and a display cannot show more than a few frames a second.
 */
export const PROGRESS_INTERVAL_MS = 100;

/**
 * Samples a task has the client process — its data E times, or the one minibatch SNIP's
 * sensitivity needs — so progress can be told as a fraction before the client starts.
 */
export function taskSamples(config: ClientTask['config'], clientSamples: number): number {
  return config.mode === 'sensitivity' ? Math.min(config.batch, clientSamples) : clientSamples * config.localEpochs;
}

/**
 * The mask a client trains under: its own (client state) if it keeps one, else a fresh random ERK
 * mask when the task asks for one (drawn from the stream `rng.fork('mask')`, so the shuffles are
 * the same with or without it), else the task's.
 */
export function trainingMask(task: ClientTask, layout: ParamLayout, rng: Rng): Uint8Array | null {
  const own = task.state?.mask;
  if (own) {
    layout.checkVector(own, 'client mask');
    return own;
  }
  const density = task.config.randomMaskDensity;
  if (density !== undefined) {
    const erk = erkDensities(layout.prunable.map((s) => s.shape), density);
    return randomMask(layout.segments, erk.layerDensities, rng.fork('mask'), layout.size);
  }
  return task.mask;
}

export async function trainClient(task: ClientTask, o: TrainOptions): Promise<ClientResult> {
  const { net, data, rng } = o;
  const { config } = task;
  const layout = net.layout;
  net.setParameters(task.weights);
  const mask = trainingMask(task, layout, rng);
  net.setMask(mask);
  const hard = config.hardMask === true && mask !== null;
  if (hard) net.zeroMaskedWeights();
  // Dropout masks come from the client's own stream, so runs repeat whatever the client order.
  net.rng = rng.fork('dropout');
  const n = data.indices.length;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  if (config.mode === 'sensitivity') return sensitivity(task, o, order);

  const lambda = config.layerLambdas ?? config.lambda;
  const squares = config.gradSquares ? new Float32Array(layout.size) : null;
  // Crops and flips come from a stream of their own: adding augmentation leaves shuffles unchanged.
  const augment = data.augment ?? null;
  const augmentRng = augment ? rng.fork('augment') : null;
  let lossSum = 0;
  let steps = 0;
  for (let epoch = 0; epoch < config.localEpochs; epoch++) {
    rng.shuffle(order);
    for (let from = 0; from < n; from += config.batch) {
      const count = Math.min(config.batch, n - from);
      const batch = gather(data, order, from, count, o.buffers);
      if (augment) augmentBatch(batch.images, augment.shape, augmentRng!, augment);
      net.trainStep(batch.images, batch.labels, { lr: config.lr, weightDecay: config.weightDecay, lambda });
      if (hard) net.zeroMaskedWeights();
      lossSum += (await net.lastLoss()).loss;
      if (squares) {
        const g = await net.getGradients();
        for (let i = 0; i < g.length; i++) squares[i] = squares[i]! + g[i]! * g[i]!;
      }
      steps++;
      o.onStep?.(count);
    }
  }
  if (squares && steps) for (let i = 0; i < squares.length; i++) squares[i] = squares[i]! / steps;

  const trained = await net.getParameters();
  let state: ClientState | undefined;
  const remember = (part: ClientState) => { state = { ...(state ?? task.state), ...part }; };
  if (config.readjust) {
    if (!mask) throw new InvalidArgumentError('readjust: the client has no mask to readjust (give it one in its state or the task)');
    // Regrowth is scored by the gradient at the trained point on one fresh minibatch. That pass
    // also moves batch-norm running statistics, which is why `trained` was read before it.
    const grad = await oneBatchGradient(o, order, rng.fork('readjust'), config.batch);
    const next = dropAndGrow(trained, grad, mask, layout.segments, config.readjust.fraction);
    for (const s of layout.prunable) for (let i = s.offset; i < s.offset + s.size; i++) if (!next[i]) trained[i] = 0;
    remember({ mask: next });
  }
  if (config.pruneAfter) {
    const { sparsity, keepDense } = config.pruneAfter;
    const dense = new Set(keepDense);
    for (const name of dense) layout.segment(name); // an unknown name is an error, not a no-op
    const segments = layout.segments.map((s) => (dense.has(s.name) ? { ...s, prunable: false } : s));
    const kept = globalMagnitudeMask(trained, segments, sparsity);
    for (let i = 0; i < kept.length; i++) if (!kept[i]) trained[i] = 0;
  }

  const update = new Float32Array(trained.length);
  for (let i = 0; i < update.length; i++) update[i] = trained[i]! - task.weights[i]!;
  let sent: Uint8Array;
  if (config.uplinkResidual) {
    if (config.uplink !== 'topk') throw new InvalidArgumentError(`uplinkResidual needs the 'topk' uplink, got '${config.uplink}'`);
    const carried = task.state?.residual;
    if (carried) {
      layout.checkVector(carried, 'residual');
      for (let i = 0; i < update.length; i++) update[i] = update[i]! + carried[i]!;
    }
    sent = globalMagnitudeMask(update, layout.segments, 1 - config.uplinkDensity);
    const residual = new Float32Array(update.length);
    for (let i = 0; i < update.length; i++) if (!sent[i]) { residual[i] = update[i]!; update[i] = 0; }
    remember({ residual });
  } else {
    sent = uplinkSet(task, update, net);
    for (let i = 0; i < update.length; i++) if (!sent[i]) update[i] = 0;
  }
  const result: ClientResult = { clientId: o.clientId, samples: n, update, sent, trainLoss: steps ? lossSum / steps : NaN };
  if (squares) result.extras = { gradSquares: squares };
  if (state) result.state = state;
  return result;
}

/** Gradient of the loss (no penalty) on the first minibatch of a shuffle drawn from `rng`. */
async function oneBatchGradient(o: TrainOptions, order: Int32Array, rng: Rng, batch: number): Promise<Float32Array> {
  rng.shuffle(order);
  const b = gather(o.data, order, 0, Math.min(batch, order.length), o.buffers);
  o.net.computeGradients(b.images, b.labels, 0);
  return o.net.getGradients();
}

/**
 * SNIP's connection sensitivity |∂L/∂m_i| = |g_i·w_i| on the first minibatch the client would
 * train on (its seeded shuffle), for the prunable weights; nothing is trained or uploaded.
 */
async function sensitivity(task: ClientTask, o: TrainOptions, order: Int32Array): Promise<ClientResult> {
  const layout = o.net.layout;
  o.rng.shuffle(order);
  const b = gather(o.data, order, 0, Math.min(task.config.batch, order.length), o.buffers);
  o.net.computeGradients(b.images, b.labels, 0);
  const g = await o.net.getGradients();
  const scores = new Float32Array(layout.size);
  for (const s of layout.prunable) {
    for (let i = s.offset; i < s.offset + s.size; i++) scores[i] = Math.abs(g[i]! * task.weights[i]!);
  }
  const n = o.data.indices.length;
  return {
    clientId: o.clientId, samples: n, update: new Float32Array(layout.size), sent: new Uint8Array(layout.size),
    trainLoss: (await o.net.lastLoss()).loss, extras: { sensitivity: scores },
  };
}

/** Which coordinates of Δ go up: all, those inside the mask, the largest |Δ| (biases always), or the changed ones. */
function uplinkSet(task: ClientTask, update: Float32Array, net: Network): Uint8Array {
  const { uplink, uplinkDensity } = task.config;
  if (uplink === 'dense' || (uplink === 'masked' && !task.mask)) return new Uint8Array(update.length).fill(1);
  if (uplink === 'masked') return task.mask!.slice();
  if (uplink === 'nonzero') return Uint8Array.from(update, (u) => (u !== 0 ? 1 : 0));
  return globalMagnitudeMask(update, net.layout.segments, 1 - uplinkDensity);
}
