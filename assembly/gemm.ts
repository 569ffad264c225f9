// General matrix products on row-major f32 matrices, the workhorse of linear and (later) conv
// layers. Three layouts cover a layer's forward and both backward products without transposing:
//   gemmNT: C = A·Bᵀ   (linear forward:  y  = x · Wᵀ)
//   gemmNN: C = A·B    (linear input grad: dx = dy · W)
//   gemmTN: C = Aᵀ·B   (linear weight grad: dW = dyᵀ · x)
// With beta = 0 C is overwritten, with beta = 1 the product is added to C.

// @ts-ignore: decorator
@inline function addr(base: usize, index: i32): usize {
  return base + (<usize>index << 2);
}

/** Sum of the four lanes, in lane order. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)
       + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * acc + a·b, the one multiply-add every product and convolution goes through. The relaxed-SIMD
 * build (scripts/build-wasm.mjs) makes it `f32x4.relaxed_madd`, which engines compile to one fused
 * instruction where the CPU has one: half the instructions of a multiply and an add, and the
 * pipes of both (x86 issues multiplies and adds on different ports). Plain SIMD has no fused
 * form and rounds after the product and after the sum; those bits are the same on every machine,
 * the relaxed ones are the same from run to run on one machine.
 */
// @ts-ignore: decorator
@inline export function madd(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/**
 * acc + a·b on one float, rounded the way `madd` rounds each lane: fused in the relaxed build
 * (one lane of relaxed_madd; WebAssembly has no scalar fused multiply-add). Scalar tails use it so
 * that an element computes to the same bits whether a vector body or a tail reaches it — which
 * one does can depend on how the work is split between threads.
 */
// @ts-ignore: decorator
@inline export function madd1(acc: f32, a: f32, b: f32): f32 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.extract_lane(f32x4.relaxed_madd(f32x4.splat(a), f32x4.splat(b), f32x4.splat(acc)), 0);
  }
  return acc + a * b;
}

// @ts-ignore: decorator
@inline function storeScaled(c: usize, value: f32, beta: f32): void {
  store<f32>(c, beta == 0 ? value : madd1(value, beta, load<f32>(c)));
}

// Row addressing of B, chosen at compile time: Dense rows are ldb floats apart, Gathered rows start
// at the offsets (in floats) listed in an i32 table. Generic rather than a runtime flag so that the
// plain products keep their inner loops free of the table load.
class Dense {}
class Gathered {}

// @ts-ignore: decorator
@inline function rowOf<G>(b: usize, offs: usize, row: i32, ldb: i32): usize {
  if (idof<G>() == idof<Gathered>()) return b + (<usize>load<i32>(offs + (<usize>row << 2)) << 2);
  return addr(b, row * ldb);
}

// Cursor over the rows of B for the inner loops, which walk p one row at a time: the address of
// row p, column j comes from a pointer bumped each step rather than from products of indices
// (neither binaryen nor V8 strength-reduces those, and on the small products of LeNet-5's
// convolutions the integer work held the multiply-adds back). Dense: the cursor is the row's
// address; Gathered: it points into the offset table.

// @ts-ignore: decorator
@inline function rowCursor<G>(b: usize, offs: usize, j: i32): usize {
  return idof<G>() == idof<Gathered>() ? offs : b + (<usize>j << 2);
}

// @ts-ignore: decorator
@inline function rowAt<G>(cursor: usize, bj: usize): usize {
  return idof<G>() == idof<Gathered>() ? bj + (<usize>load<i32>(cursor) << 2) : cursor;
}

// @ts-ignore: decorator
@inline function rowStep<G>(ldb: i32): usize {
  return idof<G>() == idof<Gathered>() ? 4 : <usize>ldb << 2;
}

/** Dot product of two contiguous rows of length k. */
function dot(a: usize, b: usize, k: i32): f32 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= k; i += 8) {
    acc0 = madd(acc0, v128.load(addr(a, i)), v128.load(addr(b, i)));
    acc1 = madd(acc1, v128.load(addr(a, i + 4)), v128.load(addr(b, i + 4)));
  }
  for (; i + 4 <= k; i += 4) {
    acc0 = madd(acc0, v128.load(addr(a, i)), v128.load(addr(b, i)));
  }
  let sum = hsum(f32x4.add(acc0, acc1));
  for (; i < k; i++) sum = madd1(sum, load<f32>(addr(a, i)), load<f32>(addr(b, i)));
  return sum;
}

/** C[m×n] = A[m×k] · B[n×k]ᵀ (+ beta·C). Blocks of 2 rows of A × 4 rows of B share their loads. */
export function gemmNT(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, beta: f32): void {
  gemmNTStrided(a, b, c, m, n, k, n, beta);
}

/**
 * gemmNT into a block of a wider C whose rows are `ldc` floats apart: a thread that owns columns
 * j0 … j1 of C passes c + j0 and the full row length. Element (i, j) is computed by the same path
 * (2×4 block or dot-product tail) as in the full product as long as the block starts at an even
 * row and a column that is a multiple of 4, so split products are bit-identical to whole ones.
 */
