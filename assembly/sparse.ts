// Sparse-weight kernels for the pruned point M⊙W. A pruned weight is kept in compressed sparse row
// form (rowPtr [rows + 1], colIdx [nnz], values [nnz]); the structure is built on the host when the
// mask changes, the values are gathered from the dense W before each pass (W moves every step).
//
// Everything reduces to one product, C = A·B with A sparse and B, C dense and row-major: each stored
// entry (r, c, v) adds v·B[c, :] to C[r, :], a broadcast multiply-add along a contiguous row, so
// SIMD runs across B's columns whatever the sparsity pattern (gathers along k would not vectorise).
//   linear forward     yᵀ = W·xᵀ           (x transposed so the batch is the contiguous axis)
//   linear input grad  dxᵀ = Wᵀ·dyᵀ        (the same kernel, given the CSR of Wᵀ)
//   conv forward       y_n = W·col_n        (im2col as the dense conv lays it out, then the product)
//   conv input grad    dcol = Wᵀ·dy_n, dx_n = col2im(dcol)
// Stride-1 convolutions skip im2col (whose cost does not shrink with sparsity): a kept weight reads
// a shifted window of the image itself (see "convolutions" below).
// Only the weight gradient is not here: error feedback needs it for every weight, pruned or not,
// so it stays with the dense kernels.
import { madd, madd1 } from "./gemm";
import { col2imAdd, copyRun, im2col, isPointwise, outSize, padInterior, round4, spreadRows, unpad, windowLength, windowOffset } from "./conv";
import { maxPool2x2Rows } from "./pool";

// @ts-ignore: decorator
@inline function bytes(n: i32): usize {
  return <usize>n << 2;
}

/**
 * C[m×n] = A·B, A sparse [m×k] in CSR, B dense [k×n]; row r of C starts from bias[r] (bias = 0:
 * from zero). Sixteen columns of a row are accumulated in registers across all of the row's
 * entries before they are stored, so C is written once and B is only read.
 */
export function spmm(
  rowPtr: usize, colIdx: usize, values: usize, bias: usize, b: usize, c: usize, m: i32, n: i32,
): void {
  spmmRows(false, rowPtr, 1, colIdx, values, bias, b, c, m, n);
}

/**
 * The product behind spmm and the gathered convolutions. Row r of A holds the entries
 * rowPtr[r·rowStep] … rowPtr[(r+1)·rowStep) (rowStep > 1 merges consecutive CSR rows into one).
 * Entry i reads the row of B that starts at b + colIdx[i]·n floats, or, with `shifted`, at
 * b + colIdx[i] floats: any window of a plane, not only a row boundary (idx then holds offsets).
 */
// @ts-ignore: decorator
@inline function spmmRows(
  shifted: bool, rowPtr: usize, rowStep: i32, idx: usize, values: usize, bias: usize, b: usize, c: usize, m: i32, n: i32,
): void {
  const rowBytes = bytes(n);
  for (let r = 0; r < m; r++) {
    const start = load<i32>(rowPtr + bytes(r * rowStep));
    const end = load<i32>(rowPtr + bytes((r + 1) * rowStep));
    const b0: f32 = bias != 0 ? load<f32>(bias + bytes(r)) : 0;
    const seed = f32x4.splat(b0);
    const crow = c + <usize>r * rowBytes;
    let j = 0;
    // Stretches of 24 while they leave no lone 8 that two of 16 would cover (32 = 16 + 16).
    for (; n - j >= 24 && n - j != 32; j += 24) stretch(true, shifted, idx, values, start, end, b + bytes(j), rowBytes, seed, crow + bytes(j));
    for (; j + 16 <= n; j += 16) stretch(false, shifted, idx, values, start, end, b + bytes(j), rowBytes, seed, crow + bytes(j));
    for (; j + 4 <= n; j += 4) {
      let a0 = seed;
      const col = b + bytes(j);
      for (let i = start; i < end; i++) {
        const v = f32x4.splat(load<f32>(values + bytes(i)));
        a0 = madd(a0, v, v128.load(col + entryOffset(shifted, idx, i, rowBytes)));
      }
      v128.store(crow + bytes(j), a0);
    }
    for (; j < n; j++) {
      let s = b0;
      const col = b + bytes(j);
      for (let i = start; i < end; i++) {
        s = madd1(s, load<f32>(values + bytes(i)), load<f32>(col + entryOffset(shifted, idx, i, rowBytes)));
      }
      store<f32>(crow + bytes(j), s);
    }
  }
}

