// Fully-connected layer y = x·Wᵀ + b with x [batch×in], W [out×in] (PyTorch layout), y [batch×out].
import { gemmNT } from "./gemm";

/** y = x·Wᵀ + b; pass bias = 0 for a layer without bias. */
export function linearForward(
  x: usize, w: usize, bias: usize, y: usize, batch: i32, inFeatures: i32, outFeatures: i32,
): void {
  if (bias != 0) {
    // Seed every output row with the bias so the product can accumulate onto it.
    const rowBytes = <usize>outFeatures << 2;
    for (let r = 0; r < batch; r++) memory.copy(y + <usize>r * rowBytes, bias, rowBytes);
    gemmNT(x, w, y, batch, outFeatures, inFeatures, 1);
  } else {
    gemmNT(x, w, y, batch, outFeatures, inFeatures, 0);
  }
}

/** db[o] = Σ_n dy[n, o] (+ beta·db): the bias gradient, a column sum of dy [rows×cols]. */
export function linearBackwardBias(dy: usize, db: usize, rows: i32, cols: i32, beta: f32): void {
  let j = 0;
  for (; j + 4 <= cols; j += 4) {
    let acc = f32x4.splat(0);
    for (let r = 0; r < rows; r++) acc = f32x4.add(acc, v128.load(dy + (<usize>(r * cols + j) << 2)));
    const dst = db + (<usize>j << 2);
    if (beta != 0) acc = f32x4.add(acc, f32x4.mul(f32x4.splat(beta), v128.load(dst)));
    v128.store(dst, acc);
  }
  for (; j < cols; j++) {
    let s: f32 = 0;
    for (let r = 0; r < rows; r++) s += load<f32>(dy + (<usize>(r * cols + j) << 2));
    const dst = db + (<usize>j << 2);
    store<f32>(dst, beta == 0 ? s : s + beta * load<f32>(dst));
  }
}