export function gemmNTStrided(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, ldc: i32, beta: f32): void {
  const m2 = m & ~1, n4 = n & ~3;
  // Each 2 × 4 block streams its rows of A and B over all of k. Rows of B outside, rows of A inside
  // when A is the smaller operand (a linear layer's batch against its weight): B is then read from
  // memory once and A, small, from cache, instead of all of B once per pair of rows. Same blocks,
  // same sums either way.
  if (m < n) {
    for (let j = 0; j < n4; j += 4) for (let i = 0; i < m2; i += 2) ntBlock(a, b, c, i, j, k, ldc, beta);
  } else {
    for (let i = 0; i < m2; i += 2) for (let j = 0; j < n4; j += 4) ntBlock(a, b, c, i, j, k, ldc, beta);
  }
  for (let i = 0; i < m2; i += 2) {
    const a0 = addr(a, i * k);
    const a1 = addr(a, (i + 1) * k);
    for (let j = n4; j < n; j++) {
      const bj = addr(b, j * k);
      storeScaled(addr(c, i * ldc + j), dot(a0, bj, k), beta);
      storeScaled(addr(c, (i + 1) * ldc + j), dot(a1, bj, k), beta);
    }
  }
  for (let i = m2; i < m; i++) {
    const ai = addr(a, i * k);
    for (let j = 0; j < n; j++) storeScaled(addr(c, i * ldc + j), dot(ai, addr(b, j * k), k), beta);
  }
}

/** C[i … i+1, j … j+3] of gemmNTStrided: 2 rows of A × 4 rows of B share their loads. */
// @ts-ignore: decorator
@inline function ntBlock(a: usize, b: usize, c: usize, i: i32, j: i32, k: i32, ldc: i32, beta: f32): void {
  const a0 = addr(a, i * k);
  const a1 = addr(a, (i + 1) * k);
  const b0 = addr(b, j * k);
  const b1 = addr(b, (j + 1) * k);
  const b2 = addr(b, (j + 2) * k);
  const b3 = addr(b, (j + 3) * k);
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
  let p = 0;
  for (; p + 4 <= k; p += 4) {
    const x0 = v128.load(addr(a0, p));
    const x1 = v128.load(addr(a1, p));
    const w0 = v128.load(addr(b0, p));
    const w1 = v128.load(addr(b1, p));
    const w2 = v128.load(addr(b2, p));
    const w3 = v128.load(addr(b3, p));
    c00 = madd(c00, x0, w0); c01 = madd(c01, x0, w1); c02 = madd(c02, x0, w2); c03 = madd(c03, x0, w3);
    c10 = madd(c10, x1, w0); c11 = madd(c11, x1, w1); c12 = madd(c12, x1, w2); c13 = madd(c13, x1, w3);
  }
  let s00 = hsum(c00), s01 = hsum(c01), s02 = hsum(c02), s03 = hsum(c03);
  let s10 = hsum(c10), s11 = hsum(c11), s12 = hsum(c12), s13 = hsum(c13);
  for (; p < k; p++) {
    const x0 = load<f32>(addr(a0, p));
    const x1 = load<f32>(addr(a1, p));
    const w0 = load<f32>(addr(b0, p));
    const w1 = load<f32>(addr(b1, p));
    const w2 = load<f32>(addr(b2, p));
    const w3 = load<f32>(addr(b3, p));
    s00 = madd1(s00, x0, w0); s01 = madd1(s01, x0, w1); s02 = madd1(s02, x0, w2); s03 = madd1(s03, x0, w3);
    s10 = madd1(s10, x1, w0); s11 = madd1(s11, x1, w1); s12 = madd1(s12, x1, w2); s13 = madd1(s13, x1, w3);
  }
  const r0 = addr(c, i * ldc + j);
  const r1 = addr(c, (i + 1) * ldc + j);
  storeScaled(r0, s00, beta); storeScaled(r0 + 4, s01, beta);
  storeScaled(r0 + 8, s02, beta); storeScaled(r0 + 12, s03, beta);
  storeScaled(r1, s10, beta); storeScaled(r1 + 4, s11, beta);
  storeScaled(r1 + 8, s12, beta); storeScaled(r1 + 12, s13, beta);
}

/**
 * C[m×n] = A·B (+ beta·C) where A(i, p) sits at a + 4·(i·strideI + p·strideP) and B is row-major
 * [k×n]. Row-major A is (strideI = k, strideP = 1); A stored transposed as [k×m] is (1, m).
 * Vectorised along n: each A element is broadcast against 8 consecutive columns of B.
 */
