// 2-D convolution (cross-correlation, NCHW activations, OIHW weights, zero padding) lowered to the
// SIMD GEMMs, one image at a time. With K = C·kh·kw and P = Ho·Wo, im2col lays image n out as
// col [K × P] (row (c, ki, kj) holds the input pixels that tap sees at every output position), so
//   forward       y_n  = W[O × K] · col               (gemmNN, seeded with the bias)
//   weight grad   dW  += dy_n[O × P] · colᵀ           (gemmNT, beta 1 after the first image)
//   input grad    dcol = Wᵀ · dy_n, dx_n = col2im(dcol) (gemmTN, then a scatter-add)
// A 1×1, stride-1, unpadded convolution is a plain matrix product with col = x_n, so it skips
// im2col and the workspace. Per-image lowering keeps the workspace at K·P floats whatever the batch.
import { gemmNN, gemmNT, gemmTN } from "./gemm";

// @ts-ignore: decorator
@inline function bytes(n: i32): usize {
  return <usize>n << 2;
}

/** True when col = x_n: the caller may pass col = 0. Must match the TypeScript side's choice. */
// @ts-ignore: decorator
@inline export function isPointwise(kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): bool {
  return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
}

/** First output index o with o·stride − pad + k ≥ 0. */
// @ts-ignore: decorator
@inline function firstValid(k: i32, stride: i32, pad: i32): i32 {
  const a = pad - k;
  return a > 0 ? (a + stride - 1) / stride : 0;
}

/** One past the last output index o < out with o·stride − pad + k < size, never below `lo`. */
// @ts-ignore: decorator
@inline function endValid(k: i32, size: i32, stride: i32, pad: i32, out: i32, lo: i32): i32 {
  const t = size - 1 + pad - k;
  const hi = t < 0 ? 0 : min(out, t / stride + 1);
  return max(lo, hi);
}

// im2col moves many short runs (a 28-pixel row, a 2-pixel margin). Bulk-memory instructions are
// calls into the engine with a fixed cost each, which dominated LeNet's convolutions; short runs
// are copied inline with v128 moves instead, long ones still go to memory.copy / memory.fill.
const BULK_FLOATS = 64;

// @ts-ignore: decorator
@inline function zero(dst: usize, n: i32): void {
  if (n >= BULK_FLOATS) { memory.fill(dst, 0, bytes(n)); return; }
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + bytes(i), z);
  for (; i < n; i++) store<f32>(dst + bytes(i), 0);
}

// @ts-ignore: decorator
@inline function copyRun(dst: usize, src: usize, n: i32): void {
  if (n >= BULK_FLOATS) { memory.copy(dst, src, bytes(n)); return; }
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + bytes(i), v128.load(src + bytes(i)));
  for (; i < n; i++) store<f32>(dst + bytes(i), load<f32>(src + bytes(i)));
}

/**
 * col[K × P] from one image x_n [C × H × W]. Clipping to the image is worked out once per tap
 * (ki, kj), so the inner loops only copy contiguous runs and zero-fill the padded margins.
 */
export function im2col(
  x: usize, col: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, ho: i32, wo: i32,
): void {
  im2colTaps(x, col, 0, c * kh * kw, h, w, kh, kw, sh, sw, ph, pw, ho, wo);
}

/**
 * Rows t0 … t1−1 of col (tap t = (c·kh + ki)·kw + kj), written from col's first row on: a thread
 * that owns a slice of the weight gradient's columns lowers only the taps it needs.
 */
export function im2colTaps(
  x: usize, col: usize, t0: i32, t1: i32, h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, ho: i32, wo: i32,
): void {
  const rowBytes = bytes(ho * wo);
  const taps = kh * kw;
  let row = col;
  for (let t = t0; t < t1; t++) {
    const ci = t / taps;
    const ki = (t - ci * taps) / kw;
    const kj = t - ci * taps - ki * kw;
    const xc = x + bytes(ci * h * w);
    const ohLo = firstValid(ki, sh, ph);
    const ohHi = endValid(ki, h, sh, ph, ho, ohLo);
    const owLo = firstValid(kj, sw, pw);
    const owHi = endValid(kj, w, sw, pw, wo, owLo);
    if (ohHi == ohLo || owHi == owLo) {
      // The tap only ever sees padding (a kernel wider than the image, or huge padding).
      memory.fill(row, 0, rowBytes);
      row += rowBytes;
      continue;
    }
    zero(row, ohLo * wo);
    const run = owHi - owLo;
    for (let oh = ohLo; oh < ohHi; oh++) {
      const dst = row + bytes(oh * wo);
      const src = xc + bytes((oh * sh - ph + ki) * w + owLo * sw - pw + kj);
      zero(dst, owLo);
      if (sw == 1) {
        copyRun(dst + bytes(owLo), src, run);
      } else {
        const out = dst + bytes(owLo);
        const step = bytes(sw);
        for (let j = 0; j < run; j++) store<f32>(out + bytes(j), load<f32>(src + <usize>j * step));
      }
      zero(dst + bytes(owHi), wo - owHi);
    }
    zero(row + bytes(ohHi * wo), (ho - ohHi) * wo);
    row += rowBytes;
  }
}

