// Small stride-1 convolutions with four images in the lanes of every vector. The im2col and
// implicit lowerings vectorise over output positions, and LeNet-5's planes are narrow: a 10-wide
// output row is 2½ vectors, and conv2's input gradient through im2col + col2im ran at under half
// the machine's multiply-add rate. Here images n … n+3 are interleaved first,
//   src [h][w + 2·pw][c][4]     (zero columns either side, rows unpadded),
// so every output element is one lane of a vector and every tap a full-width multiply-add with one
// weight broadcast to the four lanes:
//   dst[y][x][o][:] = Σ_ki Σ_kj Σ_c src[y + ki − ph][x + kj][c][:] · wp[ki][kj][c][o],
// rows of taps clipped exactly, columns reaching into the zero margins. Blocks of 4 outputs × 2
// neighbouring positions keep 8 accumulators and share each loaded vector four times and each
// broadcast twice; for each ki the (kj, c) pairs are one contiguous run of both src and wp.
// Measured at batch 64 (one thread, relaxed SIMD): LeNet-5's conv2 forward 0.60 ms against 0.86
// for the implicit lowering, its input gradient (a full correlation of dy with the flipped
// kernel, below) 0.78 against 1.10 for im2col + col2im.
//
// Every lane is one image and sums its terms in the same order whatever its neighbours, so how
// images are grouped (batch split between threads, partial last group) never changes a bit.
import { hsum, madd } from "./gemm";

// @ts-ignore: decorator
@inline function bytes(n: i32): usize {
  return <usize>n << 2;
}

// @ts-ignore: decorator
@inline function round4(n: i32): i32 {
  return (n + 3) & ~3;
}

/**
 * Whether a stride-1 convolution with `inC` input and `outC` output channels runs on lanes: at
 * least 4 input channels (LeNet's conv1 has 1: its runs of (kj, c) pairs are then 5 long and the
 * loop overhead lost to the implicit lowering, 0.51 against 0.43 ms) and a kernel of at most 4,096
 * weights, which every output position reads again: 16 KiB stays in L1 next to the rows it meets.
 * Larger layers are GEMMs that the packed products run better.
 */
export function lanesSupported(inC: i32, outC: i32, kh: i32, kw: i32, sh: i32, sw: i32): bool {
  return sh == 1 && sw == 1 && inC >= 4 && outC >= 1 && !(kh == 1 && kw == 1)
    && <i64>inC * <i64>outC * <i64>(kh * kw) <= 4096;
}

/** Whether conv2dForward takes the lanes for this geometry. */
export function lanesForward(c: i32, h: i32, w: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): bool {
  return lanesSupported(c, o, kh, kw, sh, sw) && h + 2 * ph >= kh && w + 2 * pw >= kw;
}

/**
 * Whether the input gradient takes the lanes: dx is then the full correlation of dy (o channels)
 * with the flipped kernel under padding kh−1−ph, which needs the padding below the kernel.
 */
export function lanesInputGrad(c: i32, h: i32, w: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): bool {
  return lanesSupported(o, c, kh, kw, sh, sw) && ph < kh && pw < kw && h + 2 * ph >= kh && w + 2 * pw >= kw;
}

/**
 * Whether the weight gradient takes the lanes (dW[o][t] = Σ over positions and lanes of dy · the
 * tap's pixel, blocks of 2 filters × 4 taps summed across a whole group): stride 1, fewer than 32
 * filters (a group's interleaved dy must stay in L2), the same kernel bound as above, and output
 * rows of at least 16 positions, the block's inner loop. Measured at b128 (one thread): LeNet-5's
 * conv1 0.72 ms against 0.98 for the implicit lowering; conv2's 10-wide rows ran its kernel at 45
 * instead of 56 GFLOP/s, no better than the implicit lowering's.
 */
export function lanesWeightGrad(c: i32, h: i32, w: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): bool {
  if (sh != 1 || sw != 1 || o >= 32 || (kh == 1 && kw == 1)) return false;
  if (<i64>c * <i64>o * <i64>(kh * kw) > 4096) return false;
  const ho = h + 2 * ph - kh + 1, wo = w + 2 * pw - kw + 1;
  return ho >= 1 && wo >= 16;
}

