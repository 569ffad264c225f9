// 2-D convolution (cross-correlation, NCHW activations, OIHW weights, zero padding) lowered to the
// SIMD GEMMs. With K = C·kh·kw and P = Ho·Wo, im2col lays image n out as col [K × P] (row
// (c, ki, kj) holds the input pixels that tap sees at every output position), so
//   forward       y_n  = W[O × K] · col                 (then + bias)
//   weight grad   dW  += dy_n[O × P] · colᵀ
//   input grad    dcol = Wᵀ · dy_n, dx_n = col2im(dcol) (then a scatter-add)
// Images go in chunks of about 256 positions (gradChunk), their columns side by side, and the
// products run over packed copies of their operands (gemm.ts), so small planes still make long,
// cache-friendly products; the workspace holds one chunk whatever the batch. A 1×1, stride-1,
// unpadded convolution is a plain matrix product with col = x_n: no im2col, no workspace.
// Stride-1 convolutions with few filters skip im2col in the forward pass and the weight gradient
// (the implicit lowering, below): LeNet-5's.
import { gemmGatherB, hsum, madd, madd1, gemmNN, gemmNTPacked, gemmNTStrided, gemmStridedAPacked, gemmTN, packedGemmWorkspaceFloats } from "./gemm";
import {
  conv2dForwardLanes, conv2dInputGradLanes, conv2dWeightGradLanes, lanesForward, lanesInputGrad, lanesWeightGrad, lanesWorkspaceFloats,
} from "./conv-lanes";
import { isWinograd, winogradConv, winogradWeightGrad, winogradWorkspaceFloats } from "./winograd";
import { directForwardImage, directOutputs, directWeightFloats, packDirectBiases, packDirectWeights } from "./conv-direct";

// @ts-ignore: decorator
@inline function bytes(n: i32): usize {
  return <usize>n << 2;
}

/** True when col = x_n: the caller may pass col = 0. Must match the TypeScript side's choice. */
// @ts-ignore: decorator
@inline export function isPointwise(kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): bool {
  return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
}

/** Output positions along an axis of `size` inputs (zero padding `pad` on both sides). */
// @ts-ignore: decorator
@inline export function outSize(size: i32, k: i32, stride: i32, pad: i32): i32 {
  return (size + 2 * pad - k) / stride + 1;
}

/** First output index o with o·stride − pad + k ≥ 0. */
// @ts-ignore: decorator
@inline export function firstValid(k: i32, stride: i32, pad: i32): i32 {
  const a = pad - k;
  return a > 0 ? (a + stride - 1) / stride : 0;
}

/** One past the last output index o < out with o·stride − pad + k < size, never below `lo`. */
// @ts-ignore: decorator
@inline export function endValid(k: i32, size: i32, stride: i32, pad: i32, out: i32, lo: i32): i32 {
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

// Runs end with at most one 2-float and one 1-float step (64-bit lanes, then a scalar) rather than a
// scalar loop: LeNet-5's 10-float rows of im2col and col2im end in 2 floats, and the loop's two
// scalar iterations cost about as much as the two vectors before them.
// @ts-ignore: decorator
@inline export function copyRun(dst: usize, src: usize, n: i32): void {
  if (n >= BULK_FLOATS) { memory.copy(dst, src, bytes(n)); return; }
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + bytes(i), v128.load(src + bytes(i)));
  if (i + 2 <= n) {
    store<u64>(dst + bytes(i), load<u64>(src + bytes(i)));
    i += 2;
  }
  if (i < n) store<f32>(dst + bytes(i), load<f32>(src + bytes(i)));
}

/** dst[0 … n) += src[0 … n): a tap's gradient added back onto the pixels it read. */
// @ts-ignore: decorator
@inline function addRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + bytes(i), f32x4.add(v128.load(dst + bytes(i)), v128.load(src + bytes(i))));
  if (i + 2 <= n) {
    const d = dst + bytes(i);
    v128.store64_lane(d, f32x4.add(v128.load64_zero(d), v128.load64_zero(src + bytes(i))), 0);
    i += 2;
  }
  if (i < n) store<f32>(dst + bytes(i), load<f32>(dst + bytes(i)) + load<f32>(src + bytes(i)));
}

/**
 * col[K × P] from one image x_n [C × H × W]. Clipping to the image is worked out once per tap
 * (ki, kj), so the inner loops only copy contiguous runs and zero-fill the padded margins.
 */
export function im2col(
  x: usize, col: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, ho: i32, wo: i32,
): void {
  im2colTaps(x, col, 0, c * kh * kw, h, w, kh, kw, sh, sw, ph, pw, ho, wo, ho * wo);
}

/**
 * Rows t0 … t1−1 of col (tap t = (c·kh + ki)·kw + kj), written from col's first row on, ld floats
 * apart (ho·wo, or more when several images' columns sit side by side): a thread that owns a slice
 * of the weight gradient's columns lowers only the taps it needs.
 */
export function im2colTaps(
  x: usize, col: usize, t0: i32, t1: i32, h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, ho: i32, wo: i32, ld: i32,
): void {
  const rowBytes = bytes(ld);
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
      memory.fill(row, 0, bytes(ho * wo));
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
        let j = 0;
        // Stride 2 (ResNet-18's 1×1 shortcuts, AlexNet-CIFAR's first layer): four samples from two
        // vectors, as long as the second vector's last float is still a sample of the run.
        if (sw == 2) {
          for (; j + 5 <= run; j += 4) {
            const p = src + bytes(2 * j);
            v128.store(out + bytes(j), v128.shuffle<f32>(v128.load(p), v128.load(p, 16), 0, 2, 4, 6));
          }
        }
        for (; j < run; j++) store<f32>(out + bytes(j), load<f32>(src + <usize>j * step));
      }
      zero(dst + bytes(owHi), wo - owHi);
    }
    zero(row + bytes(ohHi * wo), (ho - ohHi) * wo);
    row += rowBytes;
  }
}

/**
 * dx_n [C × H × W] += col2im(dcol [K × P], rows ld floats apart): each tap's row is added back
 * where im2col took it.
 */
