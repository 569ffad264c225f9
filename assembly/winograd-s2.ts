// The transforms of minimal filtering for 3×3 convolutions with stride 2 and padding 1
// (ResNet-18-CIFAR's three down-sampling convolutions), on the polyphase split of the input;
// winograd.ts runs the three passes with them.
//
// Along one axis an output is y[i] = w0·x[2i−1] + w1·x[2i] + w2·x[2i+1]: the odd input samples
// meet the two outer taps in a stride-1, 2-tap correlation, the even samples meet the middle tap
// alone. Two neighbouring outputs read five samples s0 … s4 = x[4t−1 … 4t+3]; Winograd's F(2, 2)
// does the odd part with 3 products instead of 4 and the even part needs its 2:
//   V = (s0 − s2, s2, s4 − s2, s1, s3)   U = (w0, w0 + w2, w2, w1, w1)   P = U ⊙ V
//   y[2t] = P0 + P1 + P3                 y[2t+1] = P1 + P2 + P4
// 5 products for 2 outputs instead of 6. In two dimensions a tile of 2×2 outputs reads a 5×5
// window (windows 4 apart, overlapping by one) and costs 25 multiply-adds per (filter, channel)
// pair instead of 36. As in winograd.ts, each of the 25 positions ξ is one matrix product over the
// channels, M[ξ] [o × tiles] = U[ξ] [o × c] · V[ξ] [c × tiles], where the time goes; the transforms
// only add and subtract.
//
// The input gradient runs the same way on dy. Along an axis dx[4t … 4t+3] reads dy[2t … 2t+2]
// (e0, e1, e2; dy is zero past its end) and the kernel rotated by 180°:
//   V = (e0 − e1, e1, e2 − e1, e0, e1)   U = (w2, w0 + w2, w0, w1, w1)
//   dx[4t … 4t+3] = (P3, P0 + P1, P4, P1 + P2)
// so a tile is 4×4 input-gradient values from a 3×3 window of dy, again 25 products where the
// transposed convolution takes 36. The weight gradient transposes the forward pass: per tile
// ∂P = (dy0, dy0 + dy1, dy1, dy0, dy1) along each axis, ∂U[ξ] = Σ_tiles ∂P[ξ] · V[ξ], and
// ∂w = (∂U0 + ∂U1, ∂U3 + ∂U4, ∂U1 + ∂U2) along each axis.
//
// Bits: as winograd.ts explains for its passes, an output is the transform of running sums in a fixed
// order whichever thread or chunk computes it, so results do not depend on the thread count. They
// differ from the direct convolution's within float rounding (the transforms only reassociate sums).
import { bytes, copyInterior, copyRows, planeStride, put, putLanes, putOutputRow, round4, SLACK, tap, tilesOf } from "./winograd-common";

/** Row length of the forward pass's padded plane: a margin of 1, whole windows, and the last group's loads. */
// @ts-ignore: decorator
@inline function paddedWidth(w: i32): i32 {
  return 4 * round4(tilesOf(w, 4)) + 4;
}

// @ts-ignore: decorator
@inline function paddedRows(h: i32): i32 {
  return 4 * tilesOf(h, 4) + 1;
}

/** Floats of the padded plane (the input gradient's plane of dy is smaller), for an input of h × w. */
export function stride2PlaneFloats(h: i32, w: i32): i32 {
  return paddedRows(h) * paddedWidth(w) + SLACK;
}

/** Floats of the padded plane's row transforms: five per window. */
export function stride2RowTransformFloats(h: i32, w: i32): i32 {
  return paddedRows(h) * 5 * round4(tilesOf(w, 4));
}

// ---- the kernels: U = G·g·Gᵀ with G's rows (1 0 0), (1 0 1), (0 0 1), (0 1 0), (0 1 0); back: Gᵀ·∂U·G ----

