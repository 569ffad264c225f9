// The transforms of Winograd F(4×4, 3×3), which winograd.ts runs for wide 3×3, stride-1, padding-1
// convolutions (forward pass, input gradient and weight gradient, factorised as it explains for
// F(2×2, 3×3)). A tile is 4×4 outputs from a 6×6 window; with interpolation points 0, ±1, ±2, ∞
//   V = Bᵀ·d·B (6×6)   U = G·g·Gᵀ (6×6)   Y = Aᵀ·(U ⊙ V)·A (4×4)
// a tile costs 36 multiply-adds per (filter, channel) pair for 16 outputs: 2.25 per output,
// against F(2×2, 3×3)'s 4 and the direct convolution's 9. The price is rounding: G holds sixths
// and twenty-fourths and Bᵀ, Aᵀ entries up to 8, so the error is about ten times F(2×2, 3×3)'s
// (largest errors against float64 on ResNet-18-like layers: 1.5e-5–1e-4 of the outputs' RMS;
// F(2×2, 3×3) 1.5e-6–3.5e-6; the direct sum 5e-7).
// Bits do not depend on the thread count, for the reasons winograd.ts gives.
import { bytes, copyInterior, paddedRows, paddedWidth, planeStride, put, putLanes, rowTransformWidth, tap, tilesOf } from "./winograd-common";

// ---- the one-dimensional transforms, four lanes at a time ----

// Bᵀ·d for d0 … d5:
//   (4d0 − 5d2 + d4, (d3 + d4) − 4(d1 + d2), (d4 − d3) + 4(d1 − d2),
//    (d4 − d2) + 2(d3 − d1), (d4 − d2) − 2(d3 − d1), 4d1 − 5d3 + d5)
// Written as six functions (one per output) so that callers keep their inputs in registers.

// @ts-ignore: decorator
@inline function b0(d0: v128, d2: v128, d4: v128): v128 {
  return f32x4.add(f32x4.sub(f32x4.mul(d0, f32x4.splat(4)), f32x4.mul(d2, f32x4.splat(5))), d4);
}

// @ts-ignore: decorator
@inline function b1(d1: v128, d2: v128, d3: v128, d4: v128): v128 {
  return f32x4.sub(f32x4.add(d3, d4), f32x4.mul(f32x4.add(d1, d2), f32x4.splat(4)));
}

// @ts-ignore: decorator
@inline function b2(d1: v128, d2: v128, d3: v128, d4: v128): v128 {
  return f32x4.add(f32x4.sub(d4, d3), f32x4.mul(f32x4.sub(d1, d2), f32x4.splat(4)));
}

// @ts-ignore: decorator
@inline function b3(d1: v128, d2: v128, d3: v128, d4: v128): v128 {
  return f32x4.add(f32x4.sub(d4, d2), f32x4.mul(f32x4.sub(d3, d1), f32x4.splat(2)));
}

// @ts-ignore: decorator
@inline function b4(d1: v128, d2: v128, d3: v128, d4: v128): v128 {
  return f32x4.sub(f32x4.sub(d4, d2), f32x4.mul(f32x4.sub(d3, d1), f32x4.splat(2)));
}

// @ts-ignore: decorator
@inline function b5(d1: v128, d3: v128, d5: v128): v128 {
  return f32x4.add(f32x4.sub(f32x4.mul(d1, f32x4.splat(4)), f32x4.mul(d3, f32x4.splat(5))), d5);
}

/** Bᵀ·(d0 … d5) stored at dst, dst + step, … (bytes): `count` lanes each. */
// @ts-ignore: decorator
@inline function putB(dst: usize, step: usize, d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128, count: i32): void {
  put(dst, b0(d0, d2, d4), count);
  put(dst + step, b1(d1, d2, d3, d4), count);
  put(dst + 2 * step, b2(d1, d2, d3, d4), count);
  put(dst + 3 * step, b3(d1, d2, d3, d4), count);
  put(dst + 4 * step, b4(d1, d2, d3, d4), count);
  put(dst + 5 * step, b5(d1, d3, d5), count);
}

