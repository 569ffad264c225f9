// Softmax cross-entropy, mean over the batch, fused with its gradient.

/**
 * loss[0] = mean_n(logsumexp(logits_n) − logits_n[label_n]);
 * dlogits = (softmax(logits) − onehot(labels)) / batch (pass dlogits = 0 to skip the gradient).
 * A label outside [0, classes) makes the loss NaN instead of reading out of bounds.
 */
export function softmaxCrossEntropy(
  logits: usize, labels: usize, loss: usize, dlogits: usize, batch: i32, classes: i32,
): void {
  let total: f64 = 0;
  const invBatch: f32 = 1 / <f32>batch;
  for (let r = 0; r < batch; r++) {
    const row = logits + (<usize>(r * classes) << 2);
    let max = load<f32>(row);
    for (let c = 1; c < classes; c++) max = Mathf.max(max, load<f32>(row + (<usize>c << 2)));
    let sum: f32 = 0;
    for (let c = 0; c < classes; c++) sum += Mathf.exp(load<f32>(row + (<usize>c << 2)) - max);
    const label = load<i32>(labels + (<usize>r << 2));
    const valid = label >= 0 && label < classes;
    const logSum = Mathf.log(sum) + max;
    total += valid ? <f64>(logSum - load<f32>(row + (<usize>label << 2))) : NaN;
    if (dlogits != 0) {
      const out = dlogits + (<usize>(r * classes) << 2);
      const invSum: f32 = 1 / sum;
      for (let c = 0; c < classes; c++) {
        const p = Mathf.exp(load<f32>(row + (<usize>c << 2)) - max) * invSum;
        store<f32>(out + (<usize>c << 2), (c == label ? p - 1 : p) * invBatch);
      }
    }
  }
  store<f32>(loss, <f32>(total / <f64>batch));
}