/**
 * dst[0 … m) = seed + Σ values[i]·B_i[0 … m) over entries i0 … i1−1, B_i at col + entryOffset(i),
 * for m = 24 (`wide`) or 16: one stretch of a row of C, accumulated in registers and stored once.
 * Each multiply-add waits for the one before it on the same register, so the 24-float stretch's
 * six independent sums keep the FMA pipes busier than four; six is as many as V8 (Node 20) keeps
 * in registers here — with eight it spills one to the stack, which made the loop 1.4× slower.
 * Either width adds in the same order per output, so the bits do not depend on it.
 */
// @ts-ignore: decorator
@inline function stretch(
  wide: bool, shifted: bool, idx: usize, values: usize, i0: i32, i1: i32, col: usize, rowBytes: usize, seed: v128, dst: usize,
): void {
  let a0 = seed, a1 = seed, a2 = seed, a3 = seed, a4 = seed, a5 = seed;
  for (let i = i0; i < i1; i++) {
    const v = f32x4.splat(load<f32>(values + bytes(i)));
    const src = col + entryOffset(shifted, idx, i, rowBytes);
    a0 = madd(a0, v, v128.load(src));
    a1 = madd(a1, v, v128.load(src, 16));
    a2 = madd(a2, v, v128.load(src, 32));
    a3 = madd(a3, v, v128.load(src, 48));
    if (wide) {
      a4 = madd(a4, v, v128.load(src, 64));
      a5 = madd(a5, v, v128.load(src, 80));
    }
  }
  v128.store(dst, a0);
  v128.store(dst, a1, 16);
  v128.store(dst, a2, 32);
  v128.store(dst, a3, 48);
  if (wide) {
    v128.store(dst, a4, 64);
    v128.store(dst, a5, 80);
  }
}

/** Byte offset in B of entry i's row (see spmmRows). */
// @ts-ignore: decorator
@inline function entryOffset(shifted: bool, idx: usize, i: i32, rowBytes: usize): usize {
  const k = <usize>load<i32>(idx + bytes(i));
  return shifted ? k << 2 : k * rowBytes;
}

/**
 * values[i] = w[r·rowStride + colIdx[i]·colStride] for every stored entry i of row r: the kept
 * weights of the dense W, in CSR order. (cols, 1) gathers the CSR of W itself; (1, rows of W)
 * gathers the CSR of Wᵀ.
 */
export function csrGather(
  w: usize, rowPtr: usize, colIdx: usize, values: usize, rows: i32, rowStride: i32, colStride: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const start = load<i32>(rowPtr + bytes(r));
    const end = load<i32>(rowPtr + bytes(r + 1));
    const base = w + bytes(r * rowStride);
    if (colStride == 1) {
      for (let i = start; i < end; i++) {
        store<f32>(values + bytes(i), load<f32>(base + bytes(load<i32>(colIdx + bytes(i)))));
      }
    } else {
      for (let i = start; i < end; i++) {
        store<f32>(values + bytes(i), load<f32>(base + bytes(load<i32>(colIdx + bytes(i)) * colStride)));
      }
    }
  }
}

/**
 * grad[r·cols + colIdx[i]] += lambda·values[i]/√(sumSq[0]) for every kept entry: the gradient of
 * lambda·‖M⊙W‖₂ from the kept weights alone; nothing when the norm is 0 (the subgradient 0).
 */
