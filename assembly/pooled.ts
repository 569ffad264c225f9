// Weight gradient of a convolution whose output feeds a max-pool (LeNet's and AlexNet's conv →
// ReLU → max-pool). The pool's backward routes each pooled gradient g to the one conv output its
// window picked, so the conv's dy holds at most one non-zero per window: a 2×2 pool leaves three
// quarters of it zero, and the ReLU in between zeroes more. Rather than expanding dy and running
// the dense product over all those zeros, every non-zero g adds g · (the input patch under its
// conv output) to the weight gradient:
//   dW[o, c, ki, kj] = Σ_n Σ_{pooled p, g ≠ 0} g[n, o, p] · xpad[n, c, r·sh + ki, q·sw + kj]
// with (r, q) = indices[n, o, p] split over the conv output width. That is exactly the dense
// weight gradient of dy = maxPool2dBackward(g, indices), whose other terms are products with zero.
//
// A patch row (c, ki) is kw contiguous floats of the padded image, read as one or two v128 (kw ≤ 8;
// the lanes past kw are read and dropped). Per filter, the non-zeros of the whole batch are listed
// once (value, byte offset of the patch), then chunks of patch rows are held in registers while
// the list streams past: one load and one multiply-add per vector, one store per chunk. Each
// weight sums images in order and, within an image, the pooled positions in order, so the result
// does not depend on how the filters are split between threads.
import { madd } from "./gemm";
import { outSize, padInterior, round4 } from "./conv";

// @ts-ignore: decorator
@inline function bytes(n: i32): usize {
  return <usize>n << 2;
}

/**
 * Swizzle patterns that move the 32-bit lanes set in a 4-bit mask to the front, in lane order
 * (16 bytes per mask; 0x80 fills the rest with zeros).
 */
const PACK = memory.data<u8>([
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x04, 0x05, 0x06, 0x07, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x08, 0x09, 0x0a, 0x0b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0x0a, 0x0b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x80, 0x80, 0x80, 0x80,
  0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x04, 0x05, 0x06, 0x07, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x80, 0x80, 0x80,
  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x80, 0x80, 0x80,
  0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
]);

/** Patch rows per chunk: 5 rows of two vectors (kw 5 … 8; a 5×5 kernel's rows come in fives) or 8 rows of one (kw ≤ 4). */
// @ts-ignore: decorator
@inline function chunkRows(kw: i32): i32 {
  return kw > 4 ? 5 : 8;
}

/** Whether conv2dWeightGradPooled handles this kernel width (the TypeScript side falls back otherwise). */
export function pooledWeightGradSupported(kw: i32): bool {
  return kw >= 1 && kw <= 8;
}

/**
 * Floats of workspace one thread needs: the conv-position → patch-offset table, the patch-row
 * table, the batch's zero-bordered images (plus 8 floats the last row's vector loads may reach),
 * the list of one filter's non-zeros over the batch (4 floats longer: it is written 4 at a time),
 * and one chunk's 40 sums.
 */
export function pooledWeightGradWorkspaceFloats(n: i32, c: i32, h: i32, wd: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, pooled: i32): i32 {
  const ho = outSize(h, kh, sh, ph), wo = outSize(wd, kw, sw, pw);
  const r = chunkRows(kw);
  const rowsPadded = (c * kh + r - 1) / r * r;
  const plane = c * (h + 2 * ph) * (wd + 2 * pw);
  return round4(ho * wo) + round4(rowsPadded) + round4(n * plane + 8) + 2 * round4(n * pooled + 4) + 40;
}

/**
 * dw[o0 … o1) (and db[o0 … o1) when db ≠ 0) for x [n × c × h × wd], pooled gradients g and the
 * pool's indices [n × o × pooled] (flat r·wo + q in the conv output plane; an index outside it is
 * skipped, as the pool's backward skips it). Rows o0 … o1 of dw and db are overwritten.
 */