/** (x0, x1, x2) ↦ (x0, x0 + x2, x2, x1, x1): one side of G, stored `step` bytes apart. */
// @ts-ignore: decorator
@inline function putSpread(dst: usize, step: usize, x0: v128, x1: v128, x2: v128, count: i32): void {
  put(dst, x0, count);
  put(dst + step, f32x4.add(x0, x2), count);
  put(dst + 2 * step, x2, count);
  put(dst + 3 * step, x1, count);
  put(dst + 4 * step, x1, count);
}

/**
 * u[ξ][r][s] (planes of rows × cols) = (G·g·Gᵀ)[ξ] for the kernel g of (r, s) of w [rows × cols ×
 * 3 × 3], whose rows are `wCols` kernels apart; `flip` reads each kernel rotated by 180°. Four s
 * per vector, as winograd.ts's transformKernels.
 */
export function transformKernelsStride2(w: usize, u: usize, rows: i32, cols: i32, wCols: i32, flip: bool): void {
  const step = bytes(planeStride(rows * cols));
  const lane: usize = 36;
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < cols; s += 4) {
      const g = w + bytes((r * wCols + s) * 9);
      const count = min(4, cols - s);
      const last = count - 1;
      const g00 = tap(g, lane, last, flip, 0), g01 = tap(g, lane, last, flip, 1), g02 = tap(g, lane, last, flip, 2);
      const g10 = tap(g, lane, last, flip, 3), g11 = tap(g, lane, last, flip, 4), g12 = tap(g, lane, last, flip, 5);
      const g20 = tap(g, lane, last, flip, 6), g21 = tap(g, lane, last, flip, 7), g22 = tap(g, lane, last, flip, 8);
      const dst = u + bytes(r * cols + s);
      putSpread(dst, step, g00, g01, g02, count);
      putSpread(dst + 5 * step, step, f32x4.add(g00, g20), f32x4.add(g01, g21), f32x4.add(g02, g22), count);
      putSpread(dst + 10 * step, step, g20, g21, g22, count);
      putSpread(dst + 15 * step, step, g10, g11, g12, count);
      putSpread(dst + 20 * step, step, g10, g11, g12, count);
    }
  }
}

/** ∂U[i][j] + ∂U[i2][j] (positions ξ = 5i + j, planes `step` bytes apart). */
// @ts-ignore: decorator
@inline function pairSum(z: usize, step: usize, i: i32, i2: i32, j: i32): v128 {
  return f32x4.add(v128.load(z + <usize>(5 * i + j) * step), v128.load(z + <usize>(5 * i2 + j) * step));
}

/** One row of ∂w's three taps from rows i and i2 of ∂U: Gᵀ along the row, for `count` kernels 9 floats apart. */
// @ts-ignore: decorator
@inline function putFoldedRow(dst: usize, z: usize, step: usize, i: i32, i2: i32, count: i32): void {
  const z1 = pairSum(z, step, i, i2, 1);
  putLanes(dst, 36, f32x4.add(pairSum(z, step, i, i2, 0), z1), count);
  putLanes(dst + 4, 36, f32x4.add(pairSum(z, step, i, i2, 3), pairSum(z, step, i, i2, 4)), count);
  putLanes(dst + 8, 36, f32x4.add(z1, pairSum(z, step, i, i2, 2)), count);
}

/**
 * dw[k][ci] (rows o0 … o1−1 of dw [o × c × 3 × 3]) = Gᵀ·Z·G for Z = du[ξ][k − o0][ci] (planes of
 * (o1 − o0) × c). Four channels per vector.
 */
export function foldKernelGradsStride2(du: usize, dw: usize, o0: i32, o1: i32, c: i32): void {
  const step = bytes(planeStride((o1 - o0) * c));
  for (let k = o0; k < o1; k++) {
    for (let ci = 0; ci < c; ci += 4) {
      const z = du + bytes((k - o0) * c + ci);
      const count = min(4, c - ci);
      const dst = dw + bytes((k * c + ci) * 9);
      putFoldedRow(dst, z, step, 0, 1, count);
      putFoldedRow(dst + 12, z, step, 3, 4, count);
      putFoldedRow(dst + 24, z, step, 1, 2, count);
    }
  }
}