/** Floats of the weight gradient's workspace: tap offsets, a group's padded image and its dy. */
function weightGradFloats(c: i32, h: i32, w: i32, o: i32, kh: i32, kw: i32, ph: i32, pw: i32): i32 {
  const ho = h + 2 * ph - kh + 1, wo = w + 2 * pw - kw + 1;
  return round4(c * kh * kw) + (h + 2 * ph) * (w + 2 * pw) * c * 4 + ho * wo * o * 4;
}

/** Floats of workspace for one lanes convolution: packed kernel, one group's src and dst. */
function lanesFloats(inC: i32, h: i32, w: i32, outC: i32, kh: i32, kw: i32, ph: i32, pw: i32): i32 {
  const ho = h + 2 * ph - kh + 1, wo = w + 2 * pw - kw + 1;
  return round4(kh * kw * inC * outC) + h * (w + 2 * pw) * inC * 4 + ho * wo * outC * 4;
}

/** Workspace the lanes paths of this geometry need (0 when neither is taken). */
export function lanesWorkspaceFloats(c: i32, h: i32, w: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): i32 {
  let floats = 0;
  if (lanesForward(c, h, w, o, kh, kw, sh, sw, ph, pw)) floats = lanesFloats(c, h, w, o, kh, kw, ph, pw);
  if (lanesInputGrad(c, h, w, o, kh, kw, sh, sw, ph, pw)) {
    const ho = h + 2 * ph - kh + 1, wo = w + 2 * pw - kw + 1;
    floats = max(floats, lanesFloats(o, ho, wo, c, kh, kw, kh - 1 - ph, kw - 1 - pw));
  }
  if (lanesWeightGrad(c, h, w, o, kh, kw, sh, sw, ph, pw)) floats = max(floats, weightGradFloats(c, h, w, o, kh, kw, ph, pw));
  return floats;
}

/**
 * src [h][w + 2·pw][c][4] = images 0 … m−1 (m ≤ 4) of x [m × c × h × w], missing images as zero
 * lanes; the margin columns are left as they are (zero). 4×4 transposes: four images' runs of
 * four pixels in, four pixels' vectors of four images out.
 */
function interleave(x: usize, m: i32, c: i32, h: i32, w: i32, pw: i32, src: usize): void {
  const plane = h * w, image = bytes(c * plane);
  const z = f32x4.splat(0);
  const step = bytes(c * 4);
  for (let ci = 0; ci < c; ci++) {
    for (let r = 0; r < h; r++) {
      const row = x + bytes(ci * plane + r * w);
      const out = src + bytes(((r * (w + 2 * pw) + pw) * c + ci) * 4);
      let q = 0;
      for (; q + 4 <= w; q += 4) {
        const p = row + bytes(q);
        const a = v128.load(p);
        const b = m > 1 ? v128.load(p + image) : z;
        const cc = m > 2 ? v128.load(p + 2 * image) : z;
        const d = m > 3 ? v128.load(p + 3 * image) : z;
        const ab0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5), ab1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
        const cd0 = v128.shuffle<f32>(cc, d, 0, 4, 1, 5), cd1 = v128.shuffle<f32>(cc, d, 2, 6, 3, 7);
        const at = out + <usize>q * step;
        v128.store(at, v128.shuffle<f32>(ab0, cd0, 0, 1, 4, 5));
        v128.store(at + step, v128.shuffle<f32>(ab0, cd0, 2, 3, 6, 7));
        v128.store(at + 2 * step, v128.shuffle<f32>(ab1, cd1, 0, 1, 4, 5));
        v128.store(at + 3 * step, v128.shuffle<f32>(ab1, cd1, 2, 3, 6, 7));
      }
      for (; q < w; q++) {
        const p = row + bytes(q);
        const at = out + <usize>q * step;
        store<f32>(at, load<f32>(p));
        store<f32>(at, m > 1 ? load<f32>(p + image) : 0, 4);
        store<f32>(at, m > 2 ? load<f32>(p + 2 * image) : 0, 8);
        store<f32>(at, m > 3 ? load<f32>(p + 3 * image) : 0, 12);
      }
    }
  }
}

