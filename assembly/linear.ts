// Fully-connected layer y = x·Wᵀ + b with x [batch×in], W [out×in] (PyTorch layout), y [batch×out].
import { gemmNT, gemmStridedAPacked, packedGemmWorkspaceFloats } from "./gemm";

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

/**
 * Workspace floats one thread of linearBackwardData/linearBackwardWeight needs: both read their
 * operand B down its columns, so they go through packed copies (see gemmStridedAPacked).
 */
export function linearBackwardWorkspaceFloats(batch: i32, inFeatures: i32, outFeatures: i32): i32 {
  return max(packedGemmWorkspaceFloats(inFeatures, outFeatures), packedGemmWorkspaceFloats(inFeatures, batch));
}

/**
 * Columns j0 … j1−1 of dx = dy·W (dy [batch×out], W [out×in], dx [batch×in]); the whole of dx for
 * (0, in). ws: linearBackwardWorkspaceFloats floats.
 */
export function linearBackwardData(
  dy: usize, w: usize, dx: usize, ws: usize, batch: i32, inFeatures: i32, outFeatures: i32, j0: i32, j1: i32,
): void {
  const col = <usize>j0 << 2;
  gemmStridedAPacked(dy, outFeatures, 1, w + col, inFeatures, 0, dx + col, inFeatures, ws, batch, j1 - j0, outFeatures);
}

/**
 * Rows o0 … o1−1 of dW = dyᵀ·x (dy [batch×out], x [batch×in], dW [out×in]); the whole of dW for
 * (0, out). ws: linearBackwardWorkspaceFloats floats.
 */
export function linearBackwardWeight(
  dy: usize, x: usize, dw: usize, ws: usize, batch: i32, inFeatures: i32, outFeatures: i32, o0: i32, o1: i32,
): void {
  gemmStridedAPacked(dy + (<usize>o0 << 2), 1, outFeatures, x, inFeatures, 0, dw + (<usize>(o0 * inFeatures) << 2), inFeatures, ws,
    o1 - o0, inFeatures, batch);
}