// Aᵀ·m for m0 … m5: (m0 + m1 + m2 + m3 + m4, (m1 − m2) + 2(m3 − m4), (m1 + m2) + 4(m3 + m4),
// (m1 − m2) + 8(m3 − m4) + m5).

/** Aᵀ·(m0 … m5) (+ bias) as four vectors at dst, dst + 16, … */
// @ts-ignore: decorator
@inline function storeA(dst: usize, m0: v128, m1: v128, m2: v128, m3: v128, m4: v128, m5: v128, bias: v128): void {
  const sum12 = f32x4.add(m1, m2), dif12 = f32x4.sub(m1, m2);
  const sum34 = f32x4.add(m3, m4), dif34 = f32x4.sub(m3, m4);
  v128.store(dst, f32x4.add(f32x4.add(f32x4.add(m0, sum12), sum34), bias));
  v128.store(dst, f32x4.add(f32x4.add(dif12, f32x4.mul(dif34, f32x4.splat(2))), bias), 16);
  v128.store(dst, f32x4.add(f32x4.add(sum12, f32x4.mul(sum34, f32x4.splat(4))), bias), 32);
  v128.store(dst, f32x4.add(f32x4.add(f32x4.add(dif12, f32x4.mul(dif34, f32x4.splat(8))), m5), bias), 48);
}

// ---- the kernels: U = G·g·Gᵀ ----

// G = [[1/4, 0, 0], [−1/6, −1/6, −1/6], [−1/6, 1/6, −1/6], [1/24, 1/12, 1/6], [1/24, −1/12, 1/6], [0, 0, 1]]

/** G·(x0, x1, x2) stored as six vectors at dst, dst + step, … (`count` lanes each). */
// @ts-ignore: decorator
@inline function putG(dst: usize, step: usize, x0: v128, x1: v128, x2: v128, count: i32): void {
  const s02 = f32x4.add(x0, x2);
  const q0 = f32x4.mul(x0, f32x4.splat(1.0 / 24)), q1 = f32x4.mul(x1, f32x4.splat(1.0 / 12)), q2 = f32x4.mul(x2, f32x4.splat(1.0 / 6));
  put(dst, f32x4.mul(x0, f32x4.splat(0.25)), count);
  put(dst + step, f32x4.mul(f32x4.add(s02, x1), f32x4.splat(-1.0 / 6)), count);
  put(dst + 2 * step, f32x4.mul(f32x4.sub(s02, x1), f32x4.splat(-1.0 / 6)), count);
  put(dst + 3 * step, f32x4.add(f32x4.add(q0, q1), q2), count);
  put(dst + 4 * step, f32x4.add(f32x4.sub(q0, q1), q2), count);
  put(dst + 5 * step, x2, count);
}

/**
 * u[ξ][r][s] (36 planes of rows × cols, planeStride apart) = (G·g·Gᵀ)[ξ] for the kernel g of (r, s)
 * of w [rows × cols × 3 × 3] (rows `wCols` kernels apart), rotated by 180° when `flip`; four s per
 * vector. G·g goes through `tmp` (18 vectors: 6 rows × 3 columns), then each row through G again.
 */
export function transformKernels4(w: usize, u: usize, tmp: usize, rows: i32, cols: i32, wCols: i32, flip: bool): void {
  const step = bytes(planeStride(rows * cols));
  const lane: usize = 36;
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < cols; s += 4) {
      const g = w + bytes((r * wCols + s) * 9);
      const count = min(4, cols - s);
      const last = count - 1;
      // Column j of G·g at tmp + 16·j, its rows 48 bytes apart.
      for (let j = 0; j < 3; j++) {
        putG(tmp + <usize>(16 * j), 48, tap(g, lane, last, flip, j), tap(g, lane, last, flip, 3 + j), tap(g, lane, last, flip, 6 + j), 4);
      }
      const dst = u + bytes(r * cols + s);
      for (let i = 0; i < 6; i++) {
        const row = tmp + <usize>(48 * i);
        putG(dst + <usize>(6 * i) * step, step, v128.load(row), v128.load(row, 16), v128.load(row, 32), count);
      }
    }
  }
}

// ---- the tiles ----