export function gemmStridedA(
  a: usize, strideI: i32, strideP: i32, b: usize, c: usize, m: i32, n: i32, k: i32, beta: f32,
): void {
  // A block of rows reads all of B (k × n) once; with several blocks and a B past the caches
  // (a 4096 × 4096 linear layer at batch 32: 64 MB read 8 times from memory), go by panels of
  // columns instead: each panel (≤ PANEL_FLOATS) is read from memory once and then from cache by
  // every block of rows. Every element sums its products in the same order whatever the blocking,
  // so the result has the same bits.
  if (m > 4 && <i64>k * <i64>n > PANEL_FLOATS) {
    if (beta == 0 && k > PANEL_DEPTH) {
      // A deep B (k rows) also goes by chunks of its rows, so a panel is a compact block rather
      // than 64 bytes from each of thousands of pages. C holds each chunk's running sums and the
      // next chunk resumes from them: the same additions in the same order, stored and reloaded
      // exactly. (With beta ≠ 0 the old C would be overwritten before its turn: no chunks then.)
      const width = PANEL_FLOATS / PANEL_DEPTH;
      for (let j0 = 0; j0 < n; j0 += width) {
        for (let p0 = 0; p0 < k; p0 += PANEL_DEPTH) {
          stridedACore<Dense>(a + (<usize>(p0 * strideP) << 2), strideI, strideP, addr(b, p0 * n + j0), 0, addr(c, j0), n, n, m,
            min(width, n - j0), min(PANEL_DEPTH, k - p0), 0, p0 > 0);
        }
      }
      return;
    }
    const width = max(16, (PANEL_FLOATS / k) & ~15);
    for (let j0 = 0; j0 < n; j0 += width) {
      stridedACore<Dense>(a, strideI, strideP, addr(b, j0), 0, addr(c, j0), n, n, m, min(width, n - j0), k, beta, false);
    }
    return;
  }
  stridedACore<Dense>(a, strideI, strideP, b, 0, c, n, n, m, n, k, beta, false);
}

/** Rows of B per chunk of a deep panel (see gemmStridedA). */
const PANEL_DEPTH = 256;

/** Floats of B per panel of gemmStridedA: 256 KiB, a quarter of this machine's L2. */
const PANEL_FLOATS = 1 << 16;

/**
 * gemmStridedA where row p of B starts at b + 4·offs[p] (offs: k i32s) and rows of C are ldc floats
 * apart: the forward pass of an implicit im2col (see conv.ts). Each element of C is summed over p in
 * the same order as by gemmStridedA, so both give the same bits for the same operands.
 */
export function gemmGatherB(
  a: usize, strideI: i32, strideP: i32, b: usize, offs: usize, c: usize, ldc: i32, m: i32, n: i32, k: i32, beta: f32,
): void {
  stridedACore<Gathered>(a, strideI, strideP, b, offs, c, ldc, n, m, n, k, beta, false);
}

// @ts-ignore: decorator
@inline function stridedACore<G>(
  a: usize, strideI: i32, strideP: i32, b: usize, offs: usize, c: usize, ldc: i32, ldb: i32, m: i32, n: i32, k: i32, beta: f32,
  resume: bool,
): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    let j = 0;
    for (; j + 8 <= n; j += 8) {
      const q0 = addr(c, i * ldc + j), q1 = addr(c, (i + 1) * ldc + j), q2 = addr(c, (i + 2) * ldc + j), q3 = addr(c, (i + 3) * ldc + j);
      let c00 = start(resume, q0), c01 = start(resume, q0 + 16);
      let c10 = start(resume, q1), c11 = start(resume, q1 + 16);
      let c20 = start(resume, q2), c21 = start(resume, q2 + 16);
      let c30 = start(resume, q3), c31 = start(resume, q3 + 16);
      const si = <usize>strideI << 2, sp = <usize>strideP << 2, step = rowStep<G>(ldb);
      const bj = b + (<usize>j << 2);
      let ap = a + (<usize>(i * strideI) << 2);
      let cursor = rowCursor<G>(b, offs, j);
      for (let p = 0; p < k; p++) {
        const brow = rowAt<G>(cursor, bj);
        const w0 = v128.load(brow);
        const w1 = v128.load(brow, 16);
        const x0 = v128.load32_splat(ap);
        const x1 = v128.load32_splat(ap + si);
        const x2 = v128.load32_splat(ap + 2 * si);
        const x3 = v128.load32_splat(ap + 3 * si);
        c00 = madd(c00, x0, w0); c01 = madd(c01, x0, w1);
        c10 = madd(c10, x1, w0); c11 = madd(c11, x1, w1);
        c20 = madd(c20, x2, w0); c21 = madd(c21, x2, w1);
        c30 = madd(c30, x3, w0); c31 = madd(c31, x3, w1);
        ap += sp;
        cursor += step;
      }
      storeRow8(q0, c00, c01, beta);
      storeRow8(q1, c10, c11, beta);
      storeRow8(q2, c20, c21, beta);
      storeRow8(q3, c30, c31, beta);
    }
    for (let r = 0; r < 4; r++) rowTail<G>(a, strideI, strideP, b, offs, c, ldc, ldb, i + r, j, n, k, beta, resume);
  }
  if (i + 2 <= m) {
    // Two leftover rows (a 6-filter convolution, m ≡ 2 mod 4) share each B load: a lone row would
    // load as many B vectors as it does multiply-adds.
    let j = 0;
    for (; j + 16 <= n; j += 16) {
      const r0 = addr(c, i * ldc + j), r1 = addr(c, (i + 1) * ldc + j);
      let c00 = start(resume, r0), c01 = start(resume, r0 + 16), c02 = start(resume, r0 + 32), c03 = start(resume, r0 + 48);
      let c10 = start(resume, r1), c11 = start(resume, r1 + 16), c12 = start(resume, r1 + 32), c13 = start(resume, r1 + 48);
      const si = <usize>strideI << 2, sp = <usize>strideP << 2, step = rowStep<G>(ldb);
      const bj = b + (<usize>j << 2);
      let ap = a + (<usize>(i * strideI) << 2);
      let cursor = rowCursor<G>(b, offs, j);
      for (let p = 0; p < k; p++) {
        const brow = rowAt<G>(cursor, bj);
        const x0 = v128.load32_splat(ap);
        const x1 = v128.load32_splat(ap + si);
        const w0 = v128.load(brow), w1 = v128.load(brow, 16), w2 = v128.load(brow, 32), w3 = v128.load(brow, 48);
        c00 = madd(c00, x0, w0); c01 = madd(c01, x0, w1); c02 = madd(c02, x0, w2); c03 = madd(c03, x0, w3);
        c10 = madd(c10, x1, w0); c11 = madd(c11, x1, w1); c12 = madd(c12, x1, w2); c13 = madd(c13, x1, w3);
        ap += sp;
        cursor += step;
      }
      storeRow8(r0, c00, c01, beta); storeRow8(r0 + 32, c02, c03, beta);
      storeRow8(r1, c10, c11, beta); storeRow8(r1 + 32, c12, c13, beta);
    }
    rowTail<G>(a, strideI, strideP, b, offs, c, ldc, ldb, i, j, n, k, beta, resume);
    rowTail<G>(a, strideI, strideP, b, offs, c, ldc, ldb, i + 1, j, n, k, beta, resume);
    i += 2;
  }
  for (; i < m; i++) rowTail<G>(a, strideI, strideP, b, offs, c, ldc, ldb, i, 0, n, k, beta, resume);
}