/** Images 0 … m−1 of y [m × o × ho·wo] = dst [ho·wo][o][4] (+ bias[o] when bias ≠ 0). */
function deinterleave(dst: usize, m: i32, o: i32, positions: i32, bias: usize, y: usize): void {
  const image = bytes(o * positions);
  const step = bytes(o * 4);
  for (let oi = 0; oi < o; oi++) {
    const b: f32 = bias != 0 ? load<f32>(bias + bytes(oi)) : 0;
    const bv = f32x4.splat(b);
    const plane = y + bytes(oi * positions);
    let q = 0;
    if (m == 4) {
      for (; q + 4 <= positions; q += 4) {
        const s = dst + bytes((q * o + oi) * 4);
        const a = v128.load(s), bb = v128.load(s + step), cc = v128.load(s + 2 * step), d = v128.load(s + 3 * step);
        const ab0 = v128.shuffle<f32>(a, bb, 0, 4, 1, 5), ab1 = v128.shuffle<f32>(a, bb, 2, 6, 3, 7);
        const cd0 = v128.shuffle<f32>(cc, d, 0, 4, 1, 5), cd1 = v128.shuffle<f32>(cc, d, 2, 6, 3, 7);
        const at = plane + bytes(q);
        v128.store(at, f32x4.add(v128.shuffle<f32>(ab0, cd0, 0, 1, 4, 5), bv));
        v128.store(at + image, f32x4.add(v128.shuffle<f32>(ab0, cd0, 2, 3, 6, 7), bv));
        v128.store(at + 2 * image, f32x4.add(v128.shuffle<f32>(ab1, cd1, 0, 1, 4, 5), bv));
        v128.store(at + 3 * image, f32x4.add(v128.shuffle<f32>(ab1, cd1, 2, 3, 6, 7), bv));
      }
    }
    for (; q < positions; q++) {
      const s = dst + bytes((q * o + oi) * 4);
      for (let j = 0; j < m; j++) store<f32>(plane + <usize>j * image + bytes(q), load<f32>(s + bytes(j)) + b);
    }
  }
}

/**
 * wp [kh][kw][inC][outC] from w [o × c × kh × kw]: forward, inC = c and outC = o, wp[ki][kj][c][o]
 * = w[o][c][ki][kj]; for the input gradient (flip), inC = o and outC = c, wp[a][b][o][c] =
 * w[o][c][kh−1−a][kw−1−b].
 */
function packKernel(w: usize, wp: usize, o: i32, c: i32, kh: i32, kw: i32, flip: bool): void {
  for (let oi = 0; oi < o; oi++) {
    for (let ci = 0; ci < c; ci++) {
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++) {
          const v = load<f32>(w + bytes(((oi * c + ci) * kh + a) * kw + b));
          const at = flip ? (((kh - 1 - a) * kw + (kw - 1 - b)) * o + oi) * c + ci : ((a * kw + b) * c + ci) * o + oi;
          store<f32>(wp + bytes(at), v);
        }
      }
    }
  }
}

// The blocks: outputs o0 … o0+T−1 at positions x and x+1 of row y (x+1 only when `pair`; a lone
// last position runs the pair's loop with both halves on the same pixels and stores one). Taps:
// rows kiLo … kiHi−1 exactly; columns kjLo … kjHi−1 the union of the two positions' ranges, the
// margins supplying the zeros the one position does not see. Separate functions so that each keeps
// its own accumulators in registers.

function block4(xs0: usize, ws0: usize, rowStride: usize, run: i32, kiLo: i32, kiHi: i32, wRow: usize, ob: usize, second: usize, d: usize, pairAt: usize): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  for (let ki = kiLo; ki < kiHi; ki++) {
    let xs = xs0 + <usize>(ki - kiLo) * rowStride;
    let ws = ws0 + <usize>(ki - kiLo) * wRow;
    const end = xs + bytes(run * 4);
    while (xs < end) {
      const v = v128.load(xs), u = v128.load(xs + second);
      let s = v128.load32_splat(ws); a0 = madd(a0, v, s); b0 = madd(b0, u, s);
      s = v128.load32_splat(ws, 4); a1 = madd(a1, v, s); b1 = madd(b1, u, s);
      s = v128.load32_splat(ws, 8); a2 = madd(a2, v, s); b2 = madd(b2, u, s);
      s = v128.load32_splat(ws, 12); a3 = madd(a3, v, s); b3 = madd(b3, u, s);
      xs += 16; ws += ob;
    }
  }
  v128.store(d, a0); v128.store(d, a1, 16); v128.store(d, a2, 32); v128.store(d, a3, 48);
  if (pairAt != 0) {
    v128.store(pairAt, b0); v128.store(pairAt, b1, 16); v128.store(pairAt, b2, 32); v128.store(pairAt, b3, 48);
  }
}