/**
 * The transformed tiles of one plane x [h × w] (padding 1): tile (ty, tx) to float ty·tw + tx of the
 * 36 rows v + ξ·step (bytes). As in winograd.ts: a padded copy (margins zeroed once per call), Bᵀ
 * along each padded row (six values per tile, in rowT), then down the columns. Four tiles along a
 * row are 20 columns: five loads, transposed so that lane q of column j is tile q's j-th pixel.
 */
export function inputTiles4(x: usize, h: i32, w: i32, pad: usize, rowT: usize, v: usize, step: usize): void {
  const th = tilesOf(h, 4), tw = tilesOf(w, 4);
  const wp = paddedWidth(w, 4), hp = paddedRows(h, 4);
  copyInterior(x, h, w, pad, wp);
  const rw = rowTransformWidth(w, 4);
  const rwBytes = bytes(rw);
  for (let r = 0; r < hp; r++) {
    const row = pad + bytes(r * wp);
    const out = rowT + bytes(r * 6 * rw);
    for (let tx = 0; tx < tw; tx += 4) {
      const p = row + bytes(4 * tx);
      const l0 = v128.load(p), l1 = v128.load(p, 16), l2 = v128.load(p, 32), l3 = v128.load(p, 48), l4 = v128.load(p, 64);
      const t0 = v128.shuffle<f32>(l0, l1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(l0, l1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(l2, l3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(l2, l3, 2, 6, 3, 7);
      const d0 = v128.shuffle<f32>(t0, t2, 0, 1, 4, 5), d1 = v128.shuffle<f32>(t0, t2, 2, 3, 6, 7);
      const d2 = v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), d3 = v128.shuffle<f32>(t1, t3, 2, 3, 6, 7);
      const d4 = v128.shuffle<f32>(d0, l4, 1, 2, 3, 4), d5 = v128.shuffle<f32>(d1, l4, 1, 2, 3, 5);
      putB(out + bytes(tx), rwBytes, d0, d1, d2, d3, d4, d5, 4);
    }
  }
  const rowBytes = bytes(6 * rw);
  for (let ty = 0; ty < th; ty++) {
    const r0 = rowT + <usize>(4 * ty) * rowBytes;
    for (let tx = 0; tx < tw; tx += 4) {
      const count = min(4, tw - tx);
      const dst = v + bytes(ty * tw + tx);
      for (let e = 0; e < 6; e++) {
        const q = r0 + bytes(e * rw + tx);
        putB(dst + <usize>e * step, 6 * step,
          v128.load(q), v128.load(q + rowBytes), v128.load(q + 2 * rowBytes),
          v128.load(q + 3 * rowBytes), v128.load(q + 4 * rowBytes), v128.load(q + 5 * rowBytes), count);
      }
    }
  }
}

/**
 * One output plane y [h × w] (+ bias) from its transformed tiles (tile (ty, tx) at float ty·tw + tx
 * of the 36 rows m + ξ·step): Aᵀ down the columns into `tmp` (4 rows × 6 columns of vectors), then
 * along the rows; lane q then holds tile q's four outputs of a row, which a 4 × 4 transpose turns
 * into four runs of the output row.
 */
export function outputTiles4(m: usize, step: usize, y: usize, h: i32, w: i32, bias: f32, tmp: usize): void {
  const th = tilesOf(h, 4), tw = tilesOf(w, 4);
  const zero = f32x4.splat(0), vb = f32x4.splat(bias);
  const rowsOut = tmp + 4 * 6 * 16;
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx += 4) {
      const count = min(4, tw - tx);
      const src = m + bytes(ty * tw + tx);
      // Column e: rows a = 0 … 3 of Aᵀ·M at tmp + 96·a + 16·e … stored by storeA as 4 consecutive
      // vectors, so they go to a column-major scratch first and are read back by rows.
      for (let e = 0; e < 6; e++) {
        const c = src + <usize>e * step;
        storeA(tmp + <usize>(64 * e), v128.load(c), v128.load(c + 6 * step), v128.load(c + 12 * step),
          v128.load(c + 18 * step), v128.load(c + 24 * step), v128.load(c + 30 * step), zero);
      }
      for (let a = 0; a < 4; a++) {
        const row = 4 * ty + a;
        if (row >= h) break;
        const s = tmp + <usize>(16 * a);
        storeA(rowsOut, v128.load(s), v128.load(s, 64), v128.load(s, 128), v128.load(s, 192), v128.load(s, 256), v128.load(s, 320), vb);
        const y0 = v128.load(rowsOut), y1 = v128.load(rowsOut, 16), y2 = v128.load(rowsOut, 32), y3 = v128.load(rowsOut, 48);
        // Transpose: run q = (y0[q], y1[q], y2[q], y3[q]), outputs 4(tx + q) … 4(tx + q) + 3 of the row.
        const t0 = v128.shuffle<f32>(y0, y1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(y0, y1, 2, 6, 3, 7);
        const t2 = v128.shuffle<f32>(y2, y3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(y2, y3, 2, 6, 3, 7);
        const base = y + bytes(row * w + 4 * tx);
        const cols = w - 4 * tx;
        putRun(base, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5), cols);
        if (count > 1) putRun(base + 16, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), cols - 4);
        if (count > 2) putRun(base + 32, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), cols - 8);
        if (count > 3) putRun(base + 48, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), cols - 12);
      }
    }
  }
}

