// Winograd's minimal filtering F(2×2, 3×3) for 3×3 convolutions with stride 1 and padding 1 (all
// of ResNet-18-CIFAR's stride-1 layers, AlexNet-CIFAR's after the first). The output is cut into
// 2×2 tiles; each tile reads a 4×4 window of the padded input. With the transforms
//   V = Bᵀ·d·B (input window, 4×4)   U = G·g·Gᵀ (3×3 kernel → 4×4)   Y = Aᵀ·(U ⊙ V)·A (2×2 outputs)
// a tile costs 16 multiply-adds per (filter, channel) pair instead of 36: for each of the 16
// transformed positions ξ, the products over the channels are one matrix product
//   M[ξ] [o × tiles] = U[ξ] [o × c] · V[ξ] [c × tiles]
// run by the packed GEMM (gemm.ts), where nearly all the time goes. The transforms only add and
// subtract (and halve, for U); they run on four neighbouring tiles per vector. Layers with 64+
// channels on both sides run their forward pass and input gradient through F(4×4, 3×3) instead
// (winograd4.ts; F4_CHANNELS below),
// and stride-2 layers run the same passes with the transforms of winograd-s2.ts.
//
// The input gradient of such a convolution is the same convolution of dy with each kernel rotated
// by 180° and the two channel axes swapped. The weight gradient comes from the same factorisation:
// with Y = Aᵀ(U ⊙ V)A per tile, ∂L/∂U[ξ] = Σ_tiles (A·dY·Aᵀ)[ξ] · V[ξ] (one product per ξ,
// [o × tiles]·[c × tiles]ᵀ), then ∂L/∂g = Gᵀ·(∂L/∂U)·G.
//
// Bits: an output of the forward pass (or of the input gradient) is the transform of one running
// sum per ξ over the channels in ascending order, whichever chunk or thread its tile falls in; a
// weight gradient is one running sum per ξ over the tiles in image order, carried across chunks,
// whichever filters a thread owns. Results do not depend on the number of threads. They differ
// from the direct convolution's within float rounding: the transforms reassociate the sums.
import {
  BLOCK_ROWS, gemmNTPacked, gemmStridedAPacked, packB, packedBFloats, packedGemmWorkspaceFloats,
} from "./gemm";
import {
  bytes, copyInterior, loadGradRow, paddedRows, paddedWidth, planeStride, put, putLanes, putOutputRow, round4, rowTransformWidth, SCRATCH, SLACK, tap,
  tilesOf,
} from "./winograd-common";
import {
  foldKernelGradsStride2, gradInputTilesStride2, gradOutputTilesStride2, inputTilesStride2, outputTilesStride2,
  stride2PlaneFloats, stride2RowTransformFloats, transformKernelsStride2,
} from "./winograd-s2";
import { foldKernelGrads4, gradTiles4, inputTiles4, outputTiles4, transformKernels4 } from "./winograd4";

/**
 * Channels (in and out) from which the Winograd path is taken. With fewer, the transforms weigh
 * more against the products (a transform costs a few additions per tile and channel, the products
 * 16·o multiply-adds), and LeNet-sized layers have kernels of their own (conv-lanes.ts).
 */
const MIN_CHANNELS = 32;

/**
 * Channels (in and out) from which all three passes of a stride-1 layer run F(4×4, 3×3)
 * (winograd4.ts): 1.8× fewer multiply-adds again, at ten times the rounding error; its heavier
 * transforms pay off only against enough filters.
 */
const F4_CHANNELS = 64;

// The transform a layer runs: F(2×2, 3×3) and F(4×4, 3×3) by their output tile's side, or stride
// 2's (winograd-s2.ts). Symmetric in the channels, so a layer's input gradient runs its forward's.
const F2 = 2;
const F4 = 4;
const S2 = 0;

// @ts-ignore: decorator
@inline function schemeOf(cin: i32, cout: i32, stride: i32): i32 {
  if (stride == 2) return S2;
  return cin >= F4_CHANNELS && cout >= F4_CHANNELS ? F4 : F2;
}

/** Positions ξ of a tile: (m + 2)² for F(m×m, 3×3), 25 for stride 2. */
// @ts-ignore: decorator
@inline function planesOf(s: i32): i32 {
  return s == S2 ? 25 : (s + 2) * (s + 2);
}

/** Tiles per image of h × w inputs: m × m outputs for F(m×m, 3×3); for stride 2, 4 × 4 inputs (2 × 2 outputs). */
// @ts-ignore: decorator
@inline function tilesPerImage(s: i32, h: i32, w: i32): i32 {
  const side = s == S2 ? 4 : s;
  return tilesOf(h, side) * tilesOf(w, side);
}

