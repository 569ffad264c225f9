// Test-set evaluation of a model: top-1 (and top-5) accuracy and mean cross-entropy, in batches.
import type { ModelDef } from '../nn/models.ts';
import type { Network } from '../nn/network.ts';

export interface EvalData {
  images: Float32Array;
  labels: Int32Array;
  sampleSize: number;
}

export interface EvalResult {
  accuracy: number;
  top5: number;
  loss: number;
}

/** What evaluation needs of a model: a Network, or a SparseModel compiled for inference. */
export interface Predictor {
  readonly model: ModelDef;
  predict(x: Float32Array, batch: number): Promise<Float32Array>;
}

/** Activation memory an evaluation batch may take (the forward pass of its largest batch). */
const EVAL_BUDGET_BYTES = 256 * 2 ** 20;

/**
 * The evaluation batch for a model: up to 1,000 images, fewer when their activations would not fit
 * the budget — ResNet-18 at 1,000 images would need ~5 GB, past wasm32's 4 GiB. The top-level
 * outputs are counted 8 times over, for what blocks and layers keep inside. Results do not depend
 * on it: every image is evaluated on its own.
 */
export function evalBatchFor(model: ModelDef, budgetBytes = EVAL_BUDGET_BYTES): number {
  let shape: readonly number[] = model.inputShape;
  let floats = 0;
  for (const layer of model.layers) {
    shape = layer.outputShape(shape);
    floats += shape.reduce((a, b) => a * b, 1);
  }
  return Math.max(1, Math.min(1000, Math.floor(budgetBytes / (4 * 8 * floats))));
}

/**
 * Loads `weights` into `net` and evaluates them. A deployed pruned model is 0 where it is pruned,
 * so its non-zeros are its mask: with that mask, layers pruned past the crossover evaluate on the
 * sparse kernels (the logits are the same, since M⊙W = W) and the others stay dense.
 */
export async function evaluate(net: Network, weights: Float32Array, data: EvalData, batch = evalBatchFor(net.model)): Promise<EvalResult> {
  net.setParameters(weights);
  net.setMask(nonzeroMask(net.model, weights));
  return evaluatePredictor(net, data, batch);
}

function nonzeroMask(model: ModelDef, weights: Float32Array): Uint8Array {
  const mask = new Uint8Array(weights.length).fill(1);
  for (const s of model.layout.prunable) {
    for (let i = s.offset; i < s.offset + s.size; i++) if (weights[i] === 0) mask[i] = 0;
  }
  return mask;
}

/** Evaluates a model as it stands (e.g. a SparseModel, which holds its own weights). */
export async function evaluatePredictor(net: Predictor, data: EvalData, batch = evalBatchFor(net.model)): Promise<EvalResult> {
  const n = data.labels.length;
  const classes = net.model.classes;
  let correct = 0;
  let correct5 = 0;
  let lossSum = 0;
  for (let from = 0; from < n; from += batch) {
    const count = Math.min(batch, n - from);
    const logits = await net.predict(data.images.subarray(from * data.sampleSize, (from + count) * data.sampleSize), count);
    for (let k = 0; k < count; k++) {
      const row = logits.subarray(k * classes, (k + 1) * classes);
      const label = data.labels[from + k]!;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, row[c]!);
      let sum = 0;
      let above = 0;
      for (let c = 0; c < classes; c++) {
        sum += Math.exp(row[c]! - max);
        // Ties count against us, so an all-equal row (a dead model) is not "correct".
        if (c !== label && row[c]! >= row[label]!) above++;
      }
      lossSum += Math.log(sum) + max - row[label]!;
      if (above === 0) correct++;
      if (above < 5) correct5++;
    }
  }
  return { accuracy: correct / n, top5: correct5 / n, loss: lossSum / n };
}
