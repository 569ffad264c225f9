// Kernels split across threads. A split kernel is cut into `parts` shares, and every `…Part`
// export is called once per share with the same arguments plus (part, parts, slot): it works out
// share `part` and runs the serial kernel on it; `slot` is the calling thread's number, which picks
// its workspace (threads take shares as they come free, so a thread may run several, never two at
// once). The shares are cut where the serial kernel's own blocking is cut (row pairs of gemmNT,
// groups of 4 columns, whole images, planes or channels), so every output element is computed by
// one share along exactly the path and in the order the single-threaded call takes: results are
// identical bit for bit, whatever the number of threads or shares.
import { gemmNTStrided } from "./gemm";
import { linearBackwardData, linearBackwardWeight, linearForward } from "./linear";
import { reluBackward, reluForward } from "./activation";
import { axpy, fill, sgdStep } from "./optim";
import { addScaledByInvNorm, copy } from "./vector";
import {
  biasGrad, conv2dBackward, conv2dForward, conv2dWeightGradImplicitTaps, conv2dWeightGradLowered, conv2dWeightGradPartials, isImplicit, outSize, sumPartials,
} from "./conv";
import { conv2dWeightGradLanes, lanesForward, lanesInputGrad, lanesWeightGrad } from "./conv-lanes";
import {
  adaptiveAvgPool2dBackward, adaptiveAvgPool2dForward, avgPool2dBackward, avgPool2dForward,
  maxPool2dBackward, maxPool2dForward,
} from "./pool";
import { batchNorm2dBackwardChannels, batchNorm2dForwardChannels } from "./batchnorm";
import { addTensors, dropout } from "./elementwise";
import { applyMask } from "./mask";
import { conv2dWeightGradPooled } from "./pooled";
import { conv2dBackwardDataPooled, sparseConv2dBackwardDataPooled } from "./pooled-input";
import { isWinograd, winogradConv, winogradSplitsChannels, winogradWeightGrad } from "./winograd";

/** Start of share `part` of `total` items handed out in multiples of `align` (the last share takes the rest). */
// @ts-ignore: decorator
@inline function bound(total: i32, align: i32, part: i32, parts: i32): i32 {
  const units = (total + align - 1) / align;
  return min(total, <i32>((<i64>units * <i64>part) / <i64>parts) * align);
}

// @ts-ignore: decorator
@inline function at(base: usize, floats: i32): usize {
  return base + (<usize>floats << 2);
}

// ---- matrix products: rows of C ----

export function linearForwardPart(
  x: usize, w: usize, bias: usize, y: usize, batch: i32, inF: i32, outF: i32, part: i32, parts: i32,
): void {
  const lo = bound(batch, 2, part, parts), hi = bound(batch, 2, part + 1, parts);
  if (hi > lo) linearForward(at(x, lo * inF), w, bias, at(y, lo * outF), hi - lo, inF, outF);
}

export function gemmNTPart(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, beta: f32, part: i32, parts: i32): void {
  const lo = bound(m, 2, part, parts), hi = bound(m, 2, part + 1, parts);
  if (hi > lo) gemmNTStrided(at(a, lo * k), b, at(c, lo * n), hi - lo, n, k, n, beta);
}

/**
 * dx = dy·W by columns in groups of 8 (the packed strips): the batch is the short side, and a
 * split by columns packs each column of W on one thread only. ws: one workspace of `wsStride`
 * bytes per thread.
 */
export function linearBackwardDataPart(
  dy: usize, w: usize, dx: usize, ws: usize, wsStride: i32, batch: i32, inF: i32, outF: i32, part: i32, parts: i32, slot: i32,
): void {
  const j0 = bound(inF, 8, part, parts), j1 = bound(inF, 8, part + 1, parts);
  if (j1 > j0) linearBackwardData(dy, w, dx, ws + <usize>slot * <usize>wsStride, batch, inF, outF, j0, j1);
}