/**
 * Whether conv2dForward / conv2dBackward run this geometry through minimal filtering: F(2×2, 3×3)
 * or F(4×4, 3×3) for stride 1, winograd-s2.ts for stride 2. The entry points below take the stride.
 */
export function isWinograd(c: i32, h: i32, w: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32): bool {
  return kh == 3 && kw == 3 && sh == sw && (sh == 1 || sh == 2) && ph == 1 && pw == 1 && h >= 1 && w >= 1
    && c >= MIN_CHANNELS && o >= MIN_CHANNELS;
}

/**
 * Images per chunk: at least 256 tiles for F(2×2, 3×3), 128 for the others, so that the products
 * have about as many columns as im2col's 256 positions (128 4×4 tiles cover twice as many outputs).
 * Stride 2's three ResNet-18 layers at b32, all passes, one thread: 64 tiles 160 ms, 128 156 ms,
 * 256 172 ms, 512 167 ms. From the geometry only.
 */
// @ts-ignore: decorator
@inline function chunkImages(s: i32, h: i32, w: i32): i32 {
  const perImage = tilesPerImage(s, h, w);
  const target = s == F2 ? 256 : 128;
  return max(1, (target + perImage - 1) / perImage);
}

/**
 * Start of a workspace region, in floats: 0 the transformed kernels (or the weight gradient's sums),
 * 1 and 2 a chunk of transformed input tiles and one of products (or of transformed dy tiles), 3 the
 * padded plane, 4 its row transforms, 5 scratch, 6 the packed products' copies. c and o enter
 * symmetrically, so a layer's forward pass and input gradient size alike.
 */
// @ts-ignore: decorator
@inline function region(part: i32, s: i32, c: i32, h: i32, w: i32, o: i32): i32 {
  const planes = planesOf(s);
  const tiles = chunkImages(s, h, w) * tilesPerImage(s, h, w);
  let at = 0;
  if (part > 0) at += planes * planeStride(c * o);
  if (part > 1) at += planes * planeStride(max(c, o) * tiles);
  if (part > 2) at += planes * planeStride(max(c, o) * tiles);
  if (part > 3) at += s == S2 ? stride2PlaneFloats(h, w) : paddedRows(h, s) * paddedWidth(w, s) + SLACK;
  if (part > 4) at += s == S2 ? stride2RowTransformFloats(h, w) : paddedRows(h, s) * (s + 2) * rowTransformWidth(w, s);
  if (part > 5) at += SCRATCH;
  return at;
}

/** Floats of workspace one thread needs (the regions above, the packed copies last). */
export function winogradWorkspaceFloats(c: i32, h: i32, w: i32, o: i32, stride: i32): i32 {
  const s = schemeOf(c, o, stride);
  const t = chunkImages(s, h, w) * tilesPerImage(s, h, w);
  const pack = max(max(packedGemmWorkspaceFloats(t, c), packedGemmWorkspaceFloats(t, o)), packedGemmWorkspaceFloats(c, t));
  return region(6, s, c, h, w, o) + round4(pack);
}

// ---- the kernels: U = G·g·Gᵀ, and back: ∂g = Gᵀ·∂U·G ----

/** (x0, x1, x2) ↦ (x0, (x0 + x1 + x2)/2, (x0 − x1 + x2)/2, x2): one side of G, stored `step` bytes apart. */
// @ts-ignore: decorator
@inline function putSpread(dst: usize, step: usize, x0: v128, x1: v128, x2: v128, count: i32): void {
  const half = f32x4.splat(0.5);
  const s = f32x4.add(x0, x2);
  put(dst, x0, count);
  put(dst + step, f32x4.mul(f32x4.add(s, x1), half), count);
  put(dst + 2 * step, f32x4.mul(f32x4.sub(s, x1), half), count);
  put(dst + 3 * step, x2, count);
}

/**
 * u[ξ][r][s] (planes of rows × cols) = (G·g·Gᵀ)[ξ] for the kernel g of (r, s) of w [rows × cols ×
 * 3 × 3], whose rows are `wCols` kernels apart (a block of columns of a wider w); `flip` reads each
 * kernel rotated by 180°. Four s per vector, each lane gathering its kernel's taps (36 contiguous
 * floats for the four).
 */