export function csrAddScaledByInvNorm(
  rowPtr: usize, colIdx: usize, values: usize, rows: i32, cols: i32, sumSq: usize, grad: usize, lambda: f32,
): void {
  const s = load<f32>(sumSq);
  if (!(s > 0)) return;
  const scale: f32 = <f32>(<f64>lambda / Math.sqrt(<f64>s));
  for (let r = 0; r < rows; r++) {
    const end = load<i32>(rowPtr + bytes(r + 1));
    const base = grad + bytes(r * cols);
    for (let i = load<i32>(rowPtr + bytes(r)); i < end; i++) {
      const at = base + bytes(load<i32>(colIdx + bytes(i)));
      store<f32>(at, load<f32>(at) + scale * load<f32>(values + bytes(i)));
    }
  }
}

/**
 * dst[cols×rows] = src[rows×cols]ᵀ. Four source rows at a time, so every store is a full v128 of
 * four consecutive destination floats.
 */
export function transpose(src: usize, dst: usize, rows: i32, cols: i32): void {
  const srcRow = bytes(cols);
  const dstRow = bytes(rows);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const s0 = src + <usize>r * srcRow;
    const s1 = s0 + srcRow;
    const s2 = s1 + srcRow;
    const s3 = s2 + srcRow;
    let d = dst + bytes(r);
    for (let c = 0; c < cols; c++) {
      const at = bytes(c);
      let v = f32x4.splat(load<f32>(s0 + at));
      v = f32x4.replace_lane(v, 1, load<f32>(s1 + at));
      v = f32x4.replace_lane(v, 2, load<f32>(s2 + at));
      v = f32x4.replace_lane(v, 3, load<f32>(s3 + at));
      v128.store(d, v);
      d += dstRow;
    }
  }
  for (; r < rows; r++) {
    const s = src + <usize>r * srcRow;
    for (let c = 0; c < cols; c++) store<f32>(dst + <usize>c * dstRow + bytes(r), load<f32>(s + bytes(c)));
  }
}

/**
 * y [batch × rows] = x [batch × cols] · Aᵀ + bias, A sparse [rows × cols]. xt (cols·batch floats)
 * and yt (rows·batch floats) are workspaces for the transposed operands; with batch 1 a row is
 * its own transpose and they may be 0.
 */
export function sparseLinearForward(
  x: usize, rowPtr: usize, colIdx: usize, values: usize, bias: usize, y: usize, xt: usize, yt: usize,
  batch: i32, cols: i32, rows: i32,
): void {
  if (batch == 1) {
    spmm(rowPtr, colIdx, values, bias, x, y, rows, 1);
    return;
  }
  transpose(x, xt, batch, cols);
  spmm(rowPtr, colIdx, values, bias, xt, yt, rows, batch);
  transpose(yt, y, rows, batch);
}

// ---- convolutions ----
// With stride 1 a tap (c, ki, kj) reads plane c from offset ki·W + kj, and over an output grid of
// ho rows of W (the padded input width) instead of ho × wo its reads are ONE contiguous window of
// L = (ho−1)·W + wo floats (the dense kernels' implicit lowering, assembly/conv.ts). A kept weight
// is then a CSR entry whose "row of B" is that window: spmmRows with shifted rows computes all
// output channels without an im2col, accumulating each stretch of the grid in registers over the
// channel's kept weights. The W − wo grid columns past each output row are computed and dropped.
// The input gradient runs the other way on the same grid (see sparseConv2dBackwardData). Strided
// convolutions go through im2col and spmm.

/**
 * Whether a convolution runs gathered rather than through im2col: stride 1, not pointwise (that one
 * needs no col at all), and a grid that wastes at most 8 multiply-adds per element im2col would
 * copy (nnz·(L − P) ≤ 8·K·P: the dense lowering's measured rule with kept weights for filters × taps).
 */
function isGathered(nnz: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): bool {
  if (sh != 1 || sw != 1 || isPointwise(kh, kw, sh, sw, ph, pw)) return false;
  const ho = outSize(h, kh, 1, ph);
  const wo = outSize(w, kw, 1, pw);
  if (ho < 1 || wo < 1) return false;
  const p = ho * wo;
  return <i64>nnz * <i64>(windowLength(ho, wo, w + 2 * pw) - p) <= 8 * <i64>(c * kh * kw) * <i64>p;
}