/** dx_n [C × H × W] += col2im(dcol [K × P]): each tap's row is added back where im2col took it. */
export function col2imAdd(
  dcol: usize, dx: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, ho: i32, wo: i32,
): void {
  const rowBytes = bytes(ho * wo);
  let row = dcol;
  for (let ci = 0; ci < c; ci++) {
    const dxc = dx + bytes(ci * h * w);
    for (let ki = 0; ki < kh; ki++) {
      const ohLo = firstValid(ki, sh, ph);
      const ohHi = endValid(ki, h, sh, ph, ho, ohLo);
      for (let kj = 0; kj < kw; kj++) {
        const owLo = firstValid(kj, sw, pw);
        const owHi = endValid(kj, w, sw, pw, wo, owLo);
        const run = owHi - owLo;
        for (let oh = ohLo; oh < ohHi; oh++) {
          const src = row + bytes(oh * wo + owLo);
          const dst = dxc + bytes((oh * sh - ph + ki) * w + owLo * sw - pw + kj);
          if (sw == 1) {
            let j = 0;
            for (; j + 4 <= run; j += 4) {
              const at = bytes(j);
              v128.store(dst + at, f32x4.add(v128.load(dst + at), v128.load(src + at)));
            }
            for (; j < run; j++) {
              const at = bytes(j);
              store<f32>(dst + at, load<f32>(dst + at) + load<f32>(src + at));
            }
          } else {
            const step = bytes(sw);
            for (let j = 0; j < run; j++) {
              const d = dst + <usize>j * step;
              store<f32>(d, load<f32>(d) + load<f32>(src + bytes(j)));
            }
          }
        }
        row += rowBytes;
      }
    }
  }
}

/** Σ of n contiguous floats. */
export function rowSum(p: usize, n: i32): f32 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = f32x4.add(acc0, v128.load(p + bytes(i)));
    acc1 = f32x4.add(acc1, v128.load(p + bytes(i + 4)));
  }
  for (; i + 4 <= n; i += 4) acc0 = f32x4.add(acc0, v128.load(p + bytes(i)));
  const v = f32x4.add(acc0, acc1);
  let s = f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
  for (; i < n; i++) s += load<f32>(p + bytes(i));
  return s;
}

/** dst[0 … n) = value. */
function fillValue(dst: usize, value: f32, n: i32): void {
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + bytes(i), v);
  for (; i < n; i++) store<f32>(dst + bytes(i), value);
}

/**
 * y = conv2d(x, w) + bias for x [n × c × h × w], w [o × c × kh × kw], y [n × o × ho × wo].
 * bias = 0 means no bias; col is a workspace of c·kh·kw·ho·wo floats (0 for a pointwise conv).
 */
export function conv2dForward(
  x: usize, w: usize, bias: usize, y: usize, col: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
): void {
  const ho = (h + 2 * ph - kh) / sh + 1;
  const wo = (wd + 2 * pw - kw) / sw + 1;
  const k = c * kh * kw;
  const p = ho * wo;
  const pointwise = isPointwise(kh, kw, sh, sw, ph, pw);
  for (let ni = 0; ni < n; ni++) {
    const xn = x + bytes(ni * c * h * wd);
    const yn = y + bytes(ni * o * p);
    let src = xn;
    if (!pointwise) {
      im2col(xn, col, c, h, wd, kh, kw, sh, sw, ph, pw, ho, wo);
      src = col;
    }
    if (bias != 0) {
      // Seeding y with the bias lets the product accumulate onto it instead of a second pass.
      for (let oi = 0; oi < o; oi++) fillValue(yn + bytes(oi * p), load<f32>(bias + bytes(oi)), p);
      gemmNN(w, src, yn, o, p, k, 1);
    } else {
      gemmNN(w, src, yn, o, p, k, 0);
    }
  }
}

/**
 * Gradients of conv2dForward for upstream dy [n × o × ho × wo]; each of dx, dw, db is overwritten
 * when non-zero and skipped when 0. col: workspace as for the forward pass (shared by the weight and
 * input gradients, which use it one after the other).
 */
export function conv2dBackward(
  x: usize, w: usize, dy: usize, dx: usize, dw: usize, db: usize, col: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
): void {
  const ho = (h + 2 * ph - kh) / sh + 1;
  const wo = (wd + 2 * pw - kw) / sw + 1;
  const k = c * kh * kw;
  const p = ho * wo;
  const pointwise = isPointwise(kh, kw, sh, sw, ph, pw);
  const imageBytes = bytes(c * h * wd);
  for (let ni = 0; ni < n; ni++) {
    const xn = x + <usize>ni * imageBytes;
    const dyn = dy + bytes(ni * o * p);
    if (dw != 0) {
      let src = xn;
      if (!pointwise) {
        im2col(xn, col, c, h, wd, kh, kw, sh, sw, ph, pw, ho, wo);
        src = col;
      }
      gemmNT(dyn, src, dw, o, k, p, ni == 0 ? 0 : 1);
    }
    if (dx != 0) {
      const dxn = dx + <usize>ni * imageBytes;
      if (pointwise) {
        gemmTN(w, dyn, dxn, k, p, o, 0);
      } else {
        gemmTN(w, dyn, col, k, p, o, 0);
        // Taps overlap (kernel larger than stride) and skip pixels (stride larger than kernel):
        // start from zero so both come out right.
        memory.fill(dxn, 0, imageBytes);
        col2imAdd(col, dxn, c, h, wd, kh, kw, sh, sw, ph, pw, ho, wo);
      }
    }
  }
  if (dw != 0 && n == 0) memory.fill(dw, 0, bytes(o * k));
  if (db != 0) {
    for (let oi = 0; oi < o; oi++) {
      let s: f32 = 0;
      for (let ni = 0; ni < n; ni++) s += rowSum(dy + bytes((ni * o + oi) * p), p);
      store<f32>(db + bytes(oi), s);
    }
  }
}