function transformKernels(w: usize, u: usize, rows: i32, cols: i32, wCols: i32, flip: bool): void {
  const half = f32x4.splat(0.5);
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
      // Rows 1 and 2 of G·g; rows 0 and 3 are g's rows 0 and 2.
      const s0 = f32x4.add(g00, g20), s1 = f32x4.add(g01, g21), s2 = f32x4.add(g02, g22);
      const a10 = f32x4.mul(f32x4.add(s0, g10), half), a11 = f32x4.mul(f32x4.add(s1, g11), half), a12 = f32x4.mul(f32x4.add(s2, g12), half);
      const a20 = f32x4.mul(f32x4.sub(s0, g10), half), a21 = f32x4.mul(f32x4.sub(s1, g11), half), a22 = f32x4.mul(f32x4.sub(s2, g12), half);
      const dst = u + bytes(r * cols + s);
      putSpread(dst, step, g00, g01, g02, count);
      putSpread(dst + 4 * step, step, a10, a11, a12, count);
      putSpread(dst + 8 * step, step, a20, a21, a22, count);
      putSpread(dst + 12 * step, step, g20, g21, g22, count);
    }
  }
}

/** (x0, x1, x2, x3) ↦ (x0 + (x1 + x2)/2, (x1 − x2)/2, (x1 + x2)/2 + x3): one side of Gᵀ·Z·G. */
// @ts-ignore: decorator
@inline function fold0(x0: v128, x1: v128, x2: v128): v128 {
  return f32x4.add(x0, f32x4.mul(f32x4.add(x1, x2), f32x4.splat(0.5)));
}

// @ts-ignore: decorator
@inline function fold1(x1: v128, x2: v128): v128 {
  return f32x4.mul(f32x4.sub(x1, x2), f32x4.splat(0.5));
}

// @ts-ignore: decorator
@inline function fold2(x1: v128, x2: v128, x3: v128): v128 {
  return f32x4.add(f32x4.mul(f32x4.add(x1, x2), f32x4.splat(0.5)), x3);
}

/** Row i of the 3×3 result from row i of Gᵀ·Z (four values): its three taps, for `count` kernels 9 floats apart. */
// @ts-ignore: decorator
@inline function putFolded(dst: usize, x0: v128, x1: v128, x2: v128, x3: v128, count: i32): void {
  putLanes(dst, 36, fold0(x0, x1, x2), count);
  putLanes(dst + 4, 36, fold1(x1, x2), count);
  putLanes(dst + 8, 36, fold2(x1, x2, x3), count);
}

/**
 * dw[k][ci] (3×3, rows o0 … o1−1 of dw [o × c × 3 × 3]) = Gᵀ·Z·G for Z = du[ξ][k − o0][ci] (planes
 * of (o1 − o0) × c). Four channels per vector.
 */
function foldKernelGrads(du: usize, dw: usize, o0: i32, o1: i32, c: i32): void {
  const step = bytes(planeStride((o1 - o0) * c));
  for (let k = o0; k < o1; k++) {
    for (let ci = 0; ci < c; ci += 4) {
      const z = du + bytes((k - o0) * c + ci);
      const count = min(4, c - ci);
      // Gᵀ·Z: rows 0, 1, 2 from Z's rows (ξ = 4·row + column).
      const z00 = v128.load(z), z01 = v128.load(z + step), z02 = v128.load(z + 2 * step), z03 = v128.load(z + 3 * step);
      const z10 = v128.load(z + 4 * step), z11 = v128.load(z + 5 * step), z12 = v128.load(z + 6 * step), z13 = v128.load(z + 7 * step);
      const z20 = v128.load(z + 8 * step), z21 = v128.load(z + 9 * step), z22 = v128.load(z + 10 * step), z23 = v128.load(z + 11 * step);
      const z30 = v128.load(z + 12 * step), z31 = v128.load(z + 13 * step), z32 = v128.load(z + 14 * step), z33 = v128.load(z + 15 * step);
      const dst = dw + bytes((k * c + ci) * 9);
      putFolded(dst, fold0(z00, z10, z20), fold0(z01, z11, z21), fold0(z02, z12, z22), fold0(z03, z13, z23), count);
      putFolded(dst + 12, fold1(z10, z20), fold1(z11, z21), fold1(z12, z22), fold1(z13, z23), count);
      putFolded(dst + 24, fold2(z10, z20, z30), fold2(z11, z21, z31), fold2(z12, z22, z32), fold2(z13, z23, z33), count);
    }
  }
}

// ---- the tiles: V = Bᵀ·d·B, Y = Aᵀ·M·A, and dY's A·dY·Aᵀ ----

/**
 * The transformed tiles of one plane x [h × w] (padding 1): tile (ty, tx) goes to float ty·tw + tx
 * of the 16 rows v + ξ·step (bytes). The plane is copied into `pad`, whose margins are zero (see
 * winogradConv); each padded row is transformed once (Bᵀ along the row, four values per tile, in
 * rowT), then four rows at a time down the columns.
 */