/** dW = dyᵀ·x by rows (output features) in groups of 4 (the packed blocks). */
export function linearBackwardWeightPart(
  dy: usize, x: usize, dw: usize, ws: usize, wsStride: i32, batch: i32, inF: i32, outF: i32, part: i32, parts: i32, slot: i32,
): void {
  const o0 = bound(outF, 4, part, parts), o1 = bound(outF, 4, part + 1, parts);
  if (o1 > o0) linearBackwardWeight(dy, x, dw, ws + <usize>slot * <usize>wsStride, batch, inF, outF, o0, o1);
}

// ---- convolution: images for the forward pass and the input gradient, taps for the weight gradient ----

/**
 * By images, or by blocks of 4 output channels where Winograd splits channels (few tiles, many
 * kernels). col: one workspace of `colStride` bytes per thread, thread i's at col + i·colStride.
 */
export function conv2dForwardPart(
  x: usize, w: usize, bias: usize, y: usize, col: usize, colStride: i32,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
  part: i32, parts: i32, slot: i32,
): void {
  const ws: usize = col == 0 ? 0 : col + <usize>slot * <usize>colStride;
  if (isWinograd(c, h, wd, o, kh, kw, sh, sw, ph, pw) && winogradSplitsChannels(n, c, h, wd, o, sh)) {
    const k0 = bound(o, 4, part, parts), k1 = bound(o, 4, part + 1, parts);
    winogradConv(x, w, bias, y, ws, n, c, h, wd, o, sh, false, k0, k1);
    return;
  }
  // The lanes path takes images four at a time: whole groups per thread.
  const align = lanesForward(c, h, wd, o, kh, kw, sh, sw, ph, pw) ? 4 : 1;
  const lo = bound(n, align, part, parts), hi = bound(n, align, part + 1, parts);
  if (hi <= lo) return;
  const ho = outSize(h, kh, sh, ph);
  const wo = outSize(wd, kw, sw, pw);
  conv2dForward(at(x, lo * c * h * wd), w, bias, at(y, lo * o * ho * wo), ws, hi - lo, c, h, wd, o, kh, kw, sh, sw, ph, pw);
}

/**
 * dx by images (each image's input gradient is independent), or by blocks of x's channels where
 * Winograd splits channels; dW by columns, i.e. by taps in groups of 8: the thread lowers only its
 * taps of every image and accumulates its columns over the batch in image order, as the serial
 * kernel does. db is left to the caller (biasGradPart).
 */
export function conv2dBackwardPart(
  x: usize, w: usize, dy: usize, dx: usize, dw: usize, col: usize, colStride: i32,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
  part: i32, parts: i32, slot: i32,
): void {
  const ho = outSize(h, kh, sh, ph);
  const wo = outSize(wd, kw, sw, pw);
  const p = ho * wo;
  const image = c * h * wd;
  const ws: usize = col == 0 ? 0 : col + <usize>slot * <usize>colStride;
  if (dx != 0 && isWinograd(c, h, wd, o, kh, kw, sh, sw, ph, pw) && winogradSplitsChannels(n, o, h, wd, c, sh)) {
    // The input gradient is winogradConv of dy: its output channels are x's.
    const k0 = bound(c, 4, part, parts), k1 = bound(c, 4, part + 1, parts);
    winogradConv(dy, w, 0, dx, ws, n, o, h, wd, c, sh, true, k0, k1);
  } else if (dx != 0) {
    const align = lanesInputGrad(c, h, wd, o, kh, kw, sh, sw, ph, pw) ? 4 : 1;
    const lo = bound(n, align, part, parts), hi = bound(n, align, part + 1, parts);
    if (hi > lo) {
      conv2dBackward(at(x, lo * image), w, at(dy, lo * o * p), at(dx, lo * image), 0, 0, ws,
        hi - lo, c, h, wd, o, kh, kw, sh, sw, ph, pw);
    }
  }
  if (dw != 0) {
    if (isWinograd(c, h, wd, o, kh, kw, sh, sw, ph, pw)) {
      // Winograd sums each filter's gradient over the whole batch: threads own blocks of filters.
      const o0 = bound(o, 4, part, parts), o1 = bound(o, 4, part + 1, parts);
      winogradWeightGrad(x, dy, dw, ws, o0, o1, n, c, h, wd, o, sh);
      return;
    }
    if (lanesWeightGrad(c, h, wd, o, kh, kw, sh, sw, ph, pw)) {
      // Lanes cannot share out taps; the caller splits groups of images (conv2dWeightGradPartialsPart)
      // whenever there is one per thread, so this is a batch of at most four: one thread takes it.
      if (part == 0) conv2dWeightGradLanes(x, dy, dw, 0, ws, 0, (n + 3) / 4, n, c, h, wd, o, kh, kw, ph, pw);
      return;
    }
    // Taps in multiples of 8, the packed product's columns: only the last share has a tail.
    const k = c * kh * kw;
    const t0 = bound(k, 8, part, parts), t1 = bound(k, 8, part + 1, parts);
    if (t1 <= t0) return;
    if (isImplicit(h, wd, kh, kw, sh, sw, ph, pw, o)) {
      conv2dWeightGradImplicitTaps(x, dy, dw, ws, t0, t1, n, c, h, wd, o, kh, kw, ph, pw);
      return;
    }
    conv2dWeightGradLowered(x, dy, dw, ws, t0, t1, n, c, h, wd, o, kh, kw, sh, sw, ph, pw);
  }
}