// ---- the tiles ----

/** (x0, x1, x2, x3, x4) ↦ V's five values at dst, dst + step, … (bytes): (x0 − x2, x2, x4 − x2, x1, x3). */
// @ts-ignore: decorator
@inline function putWindow(dst: usize, step: usize, x0: v128, x1: v128, x2: v128, x3: v128, x4: v128, count: i32): void {
  put(dst, f32x4.sub(x0, x2), count);
  put(dst + step, x2, count);
  put(dst + 2 * step, f32x4.sub(x4, x2), count);
  put(dst + 3 * step, x1, count);
  put(dst + 4 * step, x3, count);
}

/** (e0, e1, e2) ↦ the input gradient's V: (e0 − e1, e1, e2 − e1, e0, e1). */
// @ts-ignore: decorator
@inline function putGradWindow(dst: usize, step: usize, e0: v128, e1: v128, e2: v128, count: i32): void {
  put(dst, f32x4.sub(e0, e1), count);
  put(dst + step, e1, count);
  put(dst + 2 * step, f32x4.sub(e2, e1), count);
  put(dst + 3 * step, e0, count);
  put(dst + 4 * step, e1, count);
}

/**
 * The transformed tiles of one plane x [h × w] (padding 1): tile (ty, tx) reads padded rows
 * 4ty … 4ty+4 and columns 4tx … 4tx+4 and goes to float ty·tw + tx of the 25 rows v + ξ·step
 * (bytes). Each padded row is transformed once along the row (five values per tile, in rowT), then
 * five rows at a time down the columns.
 */
export function inputTilesStride2(x: usize, h: i32, w: i32, pad: usize, rowT: usize, v: usize, step: usize): void {
  const th = tilesOf(h, 4), tw = tilesOf(w, 4);
  const wp = paddedWidth(w), hp = paddedRows(h), rw = round4(tw);
  copyInterior(x, h, w, pad, wp);
  for (let r = 0; r < hp; r++) {
    const row = pad + bytes(r * wp);
    const out = rowT + bytes(r * 5 * rw);
    for (let tx = 0; tx < tw; tx += 4) {
      // Four windows are columns 4tx … 4tx+16: a 4×4 transpose of the first sixteen gives s0 … s3
      // of each, and s4 is the next window's s0.
      const p = row + bytes(4 * tx);
      const a = v128.load(p), b = v128.load(p, 16), c = v128.load(p, 32), d = v128.load(p, 48), e = v128.load(p, 64);
      const ab0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5), cd0 = v128.shuffle<f32>(c, d, 0, 4, 1, 5);
      const ab1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7), cd1 = v128.shuffle<f32>(c, d, 2, 6, 3, 7);
      const s0 = v128.shuffle<f32>(ab0, cd0, 0, 1, 4, 5), s1 = v128.shuffle<f32>(ab0, cd0, 2, 3, 6, 7);
      const s2 = v128.shuffle<f32>(ab1, cd1, 0, 1, 4, 5), s3 = v128.shuffle<f32>(ab1, cd1, 2, 3, 6, 7);
      const s4 = v128.shuffle<f32>(s0, e, 1, 2, 3, 4);
      putWindow(out + bytes(tx), bytes(rw), s0, s1, s2, s3, s4, 4);
    }
  }
  const rowBytes = bytes(5 * rw);
  for (let ty = 0; ty < th; ty++) {
    const r0 = rowT + <usize>(4 * ty) * rowBytes;
    for (let tx = 0; tx < tw; tx += 4) {
      const count = min(4, tw - tx);
      const dst = v + bytes(ty * tw + tx);
      for (let j = 0; j < 5; j++) {
        const q = r0 + bytes(j * rw + tx);
        putWindow(dst + <usize>j * step, 5 * step, v128.load(q), v128.load(q + rowBytes), v128.load(q + 2 * rowBytes),
          v128.load(q + 3 * rowBytes), v128.load(q + 4 * rowBytes), count);
      }
    }
  }
}