/**
 * Floats of workspace sparseConv2dForward and sparseConv2dBackwardData need with at most nnz kept
 * weights: the im2col column of the strided path, or for the gathered one the entries' offsets, the
 * padded plane and the output grid of either direction. 0 for a pointwise convolution.
 */
export function sparseConvWorkspaceFloats(nnz: i32, c: i32, h: i32, w: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): i32 {
  if (isPointwise(kh, kw, sh, sw, ph, pw)) return 0;
  const ho = outSize(h, kh, sh, ph);
  const wo = outSize(w, kw, sw, pw);
  const col = c * kh * kw * ho * wo;
  if (!isGathered(nnz, c, h, w, kh, kw, sh, sw, ph, pw)) return col;
  const hp = h + 2 * ph, wp = w + 2 * pw;
  const forward = round4(c * hp * wp) + round4(o * windowLength(ho, wo, wp));
  const backward = round4(nnz) + dyGridFloats(o, windowLength(ho, wo, wp)) + (ph != 0 || pw != 0 ? round4(c * hp * wp) : 0);
  return round4(nnz) + max(forward, backward);
}

// The input gradient's dy grid: each output channel's dy on rows of wp (L floats), between margins
// of zeros wide enough for a 16-float window that overlaps the block by one float.
const GRID_MARGIN = 16;

// @ts-ignore: decorator
@inline function dyGridFloats(o: i32, l: i32): i32 {
  return GRID_MARGIN + o * (round4(l) + GRID_MARGIN);
}

/**
 * out[r, j] = Σ values[i]·grid[srcs[i] + j] over row r's entries (rowPtr[r·rowStep] … rowPtr[(r+1)·rowStep))
 * for j < n, where entry i touches only out[shifts[i] … shifts[i] + l) (grid reads zeros elsewhere)
 * and shifts ascend within a row. Each stretch of out accumulates in registers over just the
 * entries that touch it — a sliding range of the sorted shifts — so a kept weight costs about
 * l + 16 multiply-adds instead of n.
 */
function scatterRows(
  rowPtr: usize, rowStep: i32, shifts: usize, srcs: usize, values: usize, grid: usize, out: usize, m: i32, n: i32, l: i32,
): void {
  for (let r = 0; r < m; r++) {
    const start = load<i32>(rowPtr + bytes(r * rowStep));
    const end = load<i32>(rowPtr + bytes((r + 1) * rowStep));
    const orow = out + bytes(r * n);
    let lo = start, hi = start;
    let j = 0;
    for (; j + 16 <= n; j += 16) {
      while (hi < end && load<i32>(shifts + bytes(hi)) < j + 16) hi++;
      while (lo < hi && load<i32>(shifts + bytes(lo)) + l <= j) lo++;
      stretch(false, true, srcs, values, lo, hi, grid + bytes(j), 0, f32x4.splat(0), orow + bytes(j));
    }
    for (; j < n; j++) {
      while (hi < end && load<i32>(shifts + bytes(hi)) <= j) hi++;
      while (lo < hi && load<i32>(shifts + bytes(lo)) + l <= j) lo++;
      let acc: f32 = 0;
      for (let i = lo; i < hi; i++) acc = madd1(acc, load<f32>(values + bytes(i)), load<f32>(grid + bytes(load<i32>(srcs + bytes(i)) + j)));
      store<f32>(orow + bytes(j), acc);
    }
  }
}

/** dst [m × ho × wo] = the first wo of every wp floats of each grid row g [m × l]. */
function gridToPlanes(g: usize, dst: usize, m: i32, ho: i32, wo: i32, wp: i32, l: i32): void {
  for (let r = 0; r < m; r++) {
    for (let q = 0; q < ho; q++) copyRun(dst + bytes((r * ho + q) * wo), g + bytes(r * l + q * wp), wo);
  }
}