function inputTiles(x: usize, h: i32, w: i32, pad: usize, rowT: usize, v: usize, step: usize): void {
  const th = tilesOf(h, 2), tw = tilesOf(w, 2);
  const wp = paddedWidth(w, 2), hp = paddedRows(h, 2);
  copyInterior(x, h, w, pad, wp);
  // Bᵀ along each row: tile tx reads padded columns 2tx … 2tx+3 (d0 … d3) and keeps
  // (d0 − d2, d1 + d2, d2 − d1, d1 − d3). Four tiles are 12 columns: three loads, then the even and
  // odd columns and both shifted by one tile. The last group may run past tw (lanes never used).
  const rw = rowTransformWidth(w, 2);
  for (let r = 0; r < hp; r++) {
    const row = pad + bytes(r * wp);
    const out = rowT + bytes(r * 4 * rw);
    for (let tx = 0; tx < tw; tx += 4) {
      const p = row + bytes(2 * tx);
      const a = v128.load(p), b = v128.load(p, 16), c = v128.load(p, 32);
      const d0 = v128.shuffle<f32>(a, b, 0, 2, 4, 6), d1 = v128.shuffle<f32>(a, b, 1, 3, 5, 7);
      const e = v128.shuffle<f32>(b, c, 0, 2, 4, 6), f = v128.shuffle<f32>(b, c, 1, 3, 5, 7);
      const d2 = v128.shuffle<f32>(d0, e, 1, 2, 3, 6), d3 = v128.shuffle<f32>(d1, f, 1, 2, 3, 6);
      const o = out + bytes(tx);
      v128.store(o, f32x4.sub(d0, d2));
      v128.store(o + bytes(rw), f32x4.add(d1, d2));
      v128.store(o + bytes(2 * rw), f32x4.sub(d2, d1));
      v128.store(o + bytes(3 * rw), f32x4.sub(d1, d3));
    }
  }
  // Bᵀ down the columns: tile row ty combines padded rows 2ty … 2ty+3.
  const rowBytes = bytes(4 * rw);
  for (let ty = 0; ty < th; ty++) {
    const r0 = rowT + <usize>(2 * ty) * rowBytes;
    for (let tx = 0; tx < tw; tx += 4) {
      const count = min(4, tw - tx);
      const dst = v + bytes(ty * tw + tx);
      for (let e = 0; e < 4; e++) {
        const q = r0 + bytes(e * rw + tx);
        const a = v128.load(q), b = v128.load(q + rowBytes), c = v128.load(q + 2 * rowBytes), d = v128.load(q + 3 * rowBytes);
        const at = dst + <usize>e * step;
        put(at, f32x4.sub(a, c), count);
        put(at + 4 * step, f32x4.add(b, c), count);
        put(at + 8 * step, f32x4.sub(c, b), count);
        put(at + 12 * step, f32x4.sub(b, d), count);
      }
    }
  }
}

/**
 * One output plane y [h × w] (+ bias) from its transformed tiles: tile (ty, tx) at float ty·tw + tx
 * of the 16 rows m + ξ·step. Aᵀ·M·A keeps (m0 + m1 + m2, m1 − m2 − m3) along both axes. Four tiles
 * at a time; their two output columns are interleaved into two vectors per output row. `odd`: 8
 * floats of scratch for the tiles at the right and bottom edges.
 */
function outputTiles(m: usize, step: usize, y: usize, h: i32, w: i32, bias: f32, odd: usize): void {
  const th = tilesOf(h, 2), tw = tilesOf(w, 2);
  const vb = f32x4.splat(bias);
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx += 4) {
      const src = m + bytes(ty * tw + tx);
      // Aᵀ down the columns: two rows (a) of four columns (e).
      const m00 = v128.load(src), m01 = v128.load(src + step), m02 = v128.load(src + 2 * step), m03 = v128.load(src + 3 * step);
      const m10 = v128.load(src + 4 * step), m11 = v128.load(src + 5 * step), m12 = v128.load(src + 6 * step), m13 = v128.load(src + 7 * step);
      const m20 = v128.load(src + 8 * step), m21 = v128.load(src + 9 * step), m22 = v128.load(src + 10 * step), m23 = v128.load(src + 11 * step);
      const m30 = v128.load(src + 12 * step), m31 = v128.load(src + 13 * step), m32 = v128.load(src + 14 * step), m33 = v128.load(src + 15 * step);
      const s00 = f32x4.add(f32x4.add(m00, m10), m20), s01 = f32x4.add(f32x4.add(m01, m11), m21);
      const s02 = f32x4.add(f32x4.add(m02, m12), m22), s03 = f32x4.add(f32x4.add(m03, m13), m23);
      const s10 = f32x4.sub(f32x4.sub(m10, m20), m30), s11 = f32x4.sub(f32x4.sub(m11, m21), m31);
      const s12 = f32x4.sub(f32x4.sub(m12, m22), m32), s13 = f32x4.sub(f32x4.sub(m13, m23), m33);
      // Aᵀ along the rows: output (a, b) of each tile.
      const y00 = f32x4.add(f32x4.add(f32x4.add(s00, s01), s02), vb), y01 = f32x4.add(f32x4.sub(f32x4.sub(s01, s02), s03), vb);
      const y10 = f32x4.add(f32x4.add(f32x4.add(s10, s11), s12), vb), y11 = f32x4.add(f32x4.sub(f32x4.sub(s11, s12), s13), vb);
      const row = 2 * ty, col = 2 * tx;
      const full = col + 8 <= w;
      putOutputRow(y + bytes(row * w + col), y00, y01, full, min(8, w - col), odd);
      if (row + 1 < h) putOutputRow(y + bytes((row + 1) * w + col), y10, y11, full, min(8, w - col), odd);
    }
  }
}