export function conv2dWeightGradPooled(
  x: usize, g: usize, indices: usize, dw: usize, db: usize, ws: usize, o0: i32, o1: i32,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, pooled: i32,
): void {
  const ho = outSize(h, kh, sh, ph), wo = outSize(wd, kw, sw, pw);
  const positions = ho * wo;
  const hp = h + 2 * ph, wp = wd + 2 * pw;
  const rows = c * kh;
  const r = chunkRows(kw);
  const rowsPadded = (rows + r - 1) / r * r;
  const k = rows * kw;
  const plane = c * hp * wp;
  const table = ws;
  const rowTable = table + bytes(round4(positions));
  const xs = rowTable + bytes(round4(rowsPadded));
  const listG = xs + bytes(round4(n * plane + 8));
  const listO = listG + bytes(round4(n * pooled + 4));
  const lanes = listO + bytes(round4(n * pooled + 4));
  patchOffsets(table, positions, wo, sh, sw, wp, 1);
  // Rows past the last are read (from the first image's start) with the chunk, and never stored.
  for (let j = 0; j < rowsPadded; j++) {
    const ci = j / kh;
    store<i32>(rowTable + bytes(j), j < rows ? <i32>bytes((ci * hp + j - ci * kh) * wp) : 0);
  }
  // Without padding the batch already has the layout the patch rows are read in: read x itself
  // (each thread copied the whole batch, 0.3 MB for LeNet's conv2 at b64), as long as the vector
  // loads past the last row (up to 8 floats, dropped) stay inside memory.
  const inPlace = ph == 0 && pw == 0 && x + bytes(n * plane + 8) <= (<usize>memory.size() << 16);
  const images = inPlace ? x : xs;
  if (!inPlace) {
    memory.fill(xs, 0, bytes(n * plane + 8));
    for (let ni = 0; ni < n; ni++) padInterior(x + bytes(ni * c * h * wd), xs + bytes(ni * plane), c, h, wd, ph, pw);
  }
  const stride = kw > 4 ? 8 : 4;
  for (let oi = o0; oi < o1; oi++) {
    // The filter's non-zeros over the whole batch, in image order.
    let m = 0;
    for (let ni = 0; ni < n; ni++) {
      const at = (ni * o + oi) * pooled;
      m = listNonZeros(g + bytes(at), indices + bytes(at), pooled, positions, table, <i32>bytes(ni * plane), listG, listO, m);
    }
    // The zeros left out add nothing to the bias gradient either.
    if (db != 0) store<f32>(db + bytes(oi), sumList(listG, m));
    const dwo = dw + bytes(oi * k);
    for (let j0 = 0; j0 < rowsPadded; j0 += r) {
      if (kw > 4) chunkWide(images, rowTable + bytes(j0), listG, listO, m, lanes);
      else chunkNarrow(images, rowTable + bytes(j0), listG, listO, m, lanes);
      const last = min(r, rows - j0);
      for (let t = 0; t < last; t++) {
        const dst = dwo + bytes((j0 + t) * kw);
        const src = lanes + bytes(t * stride);
        for (let q = 0; q < kw; q++) store<f32>(dst + bytes(q), load<f32>(src + bytes(q)));
      }
    }
  }
}

/**
 * table[i] = the byte offset, in a zero-bordered plane whose rows are wp pixels of `unit` floats, of
 * the patch under conv output i = r·wo + q (top-left pixel (r·sh, q·sw)), for `positions` outputs:
 * the offsets listNonZeros looks the pool's indices up in.
 */
export function patchOffsets(table: usize, positions: i32, wo: i32, sh: i32, sw: i32, wp: i32, unit: i32): void {
  for (let i = 0; i < positions; i++) {
    const r = i / wo;
    store<i32>(table + bytes(i), <i32>bytes(((r * sh) * wp + (i - r * wo) * sw) * unit));
  }
}

/**
 * Appends the non-zeros of one pooled plane (gradients gp, indices ip) to the list: the value at
 * listG + 4m, and at listO + 4m the byte offset base + table[index] of its conv output's patch; returns
 * the new length. No branch per entry: whether the ReLU zeroed a gradient is a coin toss per window,
 * so a branch would mispredict about half the time. Four entries at a time, the kept ones are
 * packed to the front of a vector by a swizzle chosen by their bit mask, the vector is stored whole
 * at the list's end and the end advances by the number kept (the list needs 4 floats of room past
 * its last entry). v ≠ 0 holds for NaN too, so a NaN gradient still reaches its sums, as in the dense
 * product; an index outside the conv output (`positions`) is skipped, as the pool's backward skips it.
 */
// @ts-ignore: decorator
@inline export function listNonZeros(
  gp: usize, ip: usize, pooled: i32, positions: i32, table: usize, base: i32, listG: usize, listO: usize, m: i32,
): i32 {
  const positionsV = i32x4.splat(positions);
  const zero = f32x4.splat(0);
  const pooled4 = pooled & ~3;
  for (let p = 0; p < pooled4; p += 4) {
    const v = v128.load(gp + bytes(p));
    const idx = v128.load(ip + bytes(p));
    const inside = i32x4.lt_u(idx, positionsV);
    const bits = i32x4.bitmask(v128.and(inside, f32x4.ne(v, zero)));
    const at = v128.and(idx, inside);
    let off = i32x4.splat(base + load<i32>(table + bytes(i32x4.extract_lane(at, 0))));
    off = i32x4.replace_lane(off, 1, base + load<i32>(table + bytes(i32x4.extract_lane(at, 1))));
    off = i32x4.replace_lane(off, 2, base + load<i32>(table + bytes(i32x4.extract_lane(at, 2))));
    off = i32x4.replace_lane(off, 3, base + load<i32>(table + bytes(i32x4.extract_lane(at, 3))));
    const pack = v128.load(PACK + (<usize>bits << 4));
    v128.store(listG + bytes(m), i8x16.swizzle(v, pack));
    v128.store(listO + bytes(m), i8x16.swizzle(off, pack));
    m += popcnt(bits);
  }
  for (let p = pooled4; p < pooled; p++) {
    const v = load<f32>(gp + bytes(p));
    const idx = load<i32>(ip + bytes(p));
    const inside = <u32>idx < <u32>positions;
    store<f32>(listG + bytes(m), v);
    store<i32>(listO + bytes(m), base + load<i32>(table + bytes(select<i32>(idx, 0, inside))));
    m += <i32>(inside & (v != 0));
  }
  return m;
}