function block2(xs0: usize, ws0: usize, rowStride: usize, run: i32, kiLo: i32, kiHi: i32, wRow: usize, ob: usize, second: usize, d: usize, pairAt: usize): void {
  let a0 = f32x4.splat(0), a1 = a0, b0 = a0, b1 = a0;
  for (let ki = kiLo; ki < kiHi; ki++) {
    let xs = xs0 + <usize>(ki - kiLo) * rowStride;
    let ws = ws0 + <usize>(ki - kiLo) * wRow;
    const end = xs + bytes(run * 4);
    while (xs < end) {
      const v = v128.load(xs), u = v128.load(xs + second);
      let s = v128.load32_splat(ws); a0 = madd(a0, v, s); b0 = madd(b0, u, s);
      s = v128.load32_splat(ws, 4); a1 = madd(a1, v, s); b1 = madd(b1, u, s);
      xs += 16; ws += ob;
    }
  }
  v128.store(d, a0); v128.store(d, a1, 16);
  if (pairAt != 0) { v128.store(pairAt, b0); v128.store(pairAt, b1, 16); }
}

/** Outputs o0, o0+1 at four neighbouring positions x … x+3 (all present): 8 accumulators again. */
function block2x4(xs0: usize, ws0: usize, rowStride: usize, run: i32, kiLo: i32, kiHi: i32, wRow: usize, ob: usize, pixel: usize, d: usize, outPixel: usize): void {
  let a0 = f32x4.splat(0), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, e0 = a0, e1 = a0;
  for (let ki = kiLo; ki < kiHi; ki++) {
    let xs = xs0 + <usize>(ki - kiLo) * rowStride;
    let ws = ws0 + <usize>(ki - kiLo) * wRow;
    const end = xs + bytes(run * 4);
    while (xs < end) {
      const v = v128.load(xs), u = v128.load(xs + pixel), t = v128.load(xs + 2 * pixel), q = v128.load(xs + 3 * pixel);
      let s = v128.load32_splat(ws); a0 = madd(a0, v, s); b0 = madd(b0, u, s); c0 = madd(c0, t, s); e0 = madd(e0, q, s);
      s = v128.load32_splat(ws, 4); a1 = madd(a1, v, s); b1 = madd(b1, u, s); c1 = madd(c1, t, s); e1 = madd(e1, q, s);
      xs += 16; ws += ob;
    }
  }
  v128.store(d, a0); v128.store(d, a1, 16);
  v128.store(d + outPixel, b0); v128.store(d + outPixel, b1, 16);
  v128.store(d + 2 * outPixel, c0); v128.store(d + 2 * outPixel, c1, 16);
  v128.store(d + 3 * outPixel, e0); v128.store(d + 3 * outPixel, e1, 16);
}

function block1(xs0: usize, ws0: usize, rowStride: usize, run: i32, kiLo: i32, kiHi: i32, wRow: usize, ob: usize, second: usize, d: usize, pairAt: usize): void {
  let a0 = f32x4.splat(0), b0 = a0;
  for (let ki = kiLo; ki < kiHi; ki++) {
    let xs = xs0 + <usize>(ki - kiLo) * rowStride;
    let ws = ws0 + <usize>(ki - kiLo) * wRow;
    const end = xs + bytes(run * 4);
    while (xs < end) {
      const v = v128.load(xs), u = v128.load(xs + second);
      const s = v128.load32_splat(ws); a0 = madd(a0, v, s); b0 = madd(b0, u, s);
      xs += 16; ws += ob;
    }
  }
  v128.store(d, a0);
  if (pairAt != 0) v128.store(pairAt, b0);
}