/** The first min(4, cols) lanes of v at p. */
// @ts-ignore: decorator
@inline function putRun(p: usize, v: v128, cols: i32): void {
  if (cols >= 4) v128.store(p, v);
  else putLanes(p, 4, v, cols);
}

// ---- the weight gradient: ∂g = Gᵀ·Σ_tiles (A·dY·Aᵀ ⊙ V)·G ----

/** A·(z0 … z3) = (z0, Σz, z0 − z1 + z2 − z3, z0 + 2z1 + 4z2 + 8z3, z0 − 2z1 + 4z2 − 8z3, z3) at dst, dst + step, … */
// @ts-ignore: decorator
@inline function putA(dst: usize, step: usize, z0: v128, z1: v128, z2: v128, z3: v128, count: i32): void {
  const s02 = f32x4.add(z0, z2), s13 = f32x4.add(z1, z3);
  const t02 = f32x4.add(z0, f32x4.mul(z2, f32x4.splat(4)));
  const t13 = f32x4.add(f32x4.mul(z1, f32x4.splat(2)), f32x4.mul(z3, f32x4.splat(8)));
  put(dst, z0, count);
  put(dst + step, f32x4.add(s02, s13), count);
  put(dst + 2 * step, f32x4.sub(s02, s13), count);
  put(dst + 3 * step, f32x4.add(t02, t13), count);
  put(dst + 4 * step, f32x4.sub(t02, t13), count);
  put(dst + 5 * step, z3, count);
}

/** Four floats of a dy row from src, of which the first `count` lie inside the plane (the rest read as zero). */
// @ts-ignore: decorator
@inline function loadGradRun(src: usize, count: i32, scratch: usize): v128 {
  if (count >= 4) return v128.load(src);
  for (let j = 0; j < 4; j++) store<f32>(scratch + bytes(j), j < count ? load<f32>(src + bytes(j)) : 0);
  return v128.load(scratch);
}

/**
 * A·dY·Aᵀ for the tiles of one gradient plane dy [h × w] (positions past the plane count as zero):
 * tile (ty, tx) to float ty·tw + tx of the 36 rows mt + ξ·step. Each row of four tiles is loaded as
 * four runs and transposed (lane q: tile q), transformed along the row into `tmp`, then down.
 */