/**
 * y = conv2d(x, W) + bias with W given as the CSR of its [o × c·kh·kw] matrix. ws: workspace of
 * sparseConvWorkspaceFloats floats, 0 for a 1×1 stride-1 unpadded conv (x_n is its own im2col).
 */
export function sparseConv2dForward(
  x: usize, rowPtr: usize, colIdx: usize, values: usize, bias: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
): void {
  const ho = outSize(h, kh, sh, ph);
  const wo = outSize(wd, kw, sw, pw);
  const p = ho * wo;
  const nnz = load<i32>(rowPtr + bytes(o));
  if (isGathered(nnz, c, h, wd, kh, kw, sh, sw, ph, pw)) {
    gatheredForward(x, rowPtr, colIdx, values, bias, y, 0, false, ws, n, c, h, wd, o, kh, kw, ph, pw);
    return;
  }
  const pointwise = isPointwise(kh, kw, sh, sw, ph, pw);
  for (let ni = 0; ni < n; ni++) {
    const xn = x + bytes(ni * c * h * wd);
    let src = xn;
    if (!pointwise) {
      im2col(xn, ws, c, h, wd, kh, kw, sh, sw, ph, pw, ho, wo);
      src = ws;
    }
    spmm(rowPtr, colIdx, values, bias, src, y + bytes(ni * o * p), o, p);
  }
}

/**
 * The gathered forward pass (stride 1): per image, the product of the kept weights with the
 * (padded) image on the implicit grid, whose rows are then copied into y — or, with indices, pooled
 * 2×2 (stride 2) into y and indices [n × o × ho/2 × wo/2], then max(y, 0) if relu.
 */
function gatheredForward(
  x: usize, rowPtr: usize, colIdx: usize, values: usize, bias: usize, y: usize, indices: usize, relu: bool, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, ph: i32, pw: i32,
): void {
  const nnz = load<i32>(rowPtr + bytes(o));
  const hp = h + 2 * ph, wp = wd + 2 * pw;
  const ho = hp - kh + 1, wo = wp - kw + 1;
  const l = windowLength(ho, wo, wp);
  const padded = ph != 0 || pw != 0;
  const plane = padded ? round4(c * hp * wp) : 0;
  const offs = ws;
  const xp = offs + bytes(round4(nnz));
  const g = xp + bytes(plane);
  for (let i = 0; i < nnz; i++) store<i32>(offs + bytes(i), windowOffset(load<i32>(colIdx + bytes(i)), hp, wp, kh, kw));
  if (padded) memory.fill(xp, 0, bytes(plane));
  const out = indices != 0 ? o * (ho >> 1) * (wo >> 1) : o * ho * wo;
  for (let ni = 0; ni < n; ni++) {
    const xn = x + bytes(ni * c * h * wd);
    if (padded) padInterior(xn, xp, c, h, wd, ph, pw);
    spmmRows(true, rowPtr, 1, offs, values, bias, padded ? xp : xn, g, o, l);
    if (indices != 0) maxPool2x2Rows(g, bytes(l), bytes(wp), y + bytes(ni * out), indices + bytes(ni * out), o, wo, ho >> 1, wo >> 1, relu);
    else gridToPlanes(g, y + bytes(ni * out), o, ho, wo, wp, l);
  }
}

/**
 * Whether sparseConv2dForwardPooled takes this geometry with nnz kept weights: the plain pass runs
 * gathered and the output has at least 2 rows and 2 columns. Otherwise the caller runs
 * sparseConv2dForward and maxPool2dForward.
 */
export function sparsePooledForwardFused(nnz: i32, c: i32, h: i32, wd: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): bool {
  return isGathered(nnz, c, h, wd, kh, kw, sh, sw, ph, pw) && outSize(h, kh, 1, ph) >= 2 && outSize(wd, kw, 1, pw) >= 2;
}

/**
 * y, indices [n × o × ho/2 × wo/2] = maxPool2dForward (2×2, stride 2) of sparseConv2dForward, then
 * max(y, 0) if relu, for a geometry sparsePooledForwardFused takes: the pool reads the product's
 * grid directly, so the same bits as the two passes without storing the convolution. ws:
 * sparseConvWorkspaceFloats floats.
 */
