// Softmax cross-entropy, mean over the batch, fused with its gradient:
//   loss = mean_n(logsumexp(logits_n) − logits_n[label_n]),  dlogits = (softmax − onehot) / batch.
// A label outside [0, classes) yields a NaN loss on every backend rather than an out-of-bounds read.
import type { Tensor } from '../backend/tensor.ts';
import { expectDistinct, expectDType, expectRank, expectShape, fail } from './checks.ts';
import type { FloatArray } from './reference-types.ts';

export interface SoftmaxCrossEntropyArgs {
  logits: Tensor; labels: Tensor; loss: Tensor;
  /** Optional gradient output with the shape of logits. */
  dlogits?: Tensor;
}
export interface CrossEntropyDims { batch: number; classes: number }

export function checkSoftmaxCrossEntropy(a: SoftmaxCrossEntropyArgs): CrossEntropyDims {
  const k = 'softmaxCrossEntropy';
  expectDType(k, 'logits', a.logits, 'f32');
  expectDType(k, 'labels', a.labels, 'i32');
  expectDType(k, 'loss', a.loss, 'f32');
  expectRank(k, 'logits', a.logits, 2);
  const [batch, classes] = a.logits.shape as [number, number];
  if (batch < 1 || classes < 1) fail(k, `logits must be at least [1, 1], got [${batch}, ${classes}]`);
  expectShape(k, 'labels', a.labels, [batch]);
  expectShape(k, 'loss', a.loss, [1]);
  if (a.dlogits) {
    expectDType(k, 'dlogits', a.dlogits, 'f32');
    expectShape(k, 'dlogits', a.dlogits, [batch, classes]);
  }
  expectDistinct(k, { logits: a.logits, loss: a.loss, dlogits: a.dlogits });
  return { batch, classes };
}

export function softmaxCrossEntropyRef(
  logits: FloatArray, labels: Int32Array, loss: FloatArray, dlogits: FloatArray | undefined, d: CrossEntropyDims,
): void {
  const { batch, classes } = d;
  let total = 0;
  for (let n = 0; n < batch; n++) {
    const row = n * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[row + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[row + c]! - max);
    const label = labels[n]!;
    const valid = label >= 0 && label < classes;
    total += valid ? Math.log(sum) + max - logits[row + label]! : NaN;
    if (dlogits) {
      for (let c = 0; c < classes; c++) {
        const p = Math.exp(logits[row + c]! - max) / sum;
        dlogits[row + c] = (c === label ? p - 1 : p) / batch;
      }
    }
  }
  loss[0] = total / batch;
}