export function gradTiles4(dy: usize, h: i32, w: i32, mt: usize, step: usize, tmp: usize): void {
  const th = tilesOf(h, 4), tw = tilesOf(w, 4);
  const zero = f32x4.splat(0);
  const scratch = tmp + 4 * 6 * 16;
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx += 4) {
      const count = min(4, tw - tx);
      const cols = w - 4 * tx;
      for (let a = 0; a < 4; a++) {
        const row = 4 * ty + a;
        let z0 = zero, z1 = zero, z2 = zero, z3 = zero;
        if (row < h) {
          const src = dy + bytes(row * w + 4 * tx);
          const r0 = loadGradRun(src, cols, scratch);
          const r1 = count > 1 ? loadGradRun(src + 16, cols - 4, scratch) : zero;
          const r2 = count > 2 ? loadGradRun(src + 32, cols - 8, scratch) : zero;
          const r3 = count > 3 ? loadGradRun(src + 48, cols - 12, scratch) : zero;
          const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
          const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
          z0 = v128.shuffle<f32>(t0, t2, 0, 1, 4, 5);
          z1 = v128.shuffle<f32>(t0, t2, 2, 3, 6, 7);
          z2 = v128.shuffle<f32>(t1, t3, 0, 1, 4, 5);
          z3 = v128.shuffle<f32>(t1, t3, 2, 3, 6, 7);
        }
        // Row a of dY·Aᵀ: six vectors at tmp + 96·a.
        putA(tmp + <usize>(96 * a), 16, z0, z1, z2, z3, 4);
      }
      const dst = mt + bytes(ty * tw + tx);
      for (let e = 0; e < 6; e++) {
        const c = tmp + <usize>(16 * e);
        putA(dst + <usize>e * step, 6 * step, v128.load(c), v128.load(c, 96), v128.load(c, 192), v128.load(c, 288), count);
      }
    }
  }
}

// Gᵀ·(z0 … z5): (z0/4 − (z1 + z2)/6 + (z3 + z4)/24, (z2 − z1)/6 + (z3 − z4)/12, (z3 + z4 − z1 − z2)/6 + z5).

/** Gᵀ·(z0 … z5) as three vectors at dst, dst + 16, dst + 32. */
// @ts-ignore: decorator
@inline function storeGt(dst: usize, z0: v128, z1: v128, z2: v128, z3: v128, z4: v128, z5: v128): void {
  const s12 = f32x4.add(z1, z2), s34 = f32x4.add(z3, z4);
  const sixth = f32x4.splat(1.0 / 6);
  v128.store(dst, f32x4.add(f32x4.sub(f32x4.mul(z0, f32x4.splat(0.25)), f32x4.mul(s12, sixth)), f32x4.mul(s34, f32x4.splat(1.0 / 24))));
  v128.store(dst, f32x4.add(f32x4.mul(f32x4.sub(z2, z1), sixth), f32x4.mul(f32x4.sub(z3, z4), f32x4.splat(1.0 / 12))), 16);
  v128.store(dst, f32x4.add(f32x4.mul(f32x4.sub(s34, s12), sixth), z5), 32);
}

/**
 * dw[k][ci] (3×3, rows o0 … o1−1 of dw [o × c × 3 × 3]) = Gᵀ·Z·G for Z = du[ξ][k − o0][ci] (36
 * planes of (o1 − o0) × c, planeStride apart); four channels per vector, Gᵀ·Z through `tmp`.
 */
export function foldKernelGrads4(du: usize, dw: usize, tmp: usize, o0: i32, o1: i32, c: i32): void {
  const step = bytes(planeStride((o1 - o0) * c));
  const out = tmp + 6 * 48;
  for (let k = o0; k < o1; k++) {
    for (let ci = 0; ci < c; ci += 4) {
      const z = du + bytes((k - o0) * c + ci);
      const count = min(4, c - ci);
      // Column e of Gᵀ·Z (3 vectors) at tmp + 48·e.
      for (let e = 0; e < 6; e++) {
        const q = z + <usize>e * step;
        storeGt(tmp + <usize>(48 * e), v128.load(q), v128.load(q + 6 * step), v128.load(q + 12 * step),
          v128.load(q + 18 * step), v128.load(q + 24 * step), v128.load(q + 30 * step));
      }
      const dst = dw + bytes((k * c + ci) * 9);
      for (let a = 0; a < 3; a++) {
        const r = tmp + <usize>(16 * a);
        storeGt(out, v128.load(r), v128.load(r, 48), v128.load(r, 96), v128.load(r, 144), v128.load(r, 192), v128.load(r, 240));
        // Taps (a, 0 … 2) of four kernels, 9 floats apart.
        putLanes(dst + <usize>(12 * a), 36, v128.load(out), count);
        putLanes(dst + <usize>(12 * a + 4), 36, v128.load(out, 16), count);
        putLanes(dst + <usize>(12 * a + 8), 36, v128.load(out, 32), count);
      }
    }
  }
}