/** (p, q) ↦ (p, p + q, p − q, −q): one side of A·dY·Aᵀ, stored `step` bytes apart. */
// @ts-ignore: decorator
@inline function putGradRow(dst: usize, step: usize, p: v128, q: v128, count: i32): void {
  put(dst, p, count);
  put(dst + step, f32x4.add(p, q), count);
  put(dst + 2 * step, f32x4.sub(p, q), count);
  put(dst + 3 * step, f32x4.neg(q), count);
}

/**
 * A·dY·Aᵀ for the tiles of one gradient plane dy [h × w]: tile (ty, tx) to float ty·tw + tx of the
 * 16 rows mt + ξ·step. Positions past the plane count as zero gradients. `stride2`: the 25 rows of
 * the stride-2 transform instead (winograd-s2.ts), (p, q) ↦ (p, p + q, q, p, q) along each axis.
 */
export function gradTiles(dy: usize, h: i32, w: i32, mt: usize, step: usize, odd: usize, stride2: bool): void {
  const th = tilesOf(h, 2), tw = tilesOf(w, 2);
  const zero = f32x4.splat(0);
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx += 4) {
      const count = min(4, tw - tx);
      const row = 2 * ty, col = 2 * tx;
      const inRow = min(8, w - col);
      const src = dy + bytes(row * w + col);
      let a = loadGradRow(src, inRow, odd), b = loadGradRow(src + 16, inRow - 4, odd);
      const p0 = v128.shuffle<f32>(a, b, 0, 2, 4, 6), q0 = v128.shuffle<f32>(a, b, 1, 3, 5, 7);
      let p1 = zero, q1 = zero;
      if (row + 1 < h) {
        a = loadGradRow(src + bytes(w), inRow, odd);
        b = loadGradRow(src + bytes(w) + 16, inRow - 4, odd);
        p1 = v128.shuffle<f32>(a, b, 0, 2, 4, 6);
        q1 = v128.shuffle<f32>(a, b, 1, 3, 5, 7);
      }
      const dst = mt + bytes(ty * tw + tx);
      if (stride2) {
        putGradRow5(dst, step, p0, q0, count);
        putGradRow5(dst + 5 * step, step, f32x4.add(p0, p1), f32x4.add(q0, q1), count);
        putGradRow5(dst + 10 * step, step, p1, q1, count);
        putGradRow5(dst + 15 * step, step, p0, q0, count);
        putGradRow5(dst + 20 * step, step, p1, q1, count);
        continue;
      }
      putGradRow(dst, step, p0, q0, count);
      putGradRow(dst + 4 * step, step, f32x4.add(p0, p1), f32x4.add(q0, q1), count);
      putGradRow(dst + 8 * step, step, f32x4.sub(p0, p1), f32x4.sub(q0, q1), count);
      putGradRow(dst + 12 * step, step, f32x4.neg(p1), f32x4.neg(q1), count);
    }
  }
}

/** (p, q) ↦ (p, p + q, q, p, q): one side of the stride-2 transform's A·dY·Aᵀ, stored `step` bytes apart. */
// @ts-ignore: decorator
@inline function putGradRow5(dst: usize, step: usize, p: v128, q: v128, count: i32): void {
  put(dst, p, count);
  put(dst + step, f32x4.add(p, q), count);
  put(dst + 2 * step, q, count);
  put(dst + 3 * step, p, count);
  put(dst + 4 * step, q, count);
}

// ---- the convolutions ----

