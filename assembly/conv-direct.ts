// Direct forward pass for small stride-1 convolutions that neither Winograd nor the lanes take:
// LeNet-5's conv1 (1 input channel, 5×5 kernel, 6 filters on a 28×28 image padded to 32×32).
// A block holds 3 filters × 12 neighbouring outputs of one row in 9 accumulators; each tap then
// costs three unaligned loads of the (padded) input row and three weight broadcasts for nine
// multiply-adds. The columns past the last block of 12 (4 of conv1's 28) go in blocks of 4
// columns × 3 rows, nine accumulators again. The implicit lowering that ran this layer before
// computed a grid kw − 1 columns wider than the output (14 % more work on conv1), fetched every
// tap's row through a table of offsets, and copied the grid into y afterwards.
//
// Every output sums its taps from 0 in ascending (channel, kernel row, kernel column) order and
// then adds its bias: the implicit lowering's order, so both give the same bits.
import { madd } from "./gemm";

// @ts-ignore: decorator
@inline function bytes(n: i32): usize {
  return <usize>n << 2;
}

/**
 * Filters per block. A block of 3 filters × 12 columns keeps 9 accumulators, 3 input vectors and a
 * broadcast in registers: 6 loads per 9 multiply-adds. 6 filters × 8 columns (12 accumulators, 8
 * loads per 12) left V8 short of registers: 27–31 GFLOP/s on LeNet-5's conv1 against 41 for the
 * implicit lowering, and 38 with 5 filters.
 */
export const DIRECT_FILTERS = 3;

/** o rounded up to whole groups of DIRECT_FILTERS (the blocks below are written out for 3). */
// @ts-ignore: decorator
@inline function groupedFilters(o: i32): i32 {
  return (o + DIRECT_FILTERS - 1) / DIRECT_FILTERS * DIRECT_FILTERS;
}

/** Floats of packed weights: every group of 3 filters as [taps × 3], the last group zero-filled. */
export function directWeightFloats(o: i32, k: i32): i32 {
  return groupedFilters(o) * k;
}

/**
 * Outputs of one row the blocks compute for o filters and wo ≥ 4 columns: filters padded to whole
 * groups, columns in blocks of 12, then of 4, then 4 more ending the row for a rest under 4.
 */
export function directOutputs(o: i32, wo: i32): i32 {
  const wide = wo / 12 * 12;
  return groupedFilters(o) * (wide + ((wo - wide + 3) & ~3));
}

/**
 * wk[g][t][f] = w[(3g + f)·k + t] for groups g of 3 filters, 0 for the filters past o: a tap's three
 * weights are then one contiguous run the blocks broadcast from at fixed offsets.
 */
export function packDirectWeights(w: usize, wk: usize, o: i32, k: i32): void {
  for (let g = 0; g < groupedFilters(o) / DIRECT_FILTERS; g++) {
    for (let t = 0; t < k; t++) {
      const dst = wk + bytes((g * k + t) * DIRECT_FILTERS);
      for (let f = 0; f < DIRECT_FILTERS; f++) {
        const oi = g * DIRECT_FILTERS + f;
        store<f32>(dst + bytes(f), oi < o ? load<f32>(w + bytes(oi * k + t)) : 0);
      }
    }
  }
}

/**
 * yn [o × ho × wo] = the correlation of one image src [c × hp × wp] (already padded: ho = hp − kh + 1,
 * wo = wp − kw + 1, wo ≥ 4) with the packed weights wk, plus the packed biases bk (3 per group, 0 past
 * o). offs holds each tap's offset in src (floats, ascending taps); `sink` is a scratch plane of ho·wo
 * floats that takes the stores of the filters past o in the last group.
 */
export function directForwardImage(
  src: usize, wk: usize, bk: usize, offs: usize, yn: usize, sink: usize,
  o: i32, k: i32, wp: i32, ho: i32, wo: i32,
): void {
  const plane = bytes(ho * wo);
  for (let f0 = 0; f0 < o; f0 += DIRECT_FILTERS) {
    const g = wk + bytes(f0 * k);
    const b = bk + bytes(f0);
    // Each filter's output plane, or the sink for those past o (their weights are zeros).
    const y0 = yn + <usize>f0 * plane;
    const y1 = f0 + 1 < o ? y0 + plane : sink;
    const y2 = f0 + 2 < o ? y0 + 2 * plane : sink;
    const wide = wo / 12 * 12;
    for (let r = 0; r < ho; r++) {
      const row = src + bytes(r * wp);
      for (let j = 0; j < wide; j += 12) block12(row + bytes(j), offs, g, k, b, bytes(r * wo + j), y0, y1, y2);
    }
    // The columns past the blocks of 12, 4 at a time, three rows per block (nine sums again, where
    // one row's block4 keeps three: each multiply-add waits for the one before it on its register,
    // and three chains left conv1's 4 last columns of 28 at a third of the rate of the rest).
    for (let j = wide; j + 4 <= wo; j += 4) columns4(src, offs, g, k, b, y0, y1, y2, j, wp, ho, wo);
    // A rest under 4 takes the 4 columns ending the row, recomputing a few outputs with the same bits.
    if (wo % 4 != 0) columns4(src, offs, g, k, b, y0, y1, y2, wo - 4, wp, ho, wo);
  }
}