/**
 * The input gradient's transformed tiles of one plane dy [⌈h/2⌉ × ⌈w/2⌉] (h × w: dx's size): tile
 * (ty, tx) reads dy's rows 2ty … 2ty+2 and columns 2tx … 2tx+2, zero past the plane, and goes to
 * float ty·tw + tx of the 25 rows v + ξ·step (bytes). `plane`'s margins are zero (see
 * winogradConv); dy is copied to its top left corner.
 */
export function gradInputTilesStride2(dy: usize, h: i32, w: i32, plane: usize, rowT: usize, v: usize, step: usize): void {
  const th = tilesOf(h, 4), tw = tilesOf(w, 4);
  const rw = round4(tw), wp = 2 * rw + 4, hp = 2 * th + 1;
  copyRows(dy, (h + 1) >> 1, (w + 1) >> 1, plane, wp);
  for (let r = 0; r < hp; r++) {
    const row = plane + bytes(r * wp);
    const out = rowT + bytes(r * 5 * rw);
    for (let tx = 0; tx < tw; tx += 4) {
      // Four windows are columns 2tx … 2tx+8: the even columns, the odd ones, and the even ones
      // shifted by a window.
      const p = row + bytes(2 * tx);
      const a = v128.load(p), b = v128.load(p, 16), c = v128.load(p, 32);
      const e0 = v128.shuffle<f32>(a, b, 0, 2, 4, 6), e1 = v128.shuffle<f32>(a, b, 1, 3, 5, 7);
      putGradWindow(out + bytes(tx), bytes(rw), e0, e1, v128.shuffle<f32>(e0, c, 1, 2, 3, 4), 4);
    }
  }
  const rowBytes = bytes(5 * rw);
  for (let ty = 0; ty < th; ty++) {
    const r0 = rowT + <usize>(2 * ty) * rowBytes;
    for (let tx = 0; tx < tw; tx += 4) {
      const count = min(4, tw - tx);
      const dst = v + bytes(ty * tw + tx);
      for (let j = 0; j < 5; j++) {
        const q = r0 + bytes(j * rw + tx);
        putGradWindow(dst + <usize>j * step, 5 * step, v128.load(q), v128.load(q + rowBytes), v128.load(q + 2 * rowBytes), count);
      }
    }
  }
}

/** M[i][j] + M[i2][j] + M[i3][j] for four tiles (positions ξ = 5i + j, planes `step` bytes apart). */
// @ts-ignore: decorator
@inline function sum3(src: usize, step: usize, i: i32, i2: i32, i3: i32, j: i32): v128 {
  return f32x4.add(f32x4.add(v128.load(src + <usize>(5 * i + j) * step), v128.load(src + <usize>(5 * i2 + j) * step)),
    v128.load(src + <usize>(5 * i3 + j) * step));
}

/**
 * One output plane y [ho × wo] (+ bias) from its products: tile (ty, tx) at float ty·tw + tx of the
 * 25 rows m + ξ·step. Aᵀ keeps (P0 + P1 + P3, P1 + P2 + P4) along both axes. Four tiles at a time;
 * `odd`: 8 floats of scratch for the tiles at the edges.
 */