/** An accumulator's start: 0, or the running sum already in C (a resumed chunk of k). */
// @ts-ignore: decorator
@inline function start(resume: bool, at: usize): v128 {
  return resume ? v128.load(at) : f32x4.splat(0);
}

// @ts-ignore: decorator
@inline function storeRow8(dst: usize, lo: v128, hi: v128, beta: f32): void {
  if (beta != 0) {
    const vb = f32x4.splat(beta);
    lo = madd(lo, vb, v128.load(dst));
    hi = madd(hi, vb, v128.load(dst, 16));
  }
  v128.store(dst, lo);
  v128.store(dst, hi, 16);
}

/**
 * Columns j0 … n−1 of row i of C: sixteen at a time (four independent accumulators, so the
 * multiply-add chain does not serialise on latency — this is the whole product for the leftover
 * rows of small-M products such as a 6-filter convolution), then four, then one at a time.
 */
function rowTail<G>(
  a: usize, strideI: i32, strideP: i32, b: usize, offs: usize, c: usize, ldc: i32, ldb: i32, i: i32, j0: i32, n: i32, k: i32, beta: f32,
  resume: bool,
): void {
  let j = j0;
  for (; j + 16 <= n; j += 16) {
    const dst = addr(c, i * ldc + j);
    let acc0 = start(resume, dst), acc1 = start(resume, dst + 16), acc2 = start(resume, dst + 32), acc3 = start(resume, dst + 48);
    for (let p = 0; p < k; p++) {
      const x = v128.load32_splat(a + (<usize>(i * strideI + p * strideP) << 2));
      const row = rowOf<G>(b, offs, p, ldb) + (<usize>j << 2);
      acc0 = madd(acc0, x, v128.load(row));
      acc1 = madd(acc1, x, v128.load(row, 16));
      acc2 = madd(acc2, x, v128.load(row, 32));
      acc3 = madd(acc3, x, v128.load(row, 48));
    }
    storeRow8(dst, acc0, acc1, beta);
    storeRow8(dst + 32, acc2, acc3, beta);
  }
  for (; j + 4 <= n; j += 4) {
    const dst = addr(c, i * ldc + j);
    let acc = start(resume, dst);
    for (let p = 0; p < k; p++) {
      const x = v128.load32_splat(a + (<usize>(i * strideI + p * strideP) << 2));
      acc = madd(acc, x, v128.load(rowOf<G>(b, offs, p, ldb) + (<usize>j << 2)));
    }
    if (beta != 0) acc = madd(acc, f32x4.splat(beta), v128.load(dst));
    v128.store(dst, acc);
  }
  for (; j < n; j++) {
    let s: f32 = resume ? load<f32>(addr(c, i * ldc + j)) : 0;
    for (let p = 0; p < k; p++) {
      s = madd1(s, load<f32>(a + (<usize>(i * strideI + p * strideP) << 2)), load<f32>(rowOf<G>(b, offs, p, ldb) + (<usize>j << 2)));
    }
    storeScaled(addr(c, i * ldc + j), s, beta);
  }
}

/** C[m×n] = A[m×k] · B[k×n] (+ beta·C). */
export function gemmNN(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, beta: f32): void {
  gemmStridedA(a, k, 1, b, c, m, n, k, beta);
}