export function col2imAdd(
  dcol: usize, dx: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, ho: i32, wo: i32, ld: i32,
): void {
  const rowBytes = bytes(ld);
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
            addRun(dst, src, run);
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

// ---- implicit im2col ----
// With stride 1, row (c, ki, kj) of col is image plane c read from offset ki·W + kj, one run per
// output row. Computing the outputs on an ho × W grid instead of ho × wo (W: the padded input
// width) turns each of those rows into ONE contiguous window of the plane, L = (ho−1)·W + wo floats
// long, so the GEMMs read B straight from the (padded) image through a table of K row offsets and
// no col is built. The price is W − wo wasted columns per output row (their results are dropped,
// their upstream gradients are zero); for LeNet's 5×5 convolutions im2col's short runs cost more
// than that. The last window ends at the plane's last pixel, so nothing outside the image is read.

// @ts-ignore: decorator
@inline export function round4(n: i32): i32 {
  return (n + 3) & ~3;
}

/** Window length L of the implicit lowering. */
// @ts-ignore: decorator
@inline export function windowLength(ho: i32, wo: i32, wp: i32): i32 {
  return (ho - 1) * wp + wo;
}

/**
 * Whether a convolution's forward pass and weight gradient take the implicit lowering (its input
 * gradient always goes through im2col and a packed product, 1.2× faster on LeNet-5's conv2 than
 * the grid's product): stride 1, not pointwise (that one needs no col at all), fewer than 32
 * filters, and few wasted multiply-adds for the copying saved. im2col costs
 * about the same per element of col whatever the filter count o, while the implicit product runs
 * unpacked (about 29 GFLOP/s here, against 40 for the packed product of the im2col lowering) and
 * wastes o·(L − P) multiply-adds per input channel and tap: both grow with o. Measured at 1 thread:
 * LeNet-5's 6 and 16 filters run their forward 1.2–1.6× faster implicitly (batch 64), while 64
 * filters on 32×32 (ResNet-18's first stage) run 1.2× faster lowered, forward and backward, and
 * AlexNet's and ResNet's 128–512 filters on 4×4 to 16×16 planes were never faster implicitly.
 */
export function isImplicit(h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, o: i32): bool {
  if (o >= 32 || sh != 1 || sw != 1 || isPointwise(kh, kw, sh, sw, ph, pw)) return false;
  const ho = outSize(h, kh, 1, ph);
  const wo = outSize(w, kw, 1, pw);
  if (ho < 1 || wo < 1) return false;
  const p = ho * wo;
  return <i64>o * <i64>(windowLength(ho, wo, w + 2 * pw) - p) <= 8 * <i64>p;
}

/**
 * Floats of workspace one thread needs for conv2dForward/conv2dBackward (and the sparse conv
 * kernels, which use im2col): 0 for a pointwise convolution. The TypeScript side sizes its scratch
 * with this, so the choice of lowering lives in one place.
 */
export function convWorkspaceFloats(c: i32, h: i32, w: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): i32 {
  if (isPointwise(kh, kw, sh, sw, ph, pw)) return 0;
  const ho = outSize(h, kh, sh, ph);
  const wo = outSize(w, kw, sw, pw);
  const k = c * kh * kw;
  const p = ho * wo;
  // Small stride-1 layers run their forward pass or input gradient on lanes (conv-lanes.ts).
  const col = max(loweredWorkspaceFloats(k, o, p), lanesWorkspaceFloats(c, h, w, o, kh, kw, sh, sw, ph, pw));
  if (isWinograd(c, h, w, o, kh, kw, sh, sw, ph, pw)) return max(col, winogradWorkspaceFloats(c, h, w, o, sh));
  if (!isImplicit(h, w, kh, kw, sh, sw, ph, pw, o)) return col;
  const plane = ph != 0 || pw != 0 ? round4(c * (h + 2 * ph) * (w + 2 * pw)) : 0;
  const l = windowLength(ho, wo, w + 2 * pw);
  const slot = implicitSlotFloats(plane, o, l, ho * wo);
  // Offsets, then the forward's padded image and grid, or the weight gradient's chunk of slots;
  // or the direct forward pass's padded image, packed weights and sink plane.
  const implicit = round4(k) + max(plane + round4(o * l), chunkImages(slot) * slot);
  const direct = round4(k) + round4(directWeightFloats(o, k)) + round4(directWeightFloats(o, 1)) + plane + round4(ho * wo);
  return max(max(col, implicit), direct);
}

/**
 * Images lowered together in the implicit weight gradient: their products are summed in registers
 * before one store per weight, instead of once per image. About 32 KiB of padded images and
 * gradients, so a chunk stays in L1 (256 KiB measured no faster on LeNet). Depends on the geometry
 * only, never on the batch or the thread count, so every split of the taps sums in the same order.
 */
// @ts-ignore: decorator
@inline function chunkImages(slotFloats: i32): i32 {
  return max(1, (1 << 13) / slotFloats);
}

/**
 * Whether the implicit weight gradient runs on dy transposed to [positions × o] (weightGradByFilters):
 * filters are then the SIMD axis, so no lane multiplies a wasted grid column; it needs o in whole
 * vectors. Otherwise (LeNet conv1's 6 filters) it runs on the grid (weightGradChunk).
 */
// @ts-ignore: decorator
@inline function transposedWeightGrad(o: i32): bool {
  return (o & 3) == 0;
}

/** dst[j·stride] (+)= lane j of v, j = 0 … 3 (stride in bytes). */
// @ts-ignore: decorator
@inline function accumulateLanes(dst: usize, stride: usize, v: v128, first: bool): void {
  accumulate(dst, f32x4.extract_lane(v, 0), first);
  accumulate(dst + stride, f32x4.extract_lane(v, 1), first);
  accumulate(dst + 2 * stride, f32x4.extract_lane(v, 2), first);
  accumulate(dst + 3 * stride, f32x4.extract_lane(v, 3), first);
}

/**
 * Floats of one image's slot in the implicit weight gradient: its padded copy (plane floats, 0 when
 * unpadded), then its dy, transposed to [positions × o] or laid onto the grid [o × L].
 */
// @ts-ignore: decorator
@inline function implicitSlotFloats(plane: i32, o: i32, l: i32, positions: i32): i32 {
  return plane + (transposedWeightGrad(o) ? round4(o * positions) : round4(o * l));
}

/** Byte offset of tap j's window in a (padded) image plane, from the table implicitOffsets wrote. */
// @ts-ignore: decorator
@inline function tapOffset(offs: usize, j: i32): usize {
  return bytes(load<i32>(offs + bytes(j)));
}

/**
 * dw[i, j] (+)= Σ_images Σ_{r<ho, q<wo} dyT_im[r·wo + q, i] · src_im[offs[j] + r·wp + q] for i < o
 * (a multiple of 4), j < taps, with dyT_im [ho·wo × o] at dyT + im·dStride and image im's plane at
 * src + im·srcStride (bytes). Each weight is one lane summing its terms in that fixed order, so
 * every blocking and every split of the taps gives the same bits. Blocks: 4 taps × 8 filters.
 */
function weightGradByFilters(
  dyT: usize, dStride: usize, src: usize, srcStride: usize, offs: usize, dw: usize,
  o: i32, taps: i32, ho: i32, wo: i32, wp: i32, ldw: i32, images: i32, first: bool,
): void {
  const posBytes = bytes(o);
  const col = bytes(ldw);
  let i = 0;
  for (; i + 8 <= o; i += 8) {
    let j = 0;
    for (; j + 4 <= taps; j += 4) {
      const f0 = tapOffset(offs, j), f1 = tapOffset(offs, j + 1), f2 = tapOffset(offs, j + 2), f3 = tapOffset(offs, j + 3);
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      for (let im = 0; im < images; im++) {
        const base = src + <usize>im * srcStride;
        let d = dyT + <usize>im * dStride + bytes(i);
        for (let r = 0; r < ho; r++) {
          const row = base + bytes(r * wp);
          for (let q = 0; q < wo; q++) {
            const at = row + bytes(q);
            const w0 = v128.load(d), w1 = v128.load(d, 16);
            const x0 = v128.load32_splat(at + f0), x1 = v128.load32_splat(at + f1);
            const x2 = v128.load32_splat(at + f2), x3 = v128.load32_splat(at + f3);
            c00 = madd(c00, x0, w0); c01 = madd(c01, x0, w1);
            c10 = madd(c10, x1, w0); c11 = madd(c11, x1, w1);
            c20 = madd(c20, x2, w0); c21 = madd(c21, x2, w1);
            c30 = madd(c30, x3, w0); c31 = madd(c31, x3, w1);
            d += posBytes;
          }
        }
      }
      const out = dw + bytes(i * ldw + j);
      accumulateLanes(out, col, c00, first); accumulateLanes(out + 4 * col, col, c01, first);
      accumulateLanes(out + 4, col, c10, first); accumulateLanes(out + 4 + 4 * col, col, c11, first);
      accumulateLanes(out + 8, col, c20, first); accumulateLanes(out + 8 + 4 * col, col, c21, first);
      accumulateLanes(out + 12, col, c30, first); accumulateLanes(out + 12 + 4 * col, col, c31, first);
    }
    for (; j < taps; j++) {
      const f = tapOffset(offs, j);
      const out = dw + bytes(i * ldw + j);
      accumulateLanes(out, col, tapFourFilters(dyT, dStride, src, srcStride, f, i, o, ho, wo, wp, images), first);
      accumulateLanes(out + 4 * col, col, tapFourFilters(dyT, dStride, src, srcStride, f, i + 4, o, ho, wo, wp, images), first);
    }
  }
  for (; i < o; i += 4) {
    for (let j = 0; j < taps; j++) {
      const f = tapOffset(offs, j);
      accumulateLanes(dw + bytes(i * ldw + j), col, tapFourFilters(dyT, dStride, src, srcStride, f, i, o, ho, wo, wp, images), first);
    }
  }
}

/**
 * Filters i … i+3 of one tap (its window at byte offset f): the remainders of weightGradByFilters'
 * 8-filter × 4-tap blocks, each lane summing its terms in the blocks' order.
 */
function tapFourFilters(
  dyT: usize, dStride: usize, src: usize, srcStride: usize, f: usize, i: i32,
  o: i32, ho: i32, wo: i32, wp: i32, images: i32,
): v128 {
  const posBytes = bytes(o);
  let acc = f32x4.splat(0);
  for (let im = 0; im < images; im++) {
    const base = src + <usize>im * srcStride + f;
    let d = dyT + <usize>im * dStride + bytes(i);
    for (let r = 0; r < ho; r++) {
      for (let q = 0; q < wo; q++) {
        acc = madd(acc, v128.load32_splat(base + bytes(r * wp + q)), v128.load(d));
        d += posBytes;
      }
    }
  }
  return acc;
}

/** dyT [ho·wo × o] = dy_n [o × ho·wo]ᵀ. */
function transposeGrad(dy: usize, dyT: usize, o: i32, positions: i32): void {
  for (let oi = 0; oi < o; oi++) {
    const src = dy + bytes(oi * positions);
    for (let q = 0; q < positions; q++) store<f32>(dyT + bytes(q * o + oi), load<f32>(src + bytes(q)));
  }
}

/** offs[t] = c·Hp·Wp + ki·Wp + kj for taps t = t0 … t1−1 (written from offs[0]). */
function implicitOffsets(offs: usize, t0: i32, t1: i32, hp: i32, wp: i32, kh: i32, kw: i32): void {
  for (let t = t0; t < t1; t++) store<i32>(offs + bytes(t - t0), windowOffset(t, hp, wp, kh, kw));
}

/** Where tap t = (c, ki, kj) reads a padded image [C × hp × wp]: c·hp·wp + ki·wp + kj floats in. */
// @ts-ignore: decorator
@inline export function windowOffset(t: i32, hp: i32, wp: i32, kh: i32, kw: i32): i32 {
  const taps = kh * kw;
  const ci = t / taps;
  const ki = (t - ci * taps) / kw;
  return ci * hp * wp + ki * wp + (t - ci * taps - ki * kw);
}

/** The interior of the zero-bordered copy xp [c × (h+2ph) × (w+2pw)] of image x [c × h × w]. */
export function padInterior(x: usize, xp: usize, c: i32, h: i32, w: i32, ph: i32, pw: i32): void {
  const hp = h + 2 * ph, wp = w + 2 * pw;
  for (let ci = 0; ci < c; ci++) {
    for (let r = 0; r < h; r++) {
      copyRun(xp + bytes((ci * hp + r + ph) * wp + pw), x + bytes((ci * h + r) * w), w);
    }
  }
}

/** dx [c × h × w] = the interior of dxp [c × (h+2ph) × (w+2pw)]. */
export function unpad(dxp: usize, dx: usize, c: i32, h: i32, w: i32, ph: i32, pw: i32): void {
  const hp = h + 2 * ph, wp = w + 2 * pw;
  for (let ci = 0; ci < c; ci++) {
    for (let r = 0; r < h; r++) {
      copyRun(dx + bytes((ci * h + r) * w), dxp + bytes((ci * hp + r + ph) * wp + pw), w);
    }
  }
}

/** Lays dy_n [o × ho × wo] onto the grid g [o × L] (row stride wp); the gaps keep the zeros put there once. */
export function spreadRows(dy: usize, g: usize, o: i32, ho: i32, wo: i32, wp: i32, l: i32): void {
  for (let oi = 0; oi < o; oi++) {
    for (let r = 0; r < ho; r++) copyRun(g + bytes(oi * l + r * wp), dy + bytes((oi * ho + r) * wo), wo);
  }
}

/**
 * Whether the forward pass of an implicit-lowering geometry runs direct instead (conv-direct.ts):
 * when its blocks of 3 filters × 12 (or 4) columns compute at most a quarter more outputs than
 * there are, counting the filters padded to a multiple of 3 and the columns recomputed at the end
 * of a row. One thread, batch 64–128, against the implicit lowering: LeNet-5's conv1 (1 → 6
 * filters, 5×5, 28×28 outputs) 41 → 50 GFLOP/s; 2 → 8 filters 3×3 on 24×24 38 → 48; 1 → 6 on 12×12
 * 20 → 37; but 3 → 13 filters on 13×13 (15 filters and 16 columns computed) 34 → 31.
 */
// @ts-ignore: decorator
@inline function isDirectForward(h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, o: i32): bool {
  if (!isImplicit(h, w, kh, kw, sh, sw, ph, pw, o)) return false;
  const wo = outSize(w, kw, 1, pw);
  return wo >= 4 && 4 * <i64>directOutputs(o, wo) <= 5 * <i64>o * <i64>wo;
}

/**
 * The stride-1 forward passes that read every tap of an image at a fixed offset (a table of them,
 * through a zero-bordered copy of the image when padded): direct (conv-direct.ts), or the implicit
 * grid's product, whose rows are then copied into y with the bias.
 */
function conv2dForwardByOffsets(
  direct: bool, x: usize, w: usize, bias: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, ph: i32, pw: i32,
): void {
  const hp = h + 2 * ph, wp = wd + 2 * pw;
  const ho = hp - kh + 1, wo = wp - kw + 1;
  const k = c * kh * kw;
  const l = windowLength(ho, wo, wp);
  const padded = ph != 0 || pw != 0;
  const plane = padded ? round4(c * hp * wp) : 0;
  // The offsets, the direct pass's packed weights and biases, the padded image, then the direct
  // pass's sink plane or the implicit grid.
  const offs = ws;
  const wk = offs + bytes(round4(k));
  const bk = wk + bytes(direct ? round4(directWeightFloats(o, k)) : 0);
  const xp = bk + bytes(direct ? round4(directWeightFloats(o, 1)) : 0);
  const rest = xp + bytes(plane);
  implicitOffsets(offs, 0, k, hp, wp, kh, kw);
  if (direct) {
    packDirectWeights(w, wk, o, k);
    packDirectBiases(bias, bk, o);
  }
  if (padded) memory.fill(xp, 0, bytes(plane));
  for (let ni = 0; ni < n; ni++) {
    const xn = x + bytes(ni * c * h * wd);
    const yn = y + bytes(ni * o * ho * wo);
    if (padded) padInterior(xn, xp, c, h, wd, ph, pw);
    const src = padded ? xp : xn;
    if (direct) directForwardImage(src, wk, bk, offs, yn, rest, o, k, wp, ho, wo);
    else implicitForwardImage(src, w, bias, offs, rest, yn, o, k, l, ho, wo, wp);
  }
}

/** One image's forward pass on the implicit grid g [o × l]. */
function implicitForwardImage(
  src: usize, w: usize, bias: usize, offs: usize, g: usize, yn: usize, o: i32, k: i32, l: i32, ho: i32, wo: i32, wp: i32,
): void {
  gemmGatherB(w, k, 1, src, offs, g, l, o, l, k, 0);
  // acc + bias is what the im2col path's bias-seeded product stores (acc + 1·bias), bit for bit.
  for (let oi = 0; oi < o; oi++) {
    const bv = f32x4.splat(bias != 0 ? load<f32>(bias + bytes(oi)) : 0);
    const bs: f32 = bias != 0 ? load<f32>(bias + bytes(oi)) : 0;
    for (let r = 0; r < ho; r++) {
      const row = g + bytes(oi * l + r * wp);
      const dst = yn + bytes((oi * ho + r) * wo);
      let j = 0;
      if (bias != 0) {
        for (; j + 4 <= wo; j += 4) v128.store(dst + bytes(j), f32x4.add(v128.load(row + bytes(j)), bv));
        for (; j < wo; j++) store<f32>(dst + bytes(j), load<f32>(row + bytes(j)) + bs);
      } else {
        copyRun(dst, row, wo);
      }
    }
  }
}

/**
 * Σ over `images` of dot(a_i, b_i) for rows of length l, a_i = a + i·aStride and b_i = b + i·bStride
 * (strides in bytes): the tail of the weight-gradient blocks.
 */
function dotImages(a: usize, aStride: usize, b: usize, bStride: usize, l: i32, images: i32): f32 {
  let acc = f32x4.splat(0);
  let tail: f32 = 0;
  for (let im = 0; im < images; im++) {
    const ai = a + <usize>im * aStride, bi = b + <usize>im * bStride;
    let p = 0;
    for (; p + 4 <= l; p += 4) acc = madd(acc, v128.load(ai + bytes(p)), v128.load(bi + bytes(p)));
    for (; p < l; p++) tail = madd1(tail, load<f32>(ai + bytes(p)), load<f32>(bi + bytes(p)));
  }
  return hsum(acc) + tail;
}


// @ts-ignore: decorator
@inline function accumulate(dst: usize, value: f32, first: bool): void {
  store<f32>(dst, first ? value : load<f32>(dst) + value);
}

/**
 * dw[i, j] (+)= Σ_images Σ_p g_im[i, p] · src_im[offs[j] + p] for i < o, j < taps: the weight
 * gradient of a chunk of images, g_im [o × l] at g + im·gStride, image im's plane at src + im·srcStride
 * (bytes). Blocks of 2 rows × 4 taps share their loads, as gemmNT's do, and keep their accumulators
 * across the chunk's images. Splits by taps stay bit-identical when they start at a multiple of 4.
 */
function weightGradChunk(
  g: usize, gStride: usize, src: usize, srcStride: usize, offs: usize, dw: usize,
  o: i32, taps: i32, l: i32, ldw: i32, images: i32, first: bool,
): void {
  const rowBytes = bytes(l);
  let i = 0;
  for (; i + 2 <= o; i += 2) {
    let j = 0;
    for (; j + 4 <= taps; j += 4) {
      const f0 = tapOffset(offs, j), f1 = tapOffset(offs, j + 1), f2 = tapOffset(offs, j + 2), f3 = tapOffset(offs, j + 3);
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
      let s00: f32 = 0, s01: f32 = 0, s02: f32 = 0, s03: f32 = 0, s10: f32 = 0, s11: f32 = 0, s12: f32 = 0, s13: f32 = 0;
      for (let im = 0; im < images; im++) {
        const a0 = g + <usize>im * gStride + <usize>i * rowBytes;
        const a1 = a0 + rowBytes;
        const base = src + <usize>im * srcStride;
        const b0 = base + f0, b1 = base + f1, b2 = base + f2, b3 = base + f3;
        let p = 0;
        for (; p + 4 <= l; p += 4) {
          const at = bytes(p);
          const x0 = v128.load(a0 + at), x1 = v128.load(a1 + at);
          const w0 = v128.load(b0 + at), w1 = v128.load(b1 + at), w2 = v128.load(b2 + at), w3 = v128.load(b3 + at);
          c00 = madd(c00, x0, w0); c01 = madd(c01, x0, w1);
          c02 = madd(c02, x0, w2); c03 = madd(c03, x0, w3);
          c10 = madd(c10, x1, w0); c11 = madd(c11, x1, w1);
          c12 = madd(c12, x1, w2); c13 = madd(c13, x1, w3);
        }
        for (; p < l; p++) {
          const at = bytes(p);
          const x0 = load<f32>(a0 + at), x1 = load<f32>(a1 + at);
          const w0 = load<f32>(b0 + at), w1 = load<f32>(b1 + at), w2 = load<f32>(b2 + at), w3 = load<f32>(b3 + at);
          s00 = madd1(s00, x0, w0); s01 = madd1(s01, x0, w1); s02 = madd1(s02, x0, w2); s03 = madd1(s03, x0, w3);
          s10 = madd1(s10, x1, w0); s11 = madd1(s11, x1, w1); s12 = madd1(s12, x1, w2); s13 = madd1(s13, x1, w3);
        }
      }
      const r0 = dw + bytes(i * ldw + j), r1 = r0 + bytes(ldw);
      accumulate(r0, hsum(c00) + s00, first); accumulate(r0 + 4, hsum(c01) + s01, first);
      accumulate(r0 + 8, hsum(c02) + s02, first); accumulate(r0 + 12, hsum(c03) + s03, first);
      accumulate(r1, hsum(c10) + s10, first); accumulate(r1 + 4, hsum(c11) + s11, first);
      accumulate(r1 + 8, hsum(c12) + s12, first); accumulate(r1 + 12, hsum(c13) + s13, first);
    }
    for (; j < taps; j++) {
      const b = src + tapOffset(offs, j);
      const a0 = g + <usize>i * rowBytes;
      accumulate(dw + bytes(i * ldw + j), dotImages(a0, gStride, b, srcStride, l, images), first);
      accumulate(dw + bytes((i + 1) * ldw + j), dotImages(a0 + rowBytes, gStride, b, srcStride, l, images), first);
    }
  }
  for (; i < o; i++) {
    for (let j = 0; j < taps; j++) {
      const b = src + tapOffset(offs, j);
      accumulate(dw + bytes(i * ldw + j), dotImages(g + <usize>i * rowBytes, gStride, b, srcStride, l, images), first);
    }
  }
}

/**
 * Weight gradient columns t0 … t1−1 (dw: the full [o × k] matrix; all of it for t0 = 0, t1 = k)
 * of the implicit lowering. Images go in chunks (chunkImages): each is laid onto its gradient grid
 * (and padded) once, then the chunk's weight gradient is reduced in one pass and added to dw, chunk
 * after chunk. (The input gradient always takes the im2col lowering: its packed product is faster
 * than the grid's for any o.)
 */
export function conv2dWeightGradImplicitTaps(
  x: usize, dy: usize, dw: usize, ws: usize, t0: i32, t1: i32,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, ph: i32, pw: i32,
): void {
  implicitWeightGrad(x, dy, dw, 0, ws, t0, t1, 0, n, n, c, h, wd, o, kh, kw, ph, pw);
}

/**
 * Chunks of images the weight gradient sums separately (see conv2dWeightGradPartials): groups of
 * four on lanes, the implicit lowering's chunks, or 0 when the geometry takes neither.
 */
export function weightGradChunks(n: i32, c: i32, h: i32, w: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): i32 {
  if (lanesWeightGrad(c, h, w, o, kh, kw, sh, sw, ph, pw)) return (n + 3) / 4;
  if (!isImplicit(h, w, kh, kw, sh, sw, ph, pw, o)) return 0;
  const hp = h + 2 * ph, wp = w + 2 * pw;
  const ho = hp - kh + 1, wo = wp - kw + 1;
  const plane = ph != 0 || pw != 0 ? round4(c * hp * wp) : 0;
  const chunk = chunkImages(implicitSlotFloats(plane, o, windowLength(ho, wo, wp), ho * wo));
  return (n + chunk - 1) / chunk;
}

/**
 * The weight gradient of chunks q0 … q1−1 alone (weightGradChunks; stride 1), each chunk's [o × k]
 * sum written (not added) to partials + q·o·k: threads can then share the batch instead of the taps, each laying out only its
 * own images, and sumPartials adds the chunks up in order — the same additions, in the same order,
 * as conv2dWeightGradImplicitTaps makes into dw, so the bits do not change.
 */
export function conv2dWeightGradPartials(
  x: usize, dy: usize, partials: usize, ws: usize, q0: i32, q1: i32,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, ph: i32, pw: i32,
): void {
  const k = c * kh * kw;
  if (lanesWeightGrad(c, h, wd, o, kh, kw, 1, 1, ph, pw)) conv2dWeightGradLanes(x, dy, partials, o * k, ws, q0, q1, n, c, h, wd, o, kh, kw, ph, pw);
  else implicitWeightGrad(x, dy, partials, o * k, ws, 0, k, q0, q1, n, c, h, wd, o, kh, kw, ph, pw);
}

/** dst[e] = Σ_q partials[q·size + e] over q = 0 … chunks−1 in order, for e = e0 … e1−1. */
export function sumPartials(partials: usize, dst: usize, chunks: i32, size: i32, e0: i32, e1: i32): void {
  let e = e0;
  for (; e + 4 <= e1; e += 4) {
    let acc = v128.load(partials + bytes(e));
    for (let q = 1; q < chunks; q++) acc = f32x4.add(acc, v128.load(partials + bytes(q * size + e)));
    v128.store(dst + bytes(e), acc);
  }
  for (; e < e1; e++) {
    let acc = load<f32>(partials + bytes(e));
    for (let q = 1; q < chunks; q++) acc += load<f32>(partials + bytes(q * size + e));
    store<f32>(dst + bytes(e), acc);
  }
}

/**
 * The implicit weight gradient over chunks q0 … q1−1 (q1 ≥ chunks: to the last image), taps t0 …
 * t1−1. partialStride 0: every chunk is added to dw, the first one stored; otherwise chunk q is
 * stored alone at dw + q·partialStride floats.
 */
function implicitWeightGrad(
  x: usize, dy: usize, dw: usize, partialStride: i32, ws: usize, t0: i32, t1: i32, q0: i32, q1: i32,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, ph: i32, pw: i32,
): void {
  if (t1 <= t0) return;
  const hp = h + 2 * ph, wp = wd + 2 * pw;
  const ho = hp - kh + 1, wo = wp - kw + 1;
  const k = c * kh * kw;
  const l = windowLength(ho, wo, wp);
  const padded = ph != 0 || pw != 0;
  const plane = padded ? round4(c * hp * wp) : 0;
  const byFilters = transposedWeightGrad(o);
  const slot = implicitSlotFloats(plane, o, l, ho * wo);
  const chunk = chunkImages(slot);
  const first = q0 * chunk, last = <i32>min<i64>(<i64>n, <i64>q1 * <i64>chunk);
  if (last <= first) return;
  const offs = ws;
  const slots = ws + bytes(round4(k));
  const image = c * h * wd;
  implicitOffsets(offs, 0, k, hp, wp, kh, kw);
  // The gaps of every grid (wasted columns) and the borders of every padded copy stay zero: only
  // the interiors are written below.
  const used = min(chunk, last - first);
  for (let s = 0; s < used; s++) {
    const at = slots + <usize>s * bytes(slot);
    if (padded) memory.fill(at, 0, bytes(plane));
    if (!byFilters) memory.fill(at + bytes(plane), 0, bytes(o * l));
  }
  for (let n0 = first; n0 < last; n0 += chunk) {
    const images = min(chunk, last - n0);
    for (let s = 0; s < images; s++) {
      const at = slots + <usize>s * bytes(slot);
      const dyn = dy + bytes((n0 + s) * o * ho * wo);
      if (byFilters) transposeGrad(dyn, at + bytes(plane), o, ho * wo);
      else spreadRows(dyn, at + bytes(plane), o, ho, wo, wp, l);
      if (padded) padInterior(x + bytes((n0 + s) * image), at, c, h, wd, ph, pw);
    }
    // Unpadded images are read in place: consecutive images are `image` floats apart.
    const src = padded ? slots : x + bytes(n0 * image);
    const out = partialStride == 0 ? dw : dw + bytes((n0 / chunk) * partialStride);
    const store = partialStride != 0 || n0 == 0;
    if (byFilters) {
      weightGradByFilters(slots + bytes(plane), bytes(slot), src, padded ? bytes(slot) : bytes(image),
        offs + bytes(t0), out + bytes(t0), o, t1 - t0, ho, wo, wp, k, images, store);
    } else weightGradChunk(slots + bytes(plane), bytes(slot), src, padded ? bytes(slot) : bytes(image),
      offs + bytes(t0), out + bytes(t0), o, t1 - t0, l, k, images, store);
  }
}

/**
 * y = conv2d(x, w) + bias for x [n × c × h × w], w [o × c × kh × kw], y [n × o × ho × wo].
 * bias = 0 means no bias; col is a workspace of c·kh·kw·ho·wo floats (0 for a pointwise conv).
 */
export function conv2dForward(
  x: usize, w: usize, bias: usize, y: usize, col: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
): void {
  const ho = outSize(h, kh, sh, ph);
  const wo = outSize(wd, kw, sw, pw);
  const k = c * kh * kw;
  const p = ho * wo;
  if (isWinograd(c, h, wd, o, kh, kw, sh, sw, ph, pw)) {
    winogradConv(x, w, bias, y, col, n, c, h, wd, o, sh, false, 0, o);
    return;
  }
  if (lanesForward(c, h, wd, o, kh, kw, sh, sw, ph, pw)) {
    conv2dForwardLanes(x, w, bias, y, col, n, c, h, wd, o, kh, kw, ph, pw);
    return;
  }
  if (isImplicit(h, wd, kh, kw, sh, sw, ph, pw, o)) {
    conv2dForwardByOffsets(isDirectForward(h, wd, kh, kw, sh, sw, ph, pw, o), x, w, bias, y, col, n, c, h, wd, o, kh, kw, ph, pw);
    return;
  }
  if (isPointwise(kh, kw, sh, sw, ph, pw)) {
    for (let ni = 0; ni < n; ni++) {
      const yn = y + bytes(ni * o * p);
      if (bias != 0) {
        // Seeding y with the bias lets the product accumulate onto it instead of a second pass.
        for (let oi = 0; oi < o; oi++) fillValue(yn + bytes(oi * p), load<f32>(bias + bytes(oi)), p);
        gemmNN(w, x + bytes(ni * c * h * wd), yn, o, p, k, 1);
      } else {
        gemmNN(w, x + bytes(ni * c * h * wd), yn, o, p, k, 0);
      }
    }
    return;
  }
  // Images go gradChunk at a time, their columns side by side, so the product's rows are long
  // even on 4×4 planes; each output still sums its k products in ascending order, then the bias.
  const q = gradChunk(p);
  const image = c * h * wd;
  const yc = col + bytes(round4(k * q * p));
  const pack = yc + bytes(q > 1 ? round4(o * q * p) : 0);
  for (let n0 = 0; n0 < n; n0 += q) {
    const m = min(q, n - n0);
    const ld = m * p;
    for (let im = 0; im < m; im++) {
      im2colTaps(x + bytes((n0 + im) * image), col + bytes(im * p), 0, k, h, wd, kh, kw, sh, sw, ph, pw, ho, wo, ld);
    }
    const yn = y + bytes(n0 * o * p);
    // A lone image's product lands in y itself; a chunk's goes through yc, image by image.
    gemmStridedAPacked(w, k, 1, col, ld, 0, m > 1 ? yc : yn, ld, pack, o, ld, k);
    if (m == 1 && bias == 0) continue;
    for (let oi = 0; oi < o; oi++) {
      const b: f32 = bias != 0 ? load<f32>(bias + bytes(oi)) : 0;
      for (let im = 0; im < m; im++) {
        const dst = yn + bytes((im * o + oi) * p);
        copyPlus(dst, m > 1 ? yc + bytes(oi * ld + im * p) : dst, b, p);
      }
    }
  }
}

/** dst[0 … n) = src[0 … n) + b (src may be dst). */
function copyPlus(dst: usize, src: usize, b: f32, n: i32): void {
  const vb = f32x4.splat(b);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + bytes(i), f32x4.add(v128.load(src + bytes(i)), vb));
  for (; i < n; i++) store<f32>(dst + bytes(i), load<f32>(src + bytes(i)) + b);
}

