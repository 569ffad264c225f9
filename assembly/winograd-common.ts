// Helpers shared by the Winograd kernels (winograd.ts: F(2×2, 3×3), winograd4.ts: F(4×4, 3×3),
// winograd-s2.ts: 3×3 with stride 2).

// @ts-ignore: decorator
@inline export function bytes(n: i32): usize {
  return <usize>n << 2;
}

// @ts-ignore: decorator
@inline export function round4(n: i32): i32 {
  return (n + 3) & ~3;
}

/**
 * Floats from one ξ plane to the next for planes of n floats. The transforms write (and read) all
 * planes of a tile at once (16, or 36 for F(4×4, 3×3)); planes a multiple of 4 KiB apart would put
 * those streams into the same set of the 8-way L1 and miss on every access (as a GEMM operand read
 * down its columns does, see gemm.ts). A skew of one cache line per plane spreads them over the sets.
 */
// @ts-ignore: decorator
@inline export function planeStride(n: i32): i32 {
  return round4(n) + 16;
}

// ---- storing vectors whose last lanes may fall off the end ----

/** The first `count` lanes of v at p, p + stride, … (stride in bytes). */
// @ts-ignore: decorator
@inline export function putLanes(p: usize, stride: usize, v: v128, count: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(p + stride, f32x4.extract_lane(v, 1));
  if (count > 2) store<f32>(p + 2 * stride, f32x4.extract_lane(v, 2));
  if (count > 3) store<f32>(p + 3 * stride, f32x4.extract_lane(v, 3));
}

/** The first `count` lanes of v at p (contiguous): one store when all four are wanted. */
// @ts-ignore: decorator
@inline export function put(p: usize, v: v128, count: i32): void {
  if (count == 4) v128.store(p, v);
  else putLanes(p, 4, v, count);
}

/** Lane l = the float at p + l·stride (bytes), lanes past `last` repeating lane `last`. */
// @ts-ignore: decorator
@inline export function gather(p: usize, stride: usize, last: i32): v128 {
  let v = f32x4.splat(load<f32>(p));
  v = f32x4.replace_lane(v, 1, load<f32>(p + stride * <usize>min(1, last)));
  v = f32x4.replace_lane(v, 2, load<f32>(p + stride * <usize>min(2, last)));
  return f32x4.replace_lane(v, 3, load<f32>(p + stride * <usize>min(3, last)));
}

/** Tap (i, j) of four kernels (gather's lanes), or tap (2 − i, 2 − j) when flipped. */
// @ts-ignore: decorator
@inline export function tap(g: usize, lane: usize, last: i32, flip: bool, t: i32): v128 {
  return gather(g + bytes(flip ? 8 - t : t), lane, last);
}

// ---- rows of four tiles ----

/** Eight outputs of a row from four tiles' left (l) and right (r) columns, or the first `count` of them. */
// @ts-ignore: decorator
@inline export function putOutputRow(dst: usize, l: v128, r: v128, full: bool, count: i32, odd: usize): void {
  const lo = v128.shuffle<f32>(l, r, 0, 4, 1, 5), hi = v128.shuffle<f32>(l, r, 2, 6, 3, 7);
  if (full) {
    v128.store(dst, lo);
    v128.store(dst, hi, 16);
    return;
  }
  v128.store(odd, lo);
  v128.store(odd, hi, 16);
  for (let j = 0; j < count; j++) store<f32>(dst + bytes(j), load<f32>(odd + bytes(j)));
}

/** Four floats of a dy row from src, of which the first `count` lie inside the plane (the rest read as zero). */
// @ts-ignore: decorator
@inline export function loadGradRow(src: usize, count: i32, odd: usize): v128 {
  if (count >= 4) return v128.load(src);
  for (let j = 0; j < 4; j++) store<f32>(odd + bytes(j), j < count ? load<f32>(src + bytes(j)) : 0);
  return v128.load(odd);
}

// ---- tiles and the workspace, for output tiles of m × m (2 or 4) ----

/** Tiles along an axis of `size` outputs. */
// @ts-ignore: decorator
@inline export function tilesOf(size: i32, m: i32): i32 {
  return (size + m - 1) / m;
}

/**
 * Row length of the padded plane: a margin of 1 before the image, whole tiles, and room for the
 * loads of the last group of four tiles (which run past the tiles it keeps).
 */
// @ts-ignore: decorator
@inline export function paddedWidth(w: i32, m: i32): i32 {
  return round4(m * tilesOf(w, m) + 2 * m);
}

// @ts-ignore: decorator
@inline export function paddedRows(h: i32, m: i32): i32 {
  return m * tilesOf(h, m) + 2;
}

/** Row length of the row transforms (m + 2 rows of them per padded row): tiles rounded up to whole vectors. */
// @ts-ignore: decorator
@inline export function rowTransformWidth(w: i32, m: i32): i32 {
  return round4(tilesOf(w, m));
}

/** The plane x [h × w] into the padded plane `pad` (rows wp floats long) from row 1, column 1. */
// @ts-ignore: decorator
@inline export function copyInterior(x: usize, h: i32, w: i32, pad: usize, wp: i32): void {
  copyRows(x, h, w, pad + bytes(wp + 1), wp);
}

/** The plane x [h × w] to dst, its rows wp floats apart. */
// @ts-ignore: decorator
@inline export function copyRows(x: usize, h: i32, w: i32, dst: usize, wp: i32): void {
  for (let i = 0; i < h; i++) {
    const src = x + bytes(i * w), row = dst + bytes(i * wp);
    let j = 0;
    for (; j + 4 <= w; j += 4) v128.store(row + bytes(j), v128.load(src + bytes(j)));
    for (; j < w; j++) store<f32>(row + bytes(j), load<f32>(src + bytes(j)));
  }
}

/** Floats after the padded plane that the last row's last group may load. */
export const SLACK = 16;

/** Floats of scratch for the transforms' intermediate vectors and the edge tiles. */
export const SCRATCH = 4 * 6 * 4 + 16;