export function sparseConv2dForwardPooled(
  x: usize, rowPtr: usize, colIdx: usize, values: usize, bias: usize, y: usize, indices: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, ph: i32, pw: i32, relu: bool,
): void {
  gatheredForward(x, rowPtr, colIdx, values, bias, y, indices, relu, ws, n, c, h, wd, o, kh, kw, ph, pw);
}

/**
 * dx = ∂conv2d/∂x for upstream dy [n × o × ho × wo], with the weight given as the CSR of Wᵀ
 * ([c·kh·kw × o]: row k lists the output channels that tap k feeds). dx is overwritten. ws:
 * workspace of sparseConvWorkspaceFloats floats, 0 for a pointwise conv.
 */
export function sparseConv2dBackwardData(
  dy: usize, rowPtr: usize, colIdx: usize, values: usize, dx: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
): void {
  const ho = outSize(h, kh, sh, ph);
  const wo = outSize(wd, kw, sw, pw);
  const taps = kh * kw;
  const k = c * taps;
  const p = ho * wo;
  const nnz = load<i32>(rowPtr + bytes(k));
  if (isGathered(nnz, c, h, wd, kh, kw, sh, sw, ph, pw)) {
    // dxp[ci, j] = Σ W[oc, ci, ki, kj]·g[oc, j − (ki·wp + kj)] on the padded input's grid, g = dy_n
    // laid onto rows of wp (dyGrid); Wᵀ's rows for input channel ci are consecutive and their taps,
    // hence their shifts, ascend.
    const hp = h + 2 * ph, wp = wd + 2 * pw;
    const lg = windowLength(ho, wo, wp);
    const padded = ph != 0 || pw != 0;
    const shifts = ws;
    const srcs = shifts + bytes(round4(nnz));
    const grid = srcs + bytes(round4(nnz));
    const dxp = grid + bytes(dyGridFloats(o, lg));
    const blockFloats = round4(lg) + GRID_MARGIN;
    for (let t = 0; t < k; t++) {
      const ci = t / taps;
      const ki = (t - ci * taps) / kw;
      const shift = ki * wp + (t - ci * taps - ki * kw);
      const end = load<i32>(rowPtr + bytes(t + 1));
      for (let i = load<i32>(rowPtr + bytes(t)); i < end; i++) {
        store<i32>(shifts + bytes(i), shift);
        store<i32>(srcs + bytes(i), GRID_MARGIN + load<i32>(colIdx + bytes(i)) * blockFloats - shift);
      }
    }
    memory.fill(grid, 0, bytes(dyGridFloats(o, lg)));
    for (let ni = 0; ni < n; ni++) {
      const dyn = dy + bytes(ni * o * p);
      const dxn = dx + bytes(ni * c * h * wd);
      spreadRows(dyn, grid + bytes(GRID_MARGIN), o, ho, wo, wp, blockFloats);
      scatterRows(rowPtr, taps, shifts, srcs, values, grid, padded ? dxp : dxn, c, hp * wp, lg);
      if (padded) unpad(dxp, dxn, c, h, wd, ph, pw);
    }
    return;
  }
  const imageBytes = bytes(c * h * wd);
  const pointwise = isPointwise(kh, kw, sh, sw, ph, pw);
  for (let ni = 0; ni < n; ni++) {
    const dyn = dy + bytes(ni * o * p);
    const dxn = dx + <usize>ni * imageBytes;
    if (pointwise) {
      spmm(rowPtr, colIdx, values, 0, dyn, dxn, k, p);
      continue;
    }
    // Overlapping taps add up and skipped pixels must read 0, as in the dense input gradient.
    memory.fill(dxn, 0, imageBytes);
    spmm(rowPtr, colIdx, values, 0, dyn, ws, k, p);
    col2imAdd(ws, dxn, c, h, wd, kh, kw, sh, sw, ph, pw, ho, wo, p);
  }
}