/** Columns j … j+3 of every row: block4x3 down the rows, block4 for the last one or two. */
// @ts-ignore: decorator
@inline function columns4(
  src: usize, offs: usize, g: usize, k: i32, b: usize, y0: usize, y1: usize, y2: usize, j: i32, wp: i32, ho: i32, wo: i32,
): void {
  let r = 0;
  for (; r + 3 <= ho; r += 3) block4x3(src + bytes(r * wp + j), bytes(wp), offs, g, k, b, bytes(r * wo + j), bytes(wo), y0, y1, y2);
  for (; r < ho; r++) block4(src + bytes(r * wp + j), offs, g, k, b, bytes(r * wo + j), y0, y1, y2);
}

/** bk[f] = bias[f] for f < o, 0 up to the end of the last group (bias 0: no bias, all 0). */
export function packDirectBiases(bias: usize, bk: usize, o: i32): void {
  for (let f = 0; f < groupedFilters(o); f++) store<f32>(bk + bytes(f), bias != 0 && f < o ? load<f32>(bias + bytes(f)) : 0);
}

// @ts-ignore: decorator
@inline function tap(x: usize, offs: usize, t: i32): usize {
  return x + bytes(load<i32>(offs + bytes(t)));
}

/**
 * Nine sums: a group's 3 filters × 3 vectors of 4 outputs, the vectors `inStep` bytes apart in the
 * input (from `x`) and `outStep` apart in the output (from `at`). One flat loop over the taps
 * through their offsets: with the accumulators live across nested loops over channels and kernel
 * rows, V8 kept some of them in memory. Inlined into the two blocks below with their steps as
 * constants.
 */
// @ts-ignore: decorator
@inline function block9(
  x: usize, inStep: usize, offs: usize, g: usize, k: i32, b: usize, at: usize, outStep: usize, y0: usize, y1: usize, y2: usize,
): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a22 = f32x4.splat(0);
  let wt = g;
  for (let t = 0; t < k; t++) {
    const p = tap(x, offs, t);
    const v0 = v128.load(p), v1 = v128.load(p + inStep), v2 = v128.load(p + 2 * inStep);
    let s = v128.load32_splat(wt);
    a00 = madd(a00, s, v0); a01 = madd(a01, s, v1); a02 = madd(a02, s, v2);
    s = v128.load32_splat(wt, 4);
    a10 = madd(a10, s, v0); a11 = madd(a11, s, v1); a12 = madd(a12, s, v2);
    s = v128.load32_splat(wt, 8);
    a20 = madd(a20, s, v0); a21 = madd(a21, s, v1); a22 = madd(a22, s, v2);
    wt += 4 * DIRECT_FILTERS;
  }
  let bv = v128.load32_splat(b);
  v128.store(y0 + at, f32x4.add(a00, bv)); v128.store(y0 + at + outStep, f32x4.add(a01, bv)); v128.store(y0 + at + 2 * outStep, f32x4.add(a02, bv));
  bv = v128.load32_splat(b, 4);
  v128.store(y1 + at, f32x4.add(a10, bv)); v128.store(y1 + at + outStep, f32x4.add(a11, bv)); v128.store(y1 + at + 2 * outStep, f32x4.add(a12, bv));
  bv = v128.load32_splat(b, 8);
  v128.store(y2 + at, f32x4.add(a20, bv)); v128.store(y2 + at + outStep, f32x4.add(a21, bv)); v128.store(y2 + at + 2 * outStep, f32x4.add(a22, bv));
}

/** Outputs at columns j … j+11 of one row for a group's 3 filters (`x`: the input at row r, column j). */
function block12(x: usize, offs: usize, g: usize, k: i32, b: usize, at: usize, y0: usize, y1: usize, y2: usize): void {
  block9(x, 16, offs, g, k, b, at, 16, y0, y1, y2);
}

/**
 * block12 for 4 columns of three consecutive rows (`x`: the input at row r, column j; rows
 * `rowBytes` apart in the input, `outRow` apart in the output).
 */
function block4x3(
  x: usize, rowBytes: usize, offs: usize, g: usize, k: i32, b: usize, at: usize, outRow: usize, y0: usize, y1: usize, y2: usize,
): void {
  block9(x, rowBytes, offs, g, k, b, at, outRow, y0, y1, y2);
}

/** block12 for 4 columns. */
function block4(x: usize, offs: usize, g: usize, k: i32, b: usize, at: usize, y0: usize, y1: usize, y2: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0);
  let wt = g;
  for (let t = 0; t < k; t++) {
    const v = v128.load(tap(x, offs, t));
    a0 = madd(a0, v128.load32_splat(wt), v);
    a1 = madd(a1, v128.load32_splat(wt, 4), v);
    a2 = madd(a2, v128.load32_splat(wt, 8), v);
    wt += 4 * DIRECT_FILTERS;
  }
  v128.store(y0 + at, f32x4.add(a0, v128.load32_splat(b)));
  v128.store(y1 + at, f32x4.add(a1, v128.load32_splat(b, 4)));
  v128.store(y2 + at, f32x4.add(a2, v128.load32_splat(b, 8)));
}