/** C[m×n] = A[k×m]ᵀ · B[k×n] (+ beta·C). */
export function gemmTN(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, beta: f32): void {
  gemmStridedA(a, 1, m, b, c, m, n, k, beta);
}

// ---- packed products: for operands whose rows are far apart in memory ----
//
// A linear layer's backward products read B = W [out × in] (dx = dy·W) and A = dyᵀ, B = x
// (dW = dyᵀ·x) down their columns: consecutive p are a whole row apart, 16 KiB for a 4096-wide
// layer. Those addresses all fall into the same set of this machine's 8-way L1, so a block that
// walks 256 of them misses on every load (24 GFLOP/s, against 36 for the forward product, which
// reads along rows). The packed products first copy a chunk of B into contiguous 8-column strips
// and a block of A into contiguous 4-row groups, then run the same 4 × 8 register blocks over
// them. Each element of C is still the sum of its products in ascending p, started from zero and
// stored and reloaded exactly between chunks: gemmStridedAPacked's bits equal gemmStridedA's. A
// convolution's lowered products (conv.ts) go through the same copies: the forward pass and the
// input gradient through gemmStridedAPacked, the weight gradient through gemmNTPacked, whose B is
// im2col's column matrix read transposed.

/** Rows of B per packed chunk (k direction). */
const PACK_DEPTH = 256;

/** Floats of one packed chunk of B: 256 KiB, a quarter of this machine's L2 (like PANEL_FLOATS). */
const PACK_FLOATS = 1 << 16;

// @ts-ignore: decorator
@inline function packWidth(n8: i32, kc: i32): i32 {
  return min(n8, max(8, (PACK_FLOATS / kc) & ~7));
}

/**
 * Rows of A (and of C) per register block of the packed products: 6 × 8 of C in twelve
 * accumulators where the multiply-add is fused; the plain build's multiply needs a register of its
 * own for each product, and twelve accumulators then no longer fit V8's fifteen SIMD registers on
 * x64, so 5 × 8 there. Measured on this machine (the block alone, its operands in L1/L2, depth
 * 64–256): fused 4 × 8 58–61 GFLOP/s, 5 × 8 59–60, 6 × 8 64–66 (4 × 12 spills: 31–34); plain
 * 4 × 8 50–52, 5 × 8 57–61, 6 × 8 33–35. Every row of C is still one running sum per element
 * whatever its block, so the height does not change a bit.
 */
export const BLOCK_ROWS: i32 = ASC_FEATURE_RELAXED_SIMD ? 6 : 5;

/** Workspace floats a packed product needs for n columns of C and depth k (any m). */
export function packedGemmWorkspaceFloats(n: i32, k: i32): i32 {
  const n8 = n & ~7;
  if (n8 == 0 || k == 0) return 0;
  const kc = min(k, PACK_DEPTH);
  return packedRowsFloats(k) + kc * packWidth(n8, kc);
}

/**
 * C[m×n] = A·B (overwritten) with A(i, p) at a + 4·(i·strideI + p·strideP), B [k×n] with rows ldb
 * floats apart and C's rows ldc apart (a block of columns of wider matrices): gemmStridedA's
 * product, with the same bits, through packed copies in ws (packedGemmWorkspaceFloats(n, k) floats).
 * bp: 0, or B's strips already packed by packB (packedBFloats(n, k) floats), for a B that serves
 * several products (Winograd's blocks of kernels); B itself is still read for the columns past the
 * strips, and ws then needs only packedRowsFloats(k) floats for the rows' copies.
 */
export function gemmStridedAPacked(
  a: usize, strideI: i32, strideP: i32, b: usize, ldb: i32, bp: usize, c: usize, ldc: i32, ws: usize, m: i32, n: i32, k: i32,
): void {
  const n8 = n & ~7;
  if (k == 0) {
    for (let i = 0; i < m; i++) memory.fill(addr(c, i * ldc), 0, <usize>n << 2);
    return;
  }
  packedProduct(a, strideI, strideP, b, ldb, false, bp, c, ldc, ws, m, n8, k, false);
  // The columns right of the strips (all of them when n < 8).
  for (let i = 0; i < m; i++) rowTail<Dense>(a, strideI, strideP, b, 0, c, ldc, ldb, i, n8, n, k, 0, false);
}

/**
 * C[m×n] = A·Bᵀ, or C + A·Bᵀ when `resume`, with A [m×k] and B [n×k] (rows lda and ldb floats
 * apart) and C's rows ldc apart: a convolution's weight gradient, dy·colᵀ, chunk after chunk of
 * images. Every element is one running sum over p in ascending order, continued from C when
 * resuming (so consecutive calls sum like one call over their concatenated k), whether it falls in
 * a packed block or a tail: the bits do not depend on how C is split into blocks of columns.
 * ws: packedGemmWorkspaceFloats(n, k) floats; bp as for gemmStridedAPacked.
 */
