// Test-set evaluation of a model: top-1 (and top-5) accuracy and mean cross-entropy, in batches.
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

export async function evaluate(net: Network, weights: Float32Array, data: EvalData, batch = 1000): Promise<EvalResult> {
  net.setParameters(weights);
  net.setMask(null);
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