/**
 * Images per chunk of the lowered weight gradient: their columns sit side by side, so the product
 * sums over at least 256 positions. One image's 4×4 plane alone (AlexNet's and ResNet's last
 * layers) is a k of 16: every output block of the product then costs more to set up and store
 * than to compute, once per image. From the geometry only, so every split sums alike.
 */
// @ts-ignore: decorator
@inline function gradChunk(p: i32): i32 {
  return p >= 256 ? 1 : 256 / p;
}

/**
 * Workspace of the im2col lowering (forward, input and weight gradients): a chunk's columns
 * [k × q·p], its dy or y side by side [o × q·p] when a chunk holds several images, and the packed
 * copies its products read (forward, input and weight gradients).
 */
function loweredWorkspaceFloats(k: i32, o: i32, p: i32): i32 {
  const q = gradChunk(p);
  const k8 = round8(k);
  const pack = max(max(packedGemmWorkspaceFloats(q * p, k), packedGemmWorkspaceFloats(q * p, o)), packedGemmWorkspaceFloats(k8, q * p));
  return round4(k8 * q * p) + (q > 1 ? round4(o * q * p) : 0) + pack + (k8 != k ? o * k8 : 0);
}

// @ts-ignore: decorator
@inline function round8(n: i32): i32 {
  return (n + 7) & ~7;
}