/**
 * Kernels per block when the products run block by block (see winogradConv): the block's
 * transformed kernels, planes × rows × c floats, stay within 512 KiB of the 1 MiB L2, in whole
 * register blocks of the products (gemm.ts, BLOCK_ROWS: 6 rows, or 5).
 */
// @ts-ignore: decorator
@inline function blockRows(planes: i32, c: i32): i32 {
  return max(BLOCK_ROWS, (1 << 17) / (planes * c) / BLOCK_ROWS * BLOCK_ROWS);
}

/**
 * Whether a pass runs its products block by block: the whole batch is one chunk, and region 0
 * (sized for every kernel) holds a block of transformed kernels (or of kernel gradients) and
 * every plane's packed product operand, `packed` floats each.
 */
// @ts-ignore: decorator
@inline function runsBlocked(n: i32, s: i32, c: i32, h: i32, w: i32, o: i32, block: i32, packedStride: i32): bool {
  return n <= chunkImages(s, h, w) && planesOf(s) * (planeStride(block) + packedStride) <= region(1, s, c, h, w, o);
}

/** U for the kernels of output channels k0 … k1−1 (see winogradConv), planes of (k1 − k0) × cin. */
// @ts-ignore: decorator
@inline function transformBlock(s: i32, w: usize, u: usize, tmp: usize, k0: i32, k1: i32, cin: i32, cout: i32, transposed: bool): void {
  const kc = k1 - k0;
  // U [ξ][kc][cin]; for the input gradient, w [cin × cout] rotated, as U [ξ][cin][kc] read
  // transposed by the products, so that the four kernels of a vector are neighbours in w either way.
  const rows = transposed ? cin : kc, cols = transposed ? kc : cin;
  const first = w + bytes(transposed ? k0 * 9 : k0 * cin * 9);
  const wCols = transposed ? cout : cin;
  if (s == F4) transformKernels4(first, u, tmp, rows, cols, wCols, transposed);
  else if (s == S2) transformKernelsStride2(first, u, rows, cols, wCols, transposed);
  else transformKernels(first, u, rows, cols, wCols, transposed);
}

/**
 * y [n × cout × ho × wo] = the 3×3, padding-1 convolution (stride 1 or 2) of x [n × cin × h × w]
 * with w [cout × cin × 3 × 3] (+ bias, 0 for none), or, when `transposed`, with the kernels of
 * w [cin × cout × 3 × 3] rotated by 180° and read across: the input gradient of that convolution,
 * x being its dy [n × cin × ho × wo] and y its dx [n × cout × h × w]. h × w is the forward pass's
 * input either way. Only output channels k0 … k1−1 are computed (and only their kernels
 * transformed): threads can own blocks of output channels instead of images
 * (winogradSplitsChannels). ws: winogradWorkspaceFloats floats.
 *
 * When the whole batch is one chunk (the deep layers, whose U is the large operand: 38 MB for
 * ResNet-18's 512-channel layer), the kernels are transformed a block at a time and each block's
 * products run while it is still in L2, over the input tiles packed once; otherwise every kernel is
 * transformed once, up front, and the chunks of images follow. The products' sums are the same
 * either way.
 */