export function gemmNTPacked(
  a: usize, lda: i32, b: usize, ldb: i32, bp: usize, c: usize, ldc: i32, ws: usize, m: i32, n: i32, k: i32, resume: bool,
): void {
  const n8 = n & ~7;
  if (k > 0) packedProduct(a, lda, 1, b, ldb, true, bp, c, ldc, ws, m, n8, k, resume);
  // The columns right of the strips (every column when there is nothing to sum).
  const j0 = k > 0 ? n8 : 0;
  for (let i = 0; i < m; i++) {
    const ai = addr(a, i * lda);
    for (let j = j0; j < n; j++) {
      const bj = addr(b, j * ldb);
      const dst = addr(c, i * ldc + j);
      let s: f32 = resume ? load<f32>(dst) : 0;
      for (let p = 0; p < k; p++) s = madd1(s, load<f32>(ai + (<usize>p << 2)), load<f32>(bj + (<usize>p << 2)));
      store<f32>(dst, s);
    }
  }
}

/** Floats packB writes for B [k × n]: its first n & ~7 columns. */
export function packedBFloats(n: i32, k: i32): i32 {
  return (n & ~7) * k;
}

/**
 * bp = B's first n & ~7 columns packed whole, as packedProduct packs them chunk by chunk: for each
 * chunk of PACK_DEPTH rows (p), n8/8 strips [kc × 8]. B(p, j) at b + 4·(p·ldb + j), or at
 * b + 4·(j·ldb + p) when `transposed`.
 */
export function packB(b: usize, ldb: i32, transposed: bool, bp: usize, n: i32, k: i32): void {
  const n8 = n & ~7;
  if (n8 == 0) return;
  for (let p0 = 0; p0 < k; p0 += PACK_DEPTH) {
    const kc = min(PACK_DEPTH, k - p0);
    const dst = bp + (<usize>(p0 * n8) << 2);
    if (transposed) packStripsT(addr(b, p0), ldb, dst, kc, n8);
    else packStrips(addr(b, p0 * ldb), ldb, dst, kc, n8);
  }
}

/**
 * Floats of the packed copy of a block of rows of A for depth k, and 8 more where a partial
 * block's missing rows are stored (see packedBlock).
 */
export function packedRowsFloats(k: i32): i32 {
  return BLOCK_ROWS * min(k, PACK_DEPTH) + 8;
}

/**
 * The BLOCK_ROWS × 8 blocks of C[m × n8] (+)= A·B over packed copies in ws (the last block of rows
 * padded with zero rows of A, its padding never stored); B(p, j) is at b + 4·(p·ldb + j), or at
 * b + 4·(j·ldb + p) when `bTransposed`; its strips are taken from bp instead when non-zero.
 */
function packedProduct(
  a: usize, strideI: i32, strideP: i32, b: usize, ldb: i32, bTransposed: bool, bp: usize, c: usize, ldc: i32, ws: usize,
  m: i32, n8: i32, k: i32, resume: bool,
): void {
  if (m == 0 || n8 == 0) return;
  const ap = ws;
  const sink = ws + (<usize>(packedRowsFloats(k) - 8) << 2);
  for (let p0 = 0; p0 < k; p0 += PACK_DEPTH) {
    const kc = min(PACK_DEPTH, k - p0);
    const onto = resume || p0 > 0;
    if (bp != 0) {
      // B packed whole beforehand (packB): each block of rows is copied once and meets every strip.
      const strips = bp + (<usize>(p0 * n8) << 2);
      for (let i = 0; i < m; i += BLOCK_ROWS) {
        const rows = min(BLOCK_ROWS, m - i);
        packRows(a + (<usize>(i * strideI + p0 * strideP) << 2), strideI, strideP, ap, kc, rows);
        for (let j = 0; j < n8; j += 8) block(ap, strips + (<usize>(j * kc) << 2), addr(c, i * ldc + j), ldc, kc, onto, rows, sink);
      }
      continue;
    }
    const width = packWidth(n8, kc);
    const strips = ws + (<usize>packedRowsFloats(k) << 2);
    for (let j0 = 0; j0 < n8; j0 += width) {
      const nc = min(width, n8 - j0);
      if (bTransposed) packStripsT(addr(b, j0 * ldb + p0), ldb, strips, kc, nc);
      else packStrips(addr(b, p0 * ldb + j0), ldb, strips, kc, nc);
      for (let i = 0; i < m; i += BLOCK_ROWS) {
        const rows = min(BLOCK_ROWS, m - i);
        packRows(a + (<usize>(i * strideI + p0 * strideP) << 2), strideI, strideP, ap, kc, rows);
        for (let j = 0; j < nc; j += 8) {
          block(ap, strips + (<usize>(j * kc) << 2), addr(c, i * ldc + j0 + j), ldc, kc, onto, rows, sink);
        }
      }
    }
  }
}

/**
 * packStrips for B stored transposed: B(p, j) at bT + 4·(j·ldT + p). Four p at a time, each
 * 4 × 4 square of B is read along p and transposed in registers.
 */