/** Σ listG[0 … m) in a fixed order (four lanes, then the lanes and the tail), independent of threads. */
function sumList(listG: usize, m: i32): f32 {
  let acc = f32x4.splat(0);
  const m4 = m & ~3;
  for (let e = 0; e < m4; e += 4) acc = f32x4.add(acc, v128.load(listG + bytes(e)));
  let sum = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  for (let e = m4; e < m; e++) sum += load<f32>(listG + bytes(e));
  return sum;
}

/**
 * Five patch rows of up to 8 taps over the m non-zeros; lanes ← 5 rows × 8 sums. Exported (see
 * index.ts) to keep it a function of its own.
 */
export function chunkWide(xs: usize, rowTable: usize, listG: usize, listO: usize, m: i32, lanes: usize): void {
  const b0 = xs + <usize>load<i32>(rowTable), b1 = xs + <usize>load<i32>(rowTable, 4);
  const b2 = xs + <usize>load<i32>(rowTable, 8), b3 = xs + <usize>load<i32>(rowTable, 12);
  const b4 = xs + <usize>load<i32>(rowTable, 16);
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  let a40 = f32x4.splat(0), a41 = f32x4.splat(0);
  for (let e = 0; e < m; e++) {
    const gs = v128.load32_splat(listG + bytes(e));
    const off = <usize>load<i32>(listO + bytes(e));
    const p0 = b0 + off, p1 = b1 + off, p2 = b2 + off, p3 = b3 + off, p4 = b4 + off;
    a00 = madd(a00, gs, v128.load(p0)); a01 = madd(a01, gs, v128.load(p0, 16));
    a10 = madd(a10, gs, v128.load(p1)); a11 = madd(a11, gs, v128.load(p1, 16));
    a20 = madd(a20, gs, v128.load(p2)); a21 = madd(a21, gs, v128.load(p2, 16));
    a30 = madd(a30, gs, v128.load(p3)); a31 = madd(a31, gs, v128.load(p3, 16));
    a40 = madd(a40, gs, v128.load(p4)); a41 = madd(a41, gs, v128.load(p4, 16));
  }
  v128.store(lanes, a00); v128.store(lanes, a01, 16);
  v128.store(lanes, a10, 32); v128.store(lanes, a11, 48);
  v128.store(lanes, a20, 64); v128.store(lanes, a21, 80);
  v128.store(lanes, a30, 96); v128.store(lanes, a31, 112);
  v128.store(lanes, a40, 128); v128.store(lanes, a41, 144);
}

/** Eight patch rows of up to 4 taps over the m non-zeros; lanes ← 8 rows × 4 sums. Exported like chunkWide. */
export function chunkNarrow(xs: usize, rowTable: usize, listG: usize, listO: usize, m: i32, lanes: usize): void {
  const b0 = xs + <usize>load<i32>(rowTable), b1 = xs + <usize>load<i32>(rowTable, 4);
  const b2 = xs + <usize>load<i32>(rowTable, 8), b3 = xs + <usize>load<i32>(rowTable, 12);
  const b4 = xs + <usize>load<i32>(rowTable, 16), b5 = xs + <usize>load<i32>(rowTable, 20);
  const b6 = xs + <usize>load<i32>(rowTable, 24), b7 = xs + <usize>load<i32>(rowTable, 28);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
  for (let e = 0; e < m; e++) {
    const gs = v128.load32_splat(listG + bytes(e));
    const off = <usize>load<i32>(listO + bytes(e));
    a0 = madd(a0, gs, v128.load(b0 + off)); a1 = madd(a1, gs, v128.load(b1 + off));
    a2 = madd(a2, gs, v128.load(b2 + off)); a3 = madd(a3, gs, v128.load(b3 + off));
    a4 = madd(a4, gs, v128.load(b4 + off)); a5 = madd(a5, gs, v128.load(b5 + off));
    a6 = madd(a6, gs, v128.load(b6 + off)); a7 = madd(a7, gs, v128.load(b7 + off));
  }
  v128.store(lanes, a0); v128.store(lanes, a1, 16); v128.store(lanes, a2, 32); v128.store(lanes, a3, 48);
  v128.store(lanes, a4, 64); v128.store(lanes, a5, 80); v128.store(lanes, a6, 96); v128.store(lanes, a7, 112);
}