export function outputTilesStride2(m: usize, step: usize, y: usize, ho: i32, wo: i32, bias: f32, odd: usize): void {
  const th = tilesOf(ho, 2), tw = tilesOf(wo, 2);
  const vb = f32x4.splat(bias);
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx += 4) {
      const src = m + bytes(ty * tw + tx);
      const row = 2 * ty, col = 2 * tx;
      const full = col + 8 <= wo, count = min(8, wo - col);
      // Aᵀ down the columns gives rows a = 0 (positions i = 0, 1, 3) and a = 1 (i = 1, 2, 4).
      const t00 = sum3(src, step, 0, 1, 3, 0), t01 = sum3(src, step, 0, 1, 3, 1), t02 = sum3(src, step, 0, 1, 3, 2);
      const t03 = sum3(src, step, 0, 1, 3, 3), t04 = sum3(src, step, 0, 1, 3, 4);
      const y00 = f32x4.add(f32x4.add(f32x4.add(t00, t01), t03), vb), y01 = f32x4.add(f32x4.add(f32x4.add(t01, t02), t04), vb);
      putOutputRow(y + bytes(row * wo + col), y00, y01, full, count, odd);
      if (row + 1 >= ho) continue;
      const t10 = sum3(src, step, 1, 2, 4, 0), t11 = sum3(src, step, 1, 2, 4, 1), t12 = sum3(src, step, 1, 2, 4, 2);
      const t13 = sum3(src, step, 1, 2, 4, 3), t14 = sum3(src, step, 1, 2, 4, 4);
      const y10 = f32x4.add(f32x4.add(f32x4.add(t10, t11), t13), vb), y11 = f32x4.add(f32x4.add(f32x4.add(t11, t12), t14), vb);
      putOutputRow(y + bytes((row + 1) * wo + col), y10, y11, full, count, odd);
    }
  }
}

/** Row r (0 … 3) of the input gradient's Aᵀ down the columns, at column position j: P3, P0 + P1, P4 or P1 + P2. */
// @ts-ignore: decorator
@inline function gradColumn(src: usize, step: usize, r: i32, j: i32): v128 {
  const at = src + <usize>j * step, row: usize = 5 * step;
  if (r == 0) return v128.load(at + 3 * row);
  if (r == 2) return v128.load(at + 4 * row);
  return f32x4.add(v128.load(at + <usize>(r == 1 ? 0 : 2) * row), v128.load(at + row));
}

/**
 * One plane dx [h × w] from its products: tile (ty, tx) at float ty·tw + tx of the 25 rows m + ξ·step
 * is dx's 4×4 block at (4ty, 4tx). Four tiles at a time: their rows are transposed into 16 floats of
 * a dx row. `odd`: 16 floats of scratch for the blocks at the edges.
 */
export function gradOutputTilesStride2(m: usize, step: usize, dx: usize, h: i32, w: i32, odd: usize): void {
  const th = tilesOf(h, 4), tw = tilesOf(w, 4);
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx += 4) {
      const src = m + bytes(ty * tw + tx);
      const col = 4 * tx, count = min(16, w - col);
      const rows = min(4, h - 4 * ty);
      for (let r = 0; r < rows; r++) {
        const p0 = gradColumn(src, step, r, 0), p1 = gradColumn(src, step, r, 1), p2 = gradColumn(src, step, r, 2);
        const p3 = gradColumn(src, step, r, 3), p4 = gradColumn(src, step, r, 4);
        // Columns 0 … 3 of the four blocks (lane = block), then transposed to each block's row.
        const c0 = p3, c1 = f32x4.add(p0, p1), c2 = p4, c3 = f32x4.add(p1, p2);
        const lo0 = v128.shuffle<f32>(c0, c1, 0, 4, 1, 5), lo1 = v128.shuffle<f32>(c2, c3, 0, 4, 1, 5);
        const hi0 = v128.shuffle<f32>(c0, c1, 2, 6, 3, 7), hi1 = v128.shuffle<f32>(c2, c3, 2, 6, 3, 7);
        const b0 = v128.shuffle<f32>(lo0, lo1, 0, 1, 4, 5), b1 = v128.shuffle<f32>(lo0, lo1, 2, 3, 6, 7);
        const b2 = v128.shuffle<f32>(hi0, hi1, 0, 1, 4, 5), b3 = v128.shuffle<f32>(hi0, hi1, 2, 3, 6, 7);
        const dst = dx + bytes((4 * ty + r) * w + col);
        const target = count == 16 ? dst : odd;
        v128.store(target, b0);
        v128.store(target, b1, 16);
        v128.store(target, b2, 32);
        v128.store(target, b3, 48);
        if (count < 16) for (let j = 0; j < count; j++) store<f32>(dst + bytes(j), load<f32>(odd + bytes(j)));
      }
    }
  }
}