/** dst [ho][wo][outC][4] = the lanes correlation of src [h][w + 2·pw][inC][4] with wp (see the top). */
function correlate(src: usize, wp: usize, dst: usize, inC: i32, h: i32, w: i32, outC: i32, kh: i32, kw: i32, ph: i32, pw: i32): void {
  const ho = h + 2 * ph - kh + 1, wo = w + 2 * pw - kw + 1;
  const pixel = bytes(inC * 4);
  const rowStride = <usize>(w + 2 * pw) * pixel;
  const ob = bytes(outC);
  const wRow = <usize>(kw * inC) * ob;
  const outPixel = bytes(outC * 4);
  let o0 = 0;
  while (o0 < outC) {
    const t = outC - o0 >= 4 ? 4 : outC - o0 >= 2 ? 2 : 1;
    for (let y = 0; y < ho; y++) {
      const kiLo = max(0, ph - y), kiHi = min(kh, h + ph - y);
      let x = 0;
      // Two outputs take four positions at a time (LeNet-5's input gradient: 6 = 4 + 2 channels);
      // in pairs they would keep only 4 accumulators, too few to hide the multiply-add latency.
      if (t == 2 && kiHi > kiLo) {
        for (; x + 4 <= wo; x += 4) {
          const kjLo = max(0, pw - x - 3), kjHi = min(kw, w + pw - x);
          if (kjHi <= kjLo) break;
          block2x4(src + <usize>(y + kiLo - ph) * rowStride + <usize>(x + kjLo) * pixel,
            wp + <usize>kiLo * wRow + <usize>(kjLo * inC) * ob + bytes(o0), rowStride, (kjHi - kjLo) * inC,
            kiLo, kiHi, wRow, ob, pixel, dst + <usize>(y * wo + x) * outPixel + bytes(o0 * 4), outPixel);
        }
      }
      for (; x < wo; x += 2) {
        const pair = x + 1 < wo;
        const kjLo = max(0, pw - x - (pair ? 1 : 0)), kjHi = min(kw, w + pw - x);
        const run = (kjHi - kjLo) * inC;
        const xs0 = src + <usize>(y + kiLo - ph) * rowStride + <usize>(x + kjLo) * pixel;
        const ws0 = wp + <usize>kiLo * wRow + <usize>(kjLo * inC) * ob + bytes(o0);
        const d = dst + <usize>(y * wo + x) * outPixel + bytes(o0 * 4);
        const second: usize = pair ? pixel : 0;
        const pairAt: usize = pair ? d + outPixel : 0;
        if (kiHi <= kiLo || run <= 0) {
          // No tap reaches this position (padding at least the kernel): zeros.
          for (let j = 0; j < t; j++) {
            v128.store(d + bytes(j * 4), f32x4.splat(0));
            if (pair) v128.store(pairAt + bytes(j * 4), f32x4.splat(0));
          }
          continue;
        }
        if (t == 4) block4(xs0, ws0, rowStride, run, kiLo, kiHi, wRow, ob, second, d, pairAt);
        else if (t == 2) block2(xs0, ws0, rowStride, run, kiLo, kiHi, wRow, ob, second, d, pairAt);
        else block1(xs0, ws0, rowStride, run, kiLo, kiHi, wRow, ob, second, d, pairAt);
      }
    }
    o0 += t;
  }
}

/**
 * The lanes convolution of n images x [n × inC × h × w] into y [n × outC × ho × wo] (+ bias), the
 * kernel already packed at ws; groups of four images go through the src and dst buffers after it.
 */
function lanesRun(
  x: usize, y: usize, bias: usize, ws: usize,
  n: i32, inC: i32, h: i32, w: i32, outC: i32, kh: i32, kw: i32, ph: i32, pw: i32,
): void {
  const ho = h + 2 * ph - kh + 1, wo = w + 2 * pw - kw + 1;
  const src = ws + bytes(round4(kh * kw * inC * outC));
  const srcFloats = h * (w + 2 * pw) * inC * 4;
  const dst = src + bytes(srcFloats);
  memory.fill(src, 0, bytes(srcFloats)); // the margins; interleave rewrites every interior pixel
  const image = inC * h * w, outImage = outC * ho * wo;
  for (let n0 = 0; n0 < n; n0 += 4) {
    const m = min(4, n - n0);
    interleave(x + bytes(n0 * image), m, inC, h, w, pw, src);
    correlate(src, ws, dst, inC, h, w, outC, kh, kw, ph, pw);
    deinterleave(dst, m, outC, ho * wo, bias, y + bytes(n0 * outImage));
  }
}