export function winogradConv(
  x: usize, w: usize, bias: usize, y: usize, ws: usize, n: i32, cin: i32, h: i32, wd: i32, cout: i32, stride: i32,
  transposed: bool, k0: i32, k1: i32,
): void {
  const kc = k1 - k0;
  if (kc <= 0) return;
  const s = schemeOf(cin, cout, stride);
  const planes = planesOf(s);
  const per = tilesPerImage(s, h, wd);
  const q = chunkImages(s, h, wd);
  const u = ws;
  const v = ws + bytes(region(1, s, cin, h, wd, cout));
  const prod = ws + bytes(region(2, s, cin, h, wd, cout));
  const pad = ws + bytes(region(3, s, cin, h, wd, cout));
  const rowT = ws + bytes(region(4, s, cin, h, wd, cout));
  const tmp = ws + bytes(region(5, s, cin, h, wd, cout));
  const pack = ws + bytes(region(6, s, cin, h, wd, cout));
  const rowsPerBlock = min(blockRows(planes, cin), round4(kc));
  const packedStride = planeStride(packedBFloats(n * per, cin));
  const blocked = runsBlocked(n, s, cin, h, wd, cout, rowsPerBlock * cin, packedStride);
  if (!blocked) transformBlock(s, w, u, tmp, k0, k1, cin, cout, transposed);
  const strideI = transposed ? 1 : cin, strideP = transposed ? kc : 1;
  // The padded plane's margins are zeroed once: only its interior is ever written.
  memory.fill(pad, 0, bytes(region(4, s, cin, h, wd, cout) - region(3, s, cin, h, wd, cout)));
  const ho = s == S2 ? (h + 1) >> 1 : h, wo = s == S2 ? (wd + 1) >> 1 : wd;
  const outPlane = transposed ? h * wd : ho * wo;
  for (let n0 = 0; n0 < n; n0 += q) {
    const images = min(q, n - n0);
    const ld = images * per;
    const vStep = planeStride(cin * ld), mStep = planeStride(kc * ld);
    for (let im = 0; im < images; im++) {
      imageTiles(s, transposed, x, n0 + im, cin, h, wd, pad, rowT, v + bytes(im * per), ld, vStep);
    }
    if (blocked) {
      const bp = u + bytes(planes * planeStride(rowsPerBlock * cin));
      for (let xi = 0; xi < planes; xi++) packB(v + bytes(xi * vStep), ld, false, bp + bytes(xi * packedStride), ld, cin);
      for (let b0 = k0; b0 < k1; b0 += rowsPerBlock) {
        const b1 = min(k1, b0 + rowsPerBlock), rows = b1 - b0;
        transformBlock(s, w, u, tmp, b0, b1, cin, cout, transposed);
        const uStep = planeStride(rows * cin);
        for (let xi = 0; xi < planes; xi++) {
          gemmStridedAPacked(u + bytes(xi * uStep), transposed ? 1 : cin, transposed ? rows : 1, v + bytes(xi * vStep), ld,
            bp + bytes(xi * packedStride), prod + bytes(xi * mStep + (b0 - k0) * ld), ld, pack, rows, ld, cin);
        }
      }
    } else {
      for (let xi = 0; xi < planes; xi++) {
        gemmStridedAPacked(u + bytes(xi * planeStride(kc * cin)), strideI, strideP, v + bytes(xi * vStep), ld, 0,
          prod + bytes(xi * mStep), ld, pack, kc, ld, cin);
      }
    }
    for (let im = 0; im < images; im++) {
      for (let k = k0; k < k1; k++) {
        const b: f32 = bias != 0 ? load<f32>(bias + bytes(k)) : 0;
        const src = prod + bytes((k - k0) * ld + im * per), dst = y + bytes(((n0 + im) * cout + k) * outPlane);
        if (s == F4) outputTiles4(src, bytes(mStep), dst, h, wd, b, tmp);
        else if (s == F2) outputTiles(src, bytes(mStep), dst, h, wd, b, tmp);
        else if (transposed) gradOutputTilesStride2(src, bytes(mStep), dst, h, wd, tmp);
        else outputTilesStride2(src, bytes(mStep), dst, ho, wo, b, tmp);
      }
    }
  }
}

/**
 * The transformed input tiles of image `image` of x (channels c; h × w the forward pass's input, x
 * being dy when `transposed`): channel ci's to floats ci·ld … of the rows v + ξ·vStep (floats),
 * where the chunk's images sit side by side.
 */
// @ts-ignore: decorator
@inline function imageTiles(
  s: i32, transposed: bool, x: usize, image: i32, c: i32, h: i32, w: i32, pad: usize, rowT: usize, v: usize, ld: i32, vStep: i32,
): void {
  const plane = s == S2 && transposed ? ((h + 1) >> 1) * ((w + 1) >> 1) : h * w;
  const step = bytes(vStep);
  for (let ci = 0; ci < c; ci++) {
    const src = x + bytes((image * c + ci) * plane), dst = v + bytes(ci * ld);
    if (s == F4) inputTiles4(src, h, w, pad, rowT, dst, step);
    else if (s == F2) inputTiles(src, h, w, pad, rowT, dst, step);
    else if (transposed) gradInputTilesStride2(src, h, w, pad, rowT, dst, step);
    else inputTilesStride2(src, h, w, pad, rowT, dst, step);
  }
}

/**
 * Whether threads share winogradConv's output channels (each transforming only its kernels, every
 * thread transforming every input tile) rather than its images (each transforming every kernel and
 * only its tiles): when the batch has fewer tiles than there are output channels, the kernels are
 * the larger transform. ResNet-18's 512-channel layer at batch 32 has 32 tiles against 512 × 512
 * kernels; split by images, each of two threads spent 4.3 of its 10 ms transforming all of them.
 */
export function winogradSplitsChannels(n: i32, cin: i32, h: i32, w: i32, cout: i32, stride: i32): bool {
  return <i64>n * <i64>tilesPerImage(schemeOf(cin, cout, stride), h, w) < <i64>cout;
}