/**
 * The lanes or implicit weight gradient by chunks of images (conv2dWeightGradPartials): each thread lays out
 * and reduces only its chunks, into partials; sumPartialsPart then adds them up. Splitting the taps
 * instead (conv2dBackwardPart) makes every thread lay out every image: LeNet-5's conv1 gained only
 * 1.4× from a second thread that way.
 */
export function conv2dWeightGradPartialsPart(
  x: usize, dy: usize, partials: usize, col: usize, colStride: i32, chunks: i32,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, ph: i32, pw: i32,
  part: i32, parts: i32, slot: i32,
): void {
  const q0 = bound(chunks, 1, part, parts), q1 = bound(chunks, 1, part + 1, parts);
  if (q1 > q0) conv2dWeightGradPartials(x, dy, partials, col + <usize>slot * <usize>colStride, q0, q1, n, c, h, wd, o, kh, kw, ph, pw);
}

/** A convolution's bias gradient by output channels: each still sums its planes image by image. */
export function biasGradPart(dy: usize, db: usize, n: i32, o: i32, p: i32, part: i32, parts: i32): void {
  const o0 = bound(o, 1, part, parts), o1 = bound(o, 1, part + 1, parts);
  if (o1 > o0) biasGrad(dy, db, n, o, p, o0, o1);
}

/** sumPartials over elements in multiples of 4: each element still adds its chunks in order. */
export function sumPartialsPart(partials: usize, dst: usize, chunks: i32, size: i32, part: i32, parts: i32): void {
  const e0 = bound(size, 4, part, parts), e1 = bound(size, 4, part + 1, parts);
  if (e1 > e0) sumPartials(partials, dst, chunks, size, e0, e1);
}

/** conv2dWeightGradPooled for filters split between threads (each thread: its own workspace). */
export function conv2dWeightGradPooledPart(
  x: usize, g: usize, indices: usize, dw: usize, db: usize, ws: usize, wsStride: i32,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, pooled: i32,
  part: i32, parts: i32, slot: i32,
): void {
  const o0 = bound(o, 1, part, parts), o1 = bound(o, 1, part + 1, parts);
  if (o1 > o0) {
    conv2dWeightGradPooled(x, g, indices, dw, db, ws + <usize>slot * <usize>wsStride, o0, o1,
      n, c, h, wd, o, kh, kw, sh, sw, ph, pw, pooled);
  }
}

/** conv2dBackwardDataPooled for images split between threads (each thread: its own workspace). */
export function conv2dBackwardDataPooledPart(
  g: usize, indices: usize, w: usize, dx: usize, ws: usize, wsStride: i32,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, pooled: i32,
  part: i32, parts: i32, slot: i32,
): void {
  const n0 = bound(n, 1, part, parts), n1 = bound(n, 1, part + 1, parts);
  if (n1 > n0) {
    conv2dBackwardDataPooled(g, indices, w, dx, ws + <usize>slot * <usize>wsStride, n0, n1,
      c, h, wd, o, kh, kw, sh, sw, ph, pw, pooled);
  }
}