/** dyc [o × m·p] = images n0 … n0+m−1 of dy [n × o × p] side by side, for a chunk's product; returns dyc. */
function chunkOfDy(dy: usize, dyc: usize, n0: i32, m: i32, o: i32, p: i32): usize {
  const ld = m * p;
  for (let im = 0; im < m; im++) {
    for (let oi = 0; oi < o; oi++) copyRun(dyc + bytes(oi * ld + im * p), dy + bytes(((n0 + im) * o + oi) * p), p);
  }
  return dyc;
}

/**
 * dw[:, t0 … t1) = Σ_images dy_n · col_nᵀ through im2col, images taken gradChunk at a time: their
 * columns and their dy side by side ([taps × q·p] and [o × q·p] in ws), one product per chunk.
 *
 * The taps are the product's columns, and the packed product takes them 8 at a time: the columns
 * past a multiple of 8 would each be a scalar sum over the whole batch's positions. ResNet's first
 * convolution (27 taps, split 16 + 11 between two threads) spent most of its time in such tails
 * (11.4 ms at batch 32, 3.0 without) and ran twice as slow on two threads as on one. So the
 * product runs over a multiple of 8 columns into a [o × taps8] block of ws, and only the real
 * ones are copied to dw at the end: the extra columns read whatever ws holds past the taps' rows,
 * and each column is a sum of its own, so they affect nothing else. The packed blocks round each
 * running sum as the scalar tail did (madd / madd1): the bits are the same.
 */