/** y = conv2d(x, w) + bias for a geometry lanesForward accepts (ws: lanesWorkspaceFloats). */
export function conv2dForwardLanes(
  x: usize, w: usize, bias: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, ph: i32, pw: i32,
): void {
  packKernel(w, ws, o, c, kh, kw, false);
  lanesRun(x, y, bias, ws, n, c, h, wd, o, kh, kw, ph, pw);
}

/** dx (overwritten) for upstream dy, for a geometry lanesInputGrad accepts (ws: lanesWorkspaceFloats). */
export function conv2dInputGradLanes(
  w: usize, dy: usize, dx: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, ph: i32, pw: i32,
): void {
  const ho = h + 2 * ph - kh + 1, wo = wd + 2 * pw - kw + 1;
  packKernel(w, ws, o, c, kh, kw, true);
  lanesRun(dy, dx, 0, ws, n, o, ho, wo, c, kh, kw, kh - 1 - ph, kw - 1 - pw);
}

// ---- weight gradient ----
// dW[oi][t] for tap t = (ci, ki, kj) is Σ_y Σ_x dy[oi][y][x] · xp[ci][y + ki][x + kj] over a
// zero-padded image. On lanes, with the image interleaved as src [hp][wp][c][4] and dy as
// dy4 [ho][wo][o][4], each block of 2 filters × 4 taps keeps 8 vector accumulators over every
// position of a group (2 loads of dy, 4 of src, 8 multiply-adds per position), then sums their
// lanes. The taps past a multiple of 4 go one at a time (2 filters × 1 tap): padding them to a
// block of 4 spent LeNet conv1's time on 3 thrown-away taps per filter pair.

/** dW block: filters o0, o0+1 (o0+1 skipped when `two` is false) × taps t … t+3 of one group. */
function weightGradBlock(src: usize, dy4: usize, offs: usize, t: i32, o0: i32, two: bool, o: i32, pixel: usize, ho: i32, wo: i32, wp: i32, out: usize, k: i32, first: bool): void {
  const opix = bytes(o * 4);
  const f0 = <usize>load<i32>(offs + bytes(t)), f1 = <usize>load<i32>(offs + bytes(t + 1));
  const f2 = <usize>load<i32>(offs + bytes(t + 2)), f3 = <usize>load<i32>(offs + bytes(t + 3));
  const second: usize = two ? 16 : 0;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  for (let y = 0; y < ho; y++) {
    let xs = src + <usize>(y * wp) * pixel;
    let d = dy4 + <usize>(y * wo) * opix + bytes(o0 * 4);
    const end = xs + <usize>wo * pixel;
    while (xs < end) {
      const g0 = v128.load(d), g1 = v128.load(d + second);
      const x0 = v128.load(xs + f0), x1 = v128.load(xs + f1), x2 = v128.load(xs + f2), x3 = v128.load(xs + f3);
      a0 = madd(a0, g0, x0); a1 = madd(a1, g0, x1); a2 = madd(a2, g0, x2); a3 = madd(a3, g0, x3);
      b0 = madd(b0, g1, x0); b1 = madd(b1, g1, x1); b2 = madd(b2, g1, x2); b3 = madd(b3, g1, x3);
      xs += pixel; d += opix;
    }
  }
  const r0 = out + bytes(o0 * k + t);
  putLanes(r0, a0, first); putLanes(r0 + 4, a1, first); putLanes(r0 + 8, a2, first); putLanes(r0 + 12, a3, first);
  if (two) {
    const r1 = r0 + bytes(k);
    putLanes(r1, b0, first); putLanes(r1 + 4, b1, first); putLanes(r1 + 8, b2, first); putLanes(r1 + 12, b3, first);
  }
}