/** sparseConv2dBackwardDataPooled for images split between threads (each thread: its own workspace). */
export function sparseConv2dBackwardDataPooledPart(
  g: usize, indices: usize, rowPtr: usize, colIdx: usize, values: usize, dx: usize, ws: usize, wsStride: i32,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, pooled: i32,
  part: i32, parts: i32, slot: i32,
): void {
  const n0 = bound(n, 1, part, parts), n1 = bound(n, 1, part + 1, parts);
  if (n1 > n0) {
    sparseConv2dBackwardDataPooled(g, indices, rowPtr, colIdx, values, dx, ws + <usize>slot * <usize>wsStride, n0, n1,
      c, h, wd, o, kh, kw, sh, sw, ph, pw, pooled);
  }
}

// ---- planes, channels ----

export function maxPool2dForwardPart(
  x: usize, y: usize, indices: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32, part: i32, parts: i32,
): void {
  const lo = bound(planes, 1, part, parts), hi = bound(planes, 1, part + 1, parts);
  const i = lo * inH * inW, o = lo * outH * outW;
  if (hi > lo) maxPool2dForward(at(x, i), at(y, o), at(indices, o), hi - lo, inH, inW, outH, outW, kernelH, kernelW, strideH, strideW, padH, padW);
}

export function maxPool2dBackwardPart(
  dy: usize, indices: usize, dx: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32, part: i32, parts: i32,
): void {
  const lo = bound(planes, 1, part, parts), hi = bound(planes, 1, part + 1, parts);
  const o = lo * outH * outW;
  if (hi > lo) maxPool2dBackward(at(dy, o), at(indices, o), at(dx, lo * inH * inW), hi - lo, inH, inW, outH, outW);
}

export function avgPool2dForwardPart(
  x: usize, y: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32, part: i32, parts: i32,
): void {
  const lo = bound(planes, 1, part, parts), hi = bound(planes, 1, part + 1, parts);
  if (hi > lo) avgPool2dForward(at(x, lo * inH * inW), at(y, lo * outH * outW), hi - lo, inH, inW, outH, outW, kernelH, kernelW, strideH, strideW, padH, padW);
}

export function avgPool2dBackwardPart(
  dy: usize, dx: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32, part: i32, parts: i32,
): void {
  const lo = bound(planes, 1, part, parts), hi = bound(planes, 1, part + 1, parts);
  if (hi > lo) avgPool2dBackward(at(dy, lo * outH * outW), at(dx, lo * inH * inW), hi - lo, inH, inW, outH, outW, kernelH, kernelW, strideH, strideW, padH, padW);
}

export function adaptiveAvgPool2dForwardPart(
  x: usize, y: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32, part: i32, parts: i32,
): void {
  const lo = bound(planes, 1, part, parts), hi = bound(planes, 1, part + 1, parts);
  if (hi > lo) adaptiveAvgPool2dForward(at(x, lo * inH * inW), at(y, lo * outH * outW), hi - lo, inH, inW, outH, outW);
}

export function adaptiveAvgPool2dBackwardPart(
  dy: usize, dx: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32, part: i32, parts: i32,
): void {
  const lo = bound(planes, 1, part, parts), hi = bound(planes, 1, part + 1, parts);
  if (hi > lo) adaptiveAvgPool2dBackward(at(dy, lo * outH * outW), at(dx, lo * inH * inW), hi - lo, inH, inW, outH, outW);
}

export function batchNorm2dForwardPart(
  x: usize, gamma: usize, beta: usize, runningMean: usize, runningVar: usize, y: usize,
  saveMean: usize, saveInvStd: usize, batch: i32, channels: i32, spatial: i32,
  training: i32, momentum: f64, eps: f64, part: i32, parts: i32,
): void {
  const lo = bound(channels, 1, part, parts), hi = bound(channels, 1, part + 1, parts);
  if (hi > lo) {
    batchNorm2dForwardChannels(x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd,
      batch, channels, spatial, training, momentum, eps, lo, hi);
  }
}