/**
 * ∂L/∂U for filters (or a block of them) from the chunk's transformed dy and input tiles, folded
 * back to dw rows o0 … o1−1 (see winogradWeightGrad).
 */
// @ts-ignore: decorator
@inline function foldBlock(s: i32, du: usize, dw: usize, tmp: usize, o0: i32, o1: i32, c: i32): void {
  if (s == F4) foldKernelGrads4(du, dw, tmp, o0, o1, c);
  else if (s == F2) foldKernelGrads(du, dw, o0, o1, c);
  else foldKernelGradsStride2(du, dw, o0, o1, c);
}

/**
 * dw for filters o0 … o1−1 (rows of dw [o × c × 3 × 3], overwritten) of the convolution
 * winogradConv computes, from x [n × c × h × w] and dy [n × o × ho × wo]. Each filter's sums run
 * over all the images in order, so a thread can own any block of filters. ws as for winogradConv.
 * When the batch is one chunk, the sums go block of filters by block and each block is folded while
 * it is in L2 (as winogradConv's kernels); the sums are the same.
 */
export function winogradWeightGrad(
  x: usize, dy: usize, dw: usize, ws: usize, o0: i32, o1: i32, n: i32, c: i32, h: i32, wd: i32, o: i32, stride: i32,
): void {
  const rows = o1 - o0;
  if (rows <= 0) return;
  if (n == 0) {
    memory.fill(dw + bytes(o0 * c * 9), 0, bytes(rows * c * 9));
    return;
  }
  const s = schemeOf(c, o, stride);
  const planes = planesOf(s);
  const per = tilesPerImage(s, h, wd);
  const q = chunkImages(s, h, wd);
  const du = ws;
  const v = ws + bytes(region(1, s, c, h, wd, o));
  const mt = ws + bytes(region(2, s, c, h, wd, o));
  const pad = ws + bytes(region(3, s, c, h, wd, o));
  const rowT = ws + bytes(region(4, s, c, h, wd, o));
  const tmp = ws + bytes(region(5, s, c, h, wd, o));
  const pack = ws + bytes(region(6, s, c, h, wd, o));
  const rowsPerBlock = min(blockRows(planes, c), round4(rows));
  const packedStride = planeStride(packedBFloats(c, n * per));
  const blocked = runsBlocked(n, s, c, h, wd, o, rowsPerBlock * c, packedStride);
  memory.fill(pad, 0, bytes(region(4, s, c, h, wd, o) - region(3, s, c, h, wd, o)));
  const ho = s == S2 ? (h + 1) >> 1 : h, wo = s == S2 ? (wd + 1) >> 1 : wd;
  for (let n0 = 0; n0 < n; n0 += q) {
    const images = min(q, n - n0);
    const ld = images * per;
    const vStep = planeStride(c * ld), mStep = planeStride(rows * ld);
    for (let im = 0; im < images; im++) {
      imageTiles(s, false, x, n0 + im, c, h, wd, pad, rowT, v + bytes(im * per), ld, vStep);
      for (let k = o0; k < o1; k++) {
        const src = dy + bytes(((n0 + im) * o + k) * ho * wo), dst = mt + bytes((k - o0) * ld + im * per);
        if (s == F4) gradTiles4(src, h, wd, dst, bytes(mStep), tmp);
        else gradTiles(src, ho, wo, dst, bytes(mStep), tmp, s == S2);
      }
    }
    if (blocked) {
      // B = Vᵀ for every plane, packed once; each block's sums are folded into dw at once.
      const bp = du + bytes(planes * planeStride(rowsPerBlock * c));
      for (let xi = 0; xi < planes; xi++) packB(v + bytes(xi * vStep), ld, true, bp + bytes(xi * packedStride), c, ld);
      for (let b0 = o0; b0 < o1; b0 += rowsPerBlock) {
        const b1 = min(o1, b0 + rowsPerBlock);
        const duStep = planeStride((b1 - b0) * c);
        for (let xi = 0; xi < planes; xi++) {
          gemmNTPacked(mt + bytes(xi * mStep + (b0 - o0) * ld), ld, v + bytes(xi * vStep), ld, bp + bytes(xi * packedStride),
            du + bytes(xi * duStep), c, pack, b1 - b0, c, ld, false);
        }
        foldBlock(s, du, dw, tmp, b0, b1, c);
      }
      continue;
    }
    for (let xi = 0; xi < planes; xi++) {
      gemmNTPacked(mt + bytes(xi * mStep), ld, v + bytes(xi * vStep), ld, 0, du + bytes(xi * planeStride(rows * c)), c, pack, rows, c, ld, n0 > 0);
    }
  }
  if (!blocked) foldBlock(s, du, dw, tmp, o0, o1, c);
}