export function conv2dWeightGradLowered(
  x: usize, dy: usize, dw: usize, ws: usize, t0: i32, t1: i32,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
): void {
  const ho = outSize(h, kh, sh, ph);
  const wo = outSize(wd, kw, sw, pw);
  const p = ho * wo;
  const k = c * kh * kw;
  const taps = t1 - t0;
  const image = c * h * wd;
  // A pointwise convolution has no workspace: x_n is its own col, one image at a time.
  const pointwise = isPointwise(kh, kw, sh, sw, ph, pw);
  const q = pointwise ? 1 : gradChunk(p);
  const k8 = round8(k);
  const columns = pointwise ? taps : round8(taps);
  const dyc = ws + bytes(round4(columns * q * p));
  const pack = ws + bytes(round4(k8 * q * p) + (q > 1 ? round4(o * q * p) : 0));
  const padded = columns != taps;
  const sums = padded ? pack + bytes(packedGemmWorkspaceFloats(k8, q * p)) : dw + bytes(t0);
  const ldSums = padded ? columns : k;
  for (let n0 = 0; n0 < n; n0 += q) {
    const m = min(q, n - n0);
    const ld = m * p;
    let src = ws;
    let a = dy + bytes(n0 * o * p);
    if (pointwise) {
      src = x + bytes(n0 * image + t0 * p);
    } else {
      for (let im = 0; im < m; im++) {
        im2colTaps(x + bytes((n0 + im) * image), ws + bytes(im * p), t0, t1, h, wd, kh, kw, sh, sw, ph, pw, ho, wo, ld);
      }
      if (m > 1) a = chunkOfDy(dy, dyc, n0, m, o, p);
    }
    if (pointwise) gemmNTStrided(a, src, dw + bytes(t0), o, taps, ld, k, n0 == 0 ? 0 : 1);
    else gemmNTPacked(a, ld, src, ld, 0, sums, ldSums, pack, o, columns, ld, n0 > 0);
  }
  if (padded) {
    for (let oi = 0; oi < o; oi++) copyRun(dw + bytes(oi * k + t0), sums + bytes(oi * columns), taps);
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
  const ho = outSize(h, kh, sh, ph);
  const wo = outSize(wd, kw, sw, pw);
  const k = c * kh * kw;
  const p = ho * wo;
  const pointwise = isPointwise(kh, kw, sh, sw, ph, pw);
  const imageBytes = bytes(c * h * wd);
  if (isWinograd(c, h, wd, o, kh, kw, sh, sw, ph, pw)) {
    // The weight gradient first: both use the workspace, one after the other.
    if (dw != 0) winogradWeightGrad(x, dy, dw, col, 0, o, n, c, h, wd, o, sh);
    if (dx != 0) winogradConv(dy, w, 0, dx, col, n, o, h, wd, c, sh, true, 0, c);
    if (db != 0) biasGrad(dy, db, n, o, p, 0, o);
    return;
  }
  const lanesDw = dw != 0 && lanesWeightGrad(c, h, wd, o, kh, kw, sh, sw, ph, pw);
  if (lanesDw) conv2dWeightGradLanes(x, dy, dw, 0, col, 0, (n + 3) / 4, n, c, h, wd, o, kh, kw, ph, pw);
  const implicit = !lanesDw && dw != 0 && isImplicit(h, wd, kh, kw, sh, sw, ph, pw, o);
  if (implicit) conv2dWeightGradImplicitTaps(x, dy, dw, col, 0, k, n, c, h, wd, o, kh, kw, ph, pw);
  if (!lanesDw && !implicit && dw != 0) conv2dWeightGradLowered(x, dy, dw, col, 0, k, n, c, h, wd, o, kh, kw, sh, sw, ph, pw);
  // The input gradient goes by the weight gradient's chunks of images too (their dy side by side,
  // one product); each element still sums over the filters alone, so the bits do not change.
  const lanes = dx != 0 && lanesInputGrad(c, h, wd, o, kh, kw, sh, sw, ph, pw);
  if (lanes) conv2dInputGradLanes(w, dy, dx, col, n, c, h, wd, o, kh, kw, ph, pw);
  const lowered = dx == 0 || lanes ? 0 : n;
  const q = pointwise ? 1 : gradChunk(p);
  const dyc = col + bytes(round4(k * q * p));
  const pack = dyc + bytes(q > 1 ? round4(o * q * p) : 0);
  for (let n0 = 0; n0 < lowered; n0 += q) {
    const dyn = dy + bytes(n0 * o * p);
    if (pointwise) {
      gemmTN(w, dyn, dx + <usize>n0 * imageBytes, k, p, o, 0);
      continue;
    }
    const m = min(q, n - n0);
    const ld = m * p;
    // dcol = Wᵀ·dy: W read down its columns, hence the packed product.
    gemmStridedAPacked(w, 1, k, m > 1 ? chunkOfDy(dy, dyc, n0, m, o, p) : dyn, ld, 0, col, ld, pack, k, ld, o);
    for (let im = 0; im < m; im++) {
      const dxn = dx + <usize>(n0 + im) * imageBytes;
      // Taps overlap (kernel larger than stride) and skip pixels (stride larger than kernel):
      // start from zero so both come out right.
      memory.fill(dxn, 0, imageBytes);
      col2imAdd(col + bytes(im * p), dxn, c, h, wd, kh, kw, sh, sw, ph, pw, ho, wo, ld);
    }
  }
  if (dw != 0 && n == 0) memory.fill(dw, 0, bytes(o * k));
  if (db != 0) biasGrad(dy, db, n, o, p, 0, o);
}

/** db[oi] = Σ over images of the sum of dy's plane (n, oi), for oi = o0 … o1−1, image by image. */
export function biasGrad(dy: usize, db: usize, n: i32, o: i32, p: i32, o0: i32, o1: i32): void {
  for (let oi = o0; oi < o1; oi++) {
    let s: f32 = 0;
    for (let ni = 0; ni < n; ni++) s += rowSum(dy + bytes((ni * o + oi) * p), p);
    store<f32>(db + bytes(oi), s);
  }
}