export function batchNorm2dBackwardPart(
  x: usize, gamma: usize, dy: usize, saveMean: usize, saveInvStd: usize,
  dx: usize, dgamma: usize, dbeta: usize, batch: i32, channels: i32, spatial: i32, part: i32, parts: i32,
): void {
  const lo = bound(channels, 1, part, parts), hi = bound(channels, 1, part + 1, parts);
  if (hi > lo) batchNorm2dBackwardChannels(x, gamma, dy, saveMean, saveInvStd, dx, dgamma, dbeta, batch, channels, spatial, lo, hi);
}

// ---- element-wise: ranges in multiples of 4 floats, so every share stays on the SIMD path ----

export function reluForwardPart(x: usize, y: usize, n: i32, part: i32, parts: i32): void {
  const lo = bound(n, 4, part, parts), hi = bound(n, 4, part + 1, parts);
  if (hi > lo) reluForward(at(x, lo), at(y, lo), hi - lo);
}

export function reluBackwardPart(x: usize, dy: usize, dx: usize, n: i32, part: i32, parts: i32): void {
  const lo = bound(n, 4, part, parts), hi = bound(n, 4, part + 1, parts);
  if (hi > lo) reluBackward(at(x, lo), at(dy, lo), at(dx, lo), hi - lo);
}

export function sgdStepPart(param: usize, grad: usize, n: i32, lr: f32, weightDecay: f32, part: i32, parts: i32): void {
  const lo = bound(n, 4, part, parts), hi = bound(n, 4, part + 1, parts);
  if (hi > lo) sgdStep(at(param, lo), at(grad, lo), hi - lo, lr, weightDecay);
}

export function axpyPart(alpha: f32, x: usize, y: usize, n: i32, part: i32, parts: i32): void {
  const lo = bound(n, 4, part, parts), hi = bound(n, 4, part + 1, parts);
  if (hi > lo) axpy(alpha, at(x, lo), at(y, lo), hi - lo);
}

export function fillPart(y: usize, value: f32, n: i32, part: i32, parts: i32): void {
  const lo = bound(n, 4, part, parts), hi = bound(n, 4, part + 1, parts);
  if (hi > lo) fill(at(y, lo), value, hi - lo);
}

export function copyPart(x: usize, y: usize, n: i32, part: i32, parts: i32): void {
  const lo = bound(n, 4, part, parts), hi = bound(n, 4, part + 1, parts);
  if (hi > lo) copy(at(x, lo), at(y, lo), hi - lo);
}

export function addScaledByInvNormPart(x: usize, sumSq: usize, grad: usize, n: i32, lambda: f32, part: i32, parts: i32): void {
  const lo = bound(n, 4, part, parts), hi = bound(n, 4, part + 1, parts);
  if (hi > lo) addScaledByInvNorm(at(x, lo), sumSq, at(grad, lo), hi - lo, lambda);
}

export function dropoutPart(input: usize, mask: usize, out: usize, n: i32, scale: f32, part: i32, parts: i32): void {
  const lo = bound(n, 4, part, parts), hi = bound(n, 4, part + 1, parts);
  if (hi > lo) dropout(at(input, lo), at(mask, lo), at(out, lo), hi - lo, scale);
}

export function addTensorsPart(a: usize, b: usize, y: usize, n: i32, part: i32, parts: i32): void {
  const lo = bound(n, 4, part, parts), hi = bound(n, 4, part + 1, parts);
  if (hi > lo) addTensors(at(a, lo), at(b, lo), at(y, lo), hi - lo);
}

export function applyMaskPart(w: usize, mask: usize, y: usize, n: i32, part: i32, parts: i32): void {
  const lo = bound(n, 4, part, parts), hi = bound(n, 4, part + 1, parts);
  if (hi > lo) applyMask(at(w, lo), at(mask, lo), at(y, lo), hi - lo);
}