function packStripsT(bT: usize, ldT: i32, bp: usize, kc: i32, nc: i32): void {
  const row = <usize>ldT << 2;
  const strip = <usize>(kc * 8) << 2;
  const k4 = kc & ~3;
  for (let j = 0; j < nc; j += 8) {
    const src = bT + <usize>j * row;
    const dst = bp + (<usize>(j / 8) * strip);
    for (let p = 0; p < k4; p += 4) {
      const at = src + (<usize>p << 2);
      const out = dst + (<usize>(p * 8) << 2);
      transpose4(at, row, out);
      transpose4(at + 4 * row, row, out + 16);
    }
    for (let p = k4; p < kc; p++) {
      for (let jj = 0; jj < 8; jj++) store<f32>(dst + (<usize>(p * 8 + jj) << 2), load<f32>(src + <usize>jj * row + (<usize>p << 2)));
    }
  }
}

/** out[r·32 bytes + 4·q] = src[q·row + 4·r] for r, q < 4: a 4 × 4 square into four strip rows. */
// @ts-ignore: decorator
@inline function transpose4(src: usize, row: usize, out: usize): void {
  const r0 = v128.load(src), r1 = v128.load(src + row), r2 = v128.load(src + 2 * row), r3 = v128.load(src + 3 * row);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(out, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 32);
  v128.store(out, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 64);
  v128.store(out, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 96);
}

/** bp = B's chunk [kc × nc] (rows ldb floats apart) as nc/8 strips of [kc × 8], each contiguous. */
function packStrips(b: usize, ldb: i32, bp: usize, kc: i32, nc: i32): void {
  const strip = <usize>(kc * 8) << 2;
  for (let p = 0; p < kc; p++) {
    const row = addr(b, p * ldb);
    let dst = bp + (<usize>(p * 8) << 2);
    for (let j = 0; j < nc; j += 8) {
      v128.store(dst, v128.load(row + (<usize>j << 2)));
      v128.store(dst, v128.load(row + (<usize>j << 2), 16), 16);
      dst += strip;
    }
  }
}

/**
 * ap [kc × BLOCK_ROWS] = A(i … i+rows−1, p0 … p0+kc−1) by p, from a = &A(i, p0); rows past `rows`
 * (a last, partial block) are zeros.
 */