/** dW of filters o0, o0+1 (o0+1 skipped when `two` is false) × the one tap t, of one group. */
function weightGradTap(src: usize, dy4: usize, offs: usize, t: i32, o0: i32, two: bool, o: i32, pixel: usize, ho: i32, wo: i32, wp: i32, out: usize, k: i32, first: bool): void {
  const opix = bytes(o * 4);
  const f = <usize>load<i32>(offs + bytes(t));
  const second: usize = two ? 16 : 0;
  // Two chains per filter (even and odd positions): one would wait on the multiply-add's latency.
  let a0 = f32x4.splat(0), a1 = a0, b0 = a0, b1 = a0;
  for (let y = 0; y < ho; y++) {
    let xs = src + <usize>(y * wp) * pixel + f;
    let d = dy4 + <usize>(y * wo) * opix + bytes(o0 * 4);
    let x = 0;
    for (; x + 2 <= wo; x += 2) {
      const x0 = v128.load(xs), x1 = v128.load(xs + pixel);
      a0 = madd(a0, v128.load(d), x0); b0 = madd(b0, v128.load(d + second), x0);
      a1 = madd(a1, v128.load(d + opix), x1); b1 = madd(b1, v128.load(d + opix + second), x1);
      xs += pixel << 1; d += opix << 1;
    }
    if (x < wo) {
      const x0 = v128.load(xs);
      a0 = madd(a0, v128.load(d), x0); b0 = madd(b0, v128.load(d + second), x0);
    }
  }
  const r0 = out + bytes(o0 * k + t);
  putLanes(r0, f32x4.add(a0, a1), first);
  if (two) putLanes(r0 + bytes(k), f32x4.add(b0, b1), first);
}

/** dst = (first ? 0 : dst) + the sum of v's four lanes. */
// @ts-ignore: decorator
@inline function putLanes(dst: usize, v: v128, first: bool): void {
  const s = hsum(v);
  store<f32>(dst, first ? s : load<f32>(dst) + s);
}

/**
 * The weight gradient [o × c·kh·kw] of groups g0 … g1−1 (four images each; g1 past the batch: to
 * its end) for a geometry lanesWeightGrad accepts. partialStride 0: each group's sums are added to
 * dw, the first group's stored; otherwise group g's are stored alone at dw + g·partialStride floats
 * (threads then share the groups; conv.ts sumPartials adds them up in the same order).
 */
export function conv2dWeightGradLanes(
  x: usize, dy: usize, dw: usize, partialStride: i32, ws: usize, g0: i32, g1: i32,
  n: i32, c: i32, h: i32, w: i32, o: i32, kh: i32, kw: i32, ph: i32, pw: i32,
): void {
  const hp = h + 2 * ph, wp = w + 2 * pw;
  const ho = hp - kh + 1, wo = wp - kw + 1;
  const k = c * kh * kw;
  const offs = ws;
  const src = offs + bytes(round4(k));
  const srcFloats = hp * wp * c * 4;
  const dy4 = src + bytes(srcFloats);
  const pixel = bytes(c * 4);
  for (let t = 0; t < k; t++) {
    const ci = t / (kh * kw), ki = (t / kw) % kh, kj = t % kw;
    store<i32>(offs + bytes(t), ((ki * wp + kj) * c + ci) * 16);
  }
  memory.fill(src, 0, bytes(srcFloats)); // the margins; interleave rewrites every interior pixel
  const image = c * h * w, dyImage = o * ho * wo;
  const start = g0 * 4, last = <i32>min<i64>(<i64>n, <i64>g1 * 4);
  for (let n0 = start; n0 < last; n0 += 4) {
    const m = min(4, last - n0);
    interleave(x + bytes(n0 * image), m, c, h, w, pw, src + bytes(ph * wp * c * 4));
    interleave(dy + bytes(n0 * dyImage), m, o, ho, wo, 0, dy4);
    const out = partialStride == 0 ? dw : dw + bytes((n0 / 4) * partialStride);
    const first = partialStride != 0 || n0 == 0;
    const k4 = k & ~3;
    for (let o0 = 0; o0 < o; o0 += 2) {
      const two = o0 + 1 < o;
      for (let t = 0; t < k4; t += 4) weightGradBlock(src, dy4, offs, t, o0, two, o, pixel, ho, wo, wp, out, k, first);
      for (let t = k4; t < k; t++) weightGradTap(src, dy4, offs, t, o0, two, o, pixel, ho, wo, wp, out, k, first);
    }
  }
}