function packRows(a: usize, strideI: i32, strideP: i32, ap: usize, kc: i32, rows: i32): void {
  const si = <usize>strideI << 2, sp = <usize>strideP << 2;
  const R = BLOCK_ROWS;
  const lane = <usize>R << 2;
  if (rows < R) {
    for (let p = 0; p < kc; p++) {
      const src = a + <usize>p * sp, dst = ap + <usize>p * lane;
      for (let r = 0; r < R; r++) store<f32>(dst + (<usize>r << 2), r < rows ? load<f32>(src + <usize>r * si) : 0);
    }
    return;
  }
  if (strideI == 1) {
    for (let p = 0; p < kc; p++) {
      const src = a + <usize>p * sp, dst = ap + <usize>p * lane;
      v128.store(dst, v128.load(src));
      if (R == 6) store<u64>(dst, load<u64>(src, 16), 16);
      else store<f32>(dst, load<f32>(src, 16), 16);
    }
    return;
  }
  let p0 = 0;
  if (strideP == 1) {
    // Rows along p (a convolution's or Winograd's kernels, the forward product's A): four p of the
    // first four rows at a time, transposed in registers, instead of sixteen scalar moves; the
    // other rows interleaved in pairs (or stored lane by lane).
    for (; p0 + 4 <= kc; p0 += 4) {
      const src = a + (<usize>p0 << 2);
      const r0 = v128.load(src), r1 = v128.load(src + si), r2 = v128.load(src + 2 * si), r3 = v128.load(src + 3 * si);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const dst = ap + <usize>p0 * lane;
      v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(dst + lane, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
      v128.store(dst + 2 * lane, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
      v128.store(dst + 3 * lane, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
      const r4 = v128.load(src + 4 * si);
      if (R == 6) {
        const r5 = v128.load(src + 5 * si);
        const lo = v128.shuffle<f32>(r4, r5, 0, 4, 1, 5), hi = v128.shuffle<f32>(r4, r5, 2, 6, 3, 7);
        v128.store64_lane(dst, lo, 0, 16);
        v128.store64_lane(dst + lane, lo, 1, 16);
        v128.store64_lane(dst + 2 * lane, hi, 0, 16);
        v128.store64_lane(dst + 3 * lane, hi, 1, 16);
      } else {
        v128.store32_lane(dst, r4, 0, 16);
        v128.store32_lane(dst + lane, r4, 1, 16);
        v128.store32_lane(dst + 2 * lane, r4, 2, 16);
        v128.store32_lane(dst + 3 * lane, r4, 3, 16);
      }
    }
  }
  for (let p = p0; p < kc; p++) {
    const src = a + <usize>p * sp, dst = ap + <usize>p * lane;
    for (let r = 0; r < R; r++) store<f32>(dst + (<usize>r << 2), load<f32>(src + <usize>r * si));
  }
}

/** packedBlock: the block of rows (of BLOCK_ROWS or fewer) at ap meets the strip at bp. */
// @ts-ignore: decorator
@inline function block(ap: usize, bp: usize, c: usize, ldc: i32, kc: i32, resume: bool, rows: i32, sink: usize): void {
  if (rows > 4) packedBlock(ap, bp, c, ldc, kc, resume, rows, sink);
  else packedBlock4(ap, bp, c, ldc, kc, resume, rows, sink);
}

/**
 * packedBlock for a last block of at most four rows (a product of 64 rows is ten blocks of six and
 * one of four), so that it does not compute six.
 */
function packedBlock4(ap: usize, bp: usize, c: usize, ldc: i32, kc: i32, resume: bool, rows: i32, sink: usize): void {
  const ld = <usize>ldc << 2;
  const q0 = c, q1 = rows > 1 ? q0 + ld : sink, q2 = rows > 2 ? q0 + 2 * ld : sink, q3 = rows > 3 ? q0 + 3 * ld : sink;
  let c00 = start(resume, q0), c01 = start(resume, q0 + 16);
  let c10 = start(resume, q1), c11 = start(resume, q1 + 16);
  let c20 = start(resume, q2), c21 = start(resume, q2 + 16);
  let c30 = start(resume, q3), c31 = start(resume, q3 + 16);
  for (let p = 0; p < kc; p++) {
    const w0 = v128.load(bp), w1 = v128.load(bp, 16);
    const x0 = v128.load32_splat(ap), x1 = v128.load32_splat(ap, 4);
    const x2 = v128.load32_splat(ap, 8), x3 = v128.load32_splat(ap, 12);
    c00 = madd(c00, x0, w0); c01 = madd(c01, x0, w1);
    c10 = madd(c10, x1, w0); c11 = madd(c11, x1, w1);
    c20 = madd(c20, x2, w0); c21 = madd(c21, x2, w1);
    c30 = madd(c30, x3, w0); c31 = madd(c31, x3, w1);
    ap += <usize>BLOCK_ROWS << 2;
    bp += 32;
  }
  v128.store(q0, c00); v128.store(q0, c01, 16);
  v128.store(q1, c10); v128.store(q1, c11, 16);
  v128.store(q2, c20); v128.store(q2, c21, 16);
  v128.store(q3, c30); v128.store(q3, c31, 16);
}

/**
 * C[0 … rows−1, 0 … 7] (rows ldc floats apart) = (resume ? C : 0) + Σ_p ap[p]ᵀ · bp[p] over kc:
 * BLOCK_ROWS rows of sums, of which the first `rows` go to C and the others to `sink` (8 floats).
 * Every row is loaded and stored unconditionally: with a branch around each row's stores, V8 kept
 * the accumulators in memory across the loop and the block ran at half speed (30 GFLOP/s).
 */
function packedBlock(ap: usize, bp: usize, c: usize, ldc: i32, kc: i32, resume: bool, rows: i32, sink: usize): void {
  const ld = <usize>ldc << 2;
  const q0 = c;
  const q1 = rows > 1 ? q0 + ld : sink, q2 = rows > 2 ? q0 + 2 * ld : sink, q3 = rows > 3 ? q0 + 3 * ld : sink;
  const q4 = rows > 4 ? q0 + 4 * ld : sink, q5 = rows > 5 ? q0 + 5 * ld : sink;
  let c00 = start(resume, q0), c01 = start(resume, q0 + 16);
  let c10 = start(resume, q1), c11 = start(resume, q1 + 16);
  let c20 = start(resume, q2), c21 = start(resume, q2 + 16);
  let c30 = start(resume, q3), c31 = start(resume, q3 + 16);
  let c40 = start(resume, q4), c41 = start(resume, q4 + 16);
  let c50 = start(BLOCK_ROWS == 6 && resume, q5), c51 = start(BLOCK_ROWS == 6 && resume, q5 + 16);
  for (let p = 0; p < kc; p++) {
    const w0 = v128.load(bp), w1 = v128.load(bp, 16);
    let x = v128.load32_splat(ap);
    c00 = madd(c00, x, w0); c01 = madd(c01, x, w1);
    x = v128.load32_splat(ap, 4);
    c10 = madd(c10, x, w0); c11 = madd(c11, x, w1);
    x = v128.load32_splat(ap, 8);
    c20 = madd(c20, x, w0); c21 = madd(c21, x, w1);
    x = v128.load32_splat(ap, 12);
    c30 = madd(c30, x, w0); c31 = madd(c31, x, w1);
    x = v128.load32_splat(ap, 16);
    c40 = madd(c40, x, w0); c41 = madd(c41, x, w1);
    if (BLOCK_ROWS == 6) {
      x = v128.load32_splat(ap, 20);
      c50 = madd(c50, x, w0); c51 = madd(c51, x, w1);
    }
    ap += <usize>BLOCK_ROWS << 2;
    bp += 32;
  }
  v128.store(q0, c00); v128.store(q0, c01, 16);
  v128.store(q1, c10); v128.store(q1, c11, 16);
  v128.store(q2, c20); v128.store(q2, c21, 16);
  v128.store(q3, c30); v128.store(q3, c31, 16);
  v128.store(q4, c40); v128.store(q4, c41, 16);
  if (BLOCK_ROWS == 6) { v128.store(q5, c50); v128.store(q5, c51, 16); }
}
