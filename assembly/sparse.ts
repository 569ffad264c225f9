// Sparse-weight kernels for the pruned point M⊙W. A pruned weight is kept in compressed sparse row
// form (rowPtr [rows + 1], colIdx [nnz], values [nnz]); the structure is built on the host when the
// mask changes, the values are gathered from the dense W before each pass (W moves every step).
//
// Everything reduces to one product, C = A·B with A sparse and B, C dense and row-major: each stored
// entry (r, c, v) adds v·B[c, :] to C[r, :], a broadcast multiply-add along a contiguous row, so
// SIMD runs across B's columns whatever the sparsity pattern (gathers along k would not vectorise).
//   linear forward     yᵀ = W·xᵀ           (x transposed so the batch is the contiguous axis)
//   linear input grad  dxᵀ = Wᵀ·dyᵀ        (the same kernel, given the CSR of Wᵀ)
//   conv forward       y_n = W·col_n        (im2col as the dense conv lays it out, then the product)
//   conv input grad    dcol = Wᵀ·dy_n, dx_n = col2im(dcol)
// Convolutions with few kept weights skip im2col (whose cost does not shrink with sparsity) and
// run directly: each kept weight is one multiply-add run per output row it reaches.
// Only the weight gradient is not here: error feedback needs it for every weight, pruned or not,
// so it stays with the dense kernels.
import { col2imAdd, endValid, firstValid, im2col, isPointwise, outSize } from "./conv";

// @ts-ignore: decorator
@inline function bytes(n: i32): usize {
  return <usize>n << 2;
}

// @ts-ignore: decorator
@inline function madd(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

/**
 * C[m×n] = A·B, A sparse [m×k] in CSR, B dense [k×n]; row r of C starts from bias[r] (bias = 0:
 * from zero). Sixteen columns of a row are accumulated in registers across all of the row's
 * entries before they are stored, so C is written once and B is only read.
 */
export function spmm(
  rowPtr: usize, colIdx: usize, values: usize, bias: usize, b: usize, c: usize, m: i32, n: i32,
): void {
  const rowBytes = bytes(n);
  for (let r = 0; r < m; r++) {
    const start = load<i32>(rowPtr + bytes(r));
    const end = load<i32>(rowPtr + bytes(r + 1));
    const b0: f32 = bias != 0 ? load<f32>(bias + bytes(r)) : 0;
    const seed = f32x4.splat(b0);
    const crow = c + <usize>r * rowBytes;
    let j = 0;
    for (; j + 16 <= n; j += 16) {
      let a0 = seed, a1 = seed, a2 = seed, a3 = seed;
      const col = b + bytes(j);
      for (let i = start; i < end; i++) {
        const v = f32x4.splat(load<f32>(values + bytes(i)));
        const src = col + <usize>load<i32>(colIdx + bytes(i)) * rowBytes;
        a0 = madd(a0, v, v128.load(src));
        a1 = madd(a1, v, v128.load(src, 16));
        a2 = madd(a2, v, v128.load(src, 32));
        a3 = madd(a3, v, v128.load(src, 48));
      }
      const dst = crow + bytes(j);
      v128.store(dst, a0);
      v128.store(dst, a1, 16);
      v128.store(dst, a2, 32);
      v128.store(dst, a3, 48);
    }
    for (; j + 4 <= n; j += 4) {
      let a0 = seed;
      const col = b + bytes(j);
      for (let i = start; i < end; i++) {
        const v = f32x4.splat(load<f32>(values + bytes(i)));
        a0 = madd(a0, v, v128.load(col + <usize>load<i32>(colIdx + bytes(i)) * rowBytes));
      }
      v128.store(crow + bytes(j), a0);
    }
    for (; j < n; j++) {
      let s = b0;
      const col = b + bytes(j);
      for (let i = start; i < end; i++) {
        s += load<f32>(values + bytes(i)) * load<f32>(col + <usize>load<i32>(colIdx + bytes(i)) * rowBytes);
      }
      store<f32>(crow + bytes(j), s);
    }
  }
}

/**
 * values[i] = w[r·rowStride + colIdx[i]·colStride] for every stored entry i of row r: the kept
 * weights of the dense W, in CSR order. (cols, 1) gathers the CSR of W itself; (1, rows of W)
 * gathers the CSR of Wᵀ.
 */
export function csrGather(
  w: usize, rowPtr: usize, colIdx: usize, values: usize, rows: i32, rowStride: i32, colStride: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const start = load<i32>(rowPtr + bytes(r));
    const end = load<i32>(rowPtr + bytes(r + 1));
    const base = w + bytes(r * rowStride);
    if (colStride == 1) {
      for (let i = start; i < end; i++) {
        store<f32>(values + bytes(i), load<f32>(base + bytes(load<i32>(colIdx + bytes(i)))));
      }
    } else {
      for (let i = start; i < end; i++) {
        store<f32>(values + bytes(i), load<f32>(base + bytes(load<i32>(colIdx + bytes(i)) * colStride)));
      }
    }
  }
}

/**
 * grad[r·cols + colIdx[i]] += lambda·values[i]/√(sumSq[0]) for every kept entry: the gradient of
 * lambda·‖M⊙W‖₂ from the kept weights alone; nothing when the norm is 0 (the subgradient 0).
 */
export function csrAddScaledByInvNorm(
  rowPtr: usize, colIdx: usize, values: usize, rows: i32, cols: i32, sumSq: usize, grad: usize, lambda: f32,
): void {
  const s = load<f32>(sumSq);
  if (!(s > 0)) return;
  const scale: f32 = <f32>(<f64>lambda / Math.sqrt(<f64>s));
  for (let r = 0; r < rows; r++) {
    const end = load<i32>(rowPtr + bytes(r + 1));
    const base = grad + bytes(r * cols);
    for (let i = load<i32>(rowPtr + bytes(r)); i < end; i++) {
      const at = base + bytes(load<i32>(colIdx + bytes(i)));
      store<f32>(at, load<f32>(at) + scale * load<f32>(values + bytes(i)));
    }
  }
}

/**
 * dst[cols×rows] = src[rows×cols]ᵀ. Four source rows at a time, so every store is a full v128 of
 * four consecutive destination floats.
 */
export function transpose(src: usize, dst: usize, rows: i32, cols: i32): void {
  const srcRow = bytes(cols);
  const dstRow = bytes(rows);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const s0 = src + <usize>r * srcRow;
    const s1 = s0 + srcRow;
    const s2 = s1 + srcRow;
    const s3 = s2 + srcRow;
    let d = dst + bytes(r);
    for (let c = 0; c < cols; c++) {
      const at = bytes(c);
      let v = f32x4.splat(load<f32>(s0 + at));
      v = f32x4.replace_lane(v, 1, load<f32>(s1 + at));
      v = f32x4.replace_lane(v, 2, load<f32>(s2 + at));
      v = f32x4.replace_lane(v, 3, load<f32>(s3 + at));
      v128.store(d, v);
      d += dstRow;
    }
  }
  for (; r < rows; r++) {
    const s = src + <usize>r * srcRow;
    for (let c = 0; c < cols; c++) store<f32>(dst + <usize>c * dstRow + bytes(r), load<f32>(s + bytes(c)));
  }
}

/**
 * y [batch × rows] = x [batch × cols] · Aᵀ + bias, A sparse [rows × cols]. xt (cols·batch floats)
 * and yt (rows·batch floats) are workspaces for the transposed operands; with batch 1 a row is
 * its own transpose and they may be 0.
 */
export function sparseLinearForward(
  x: usize, rowPtr: usize, colIdx: usize, values: usize, bias: usize, y: usize, xt: usize, yt: usize,
  batch: i32, cols: i32, rows: i32,
): void {
  if (batch == 1) {
    spmm(rowPtr, colIdx, values, bias, x, y, rows, 1);
    return;
  }
  transpose(x, xt, batch, cols);
  spmm(rowPtr, colIdx, values, bias, xt, yt, rows, batch);
  transpose(yt, y, rows, batch);
}

/** dst[0 … n) += v·src[0 … n): one kept weight applied along a row of output pixels. */
// @ts-ignore: decorator
@inline function axpyRun(dst: usize, src: usize, n: i32, v: f32): void {
  const vv = f32x4.splat(v);
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const at = bytes(j);
    v128.store(dst + at, madd(v128.load(dst + at), vv, v128.load(src + at)));
    v128.store(dst + at, madd(v128.load(dst + at, 16), vv, v128.load(src + at, 16)), 16);
  }
  for (; j + 4 <= n; j += 4) {
    const at = bytes(j);
    v128.store(dst + at, madd(v128.load(dst + at), vv, v128.load(src + at)));
  }
  for (; j < n; j++) {
    const at = bytes(j);
    store<f32>(dst + at, load<f32>(dst + at) + v * load<f32>(src + at));
  }
}

/**
 * Whether to convolve directly rather than through im2col. Directly, each kept weight costs one
 * multiply-add run per output row it reaches; through im2col each of the k = c·kh·kw taps costs a
 * copy run per output row, then the product runs at full SIMD width. Runs cost about the same, so
 * direct wins while there are fewer kept weights than taps — at high sparsity, and always for
 * layers with few output channels. Runs must be contiguous in the input: stride 1 along w.
 */
// @ts-ignore: decorator
@inline function convolveDirectly(rowPtr: usize, rows: i32, k: i32, sw: i32): bool {
  return sw == 1 && load<i32>(rowPtr + bytes(rows)) < k;
}

/**
 * One kept weight v of tap t = (c, ki, kj) in a direct convolution (stride 1 along w), applied along
 * every output row the tap reaches: there, output pixels [owLo, owHi) of `plane` meet a contiguous
 * run of the input pixels the tap reads in `image` (channel c, shifted by the tap, clipped to the
 * image). Forward: plane += v·image along them; input gradient (toInput): image += v·plane.
 * The direct path only runs with fewer kept weights than taps, so the window is worked out per
 * kept weight: hoisting it per tap (the input gradient walks Wᵀ tap by tap) measured no faster.
 */
// @ts-ignore: decorator
@inline function tapRuns(
  toInput: bool, t: i32, v: f32, image: usize, plane: usize,
  h: i32, wd: i32, kh: i32, kw: i32, sh: i32, ph: i32, pw: i32, ho: i32, wo: i32,
): void {
  const c = t / (kh * kw);
  const ki = (t / kw) % kh;
  const kj = t % kw;
  const ohLo = firstValid(ki, sh, ph);
  const ohHi = endValid(ki, h, sh, ph, ho, ohLo);
  const owLo = firstValid(kj, 1, pw);
  const owHi = endValid(kj, wd, 1, pw, wo, owLo);
  const run = owHi - owLo;
  if (run <= 0) return;
  const in0 = image + bytes(c * h * wd + owLo - pw + kj);
  const out0 = plane + bytes(owLo);
  for (let oh = ohLo; oh < ohHi; oh++) {
    const out = out0 + bytes(oh * wo);
    const inp = in0 + bytes((oh * sh - ph + ki) * wd);
    if (toInput) axpyRun(inp, out, run, v);
    else axpyRun(out, inp, run, v);
  }
}

/**
 * y = conv2d(x, W) + bias with W given as the CSR of its [o × c·kh·kw] matrix. col: workspace of
 * c·kh·kw·ho·wo floats, 0 for a 1×1 stride-1 unpadded conv (x_n is its own im2col); unused when
 * the convolution runs directly.
 */
export function sparseConv2dForward(
  x: usize, rowPtr: usize, colIdx: usize, values: usize, bias: usize, y: usize, col: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
): void {
  const ho = outSize(h, kh, sh, ph);
  const wo = outSize(wd, kw, sw, pw);
  const p = ho * wo;
  const pointwise = isPointwise(kh, kw, sh, sw, ph, pw);
  if (!pointwise && convolveDirectly(rowPtr, o, c * kh * kw, sw)) {
    sparseConvDirect(x, rowPtr, colIdx, values, bias, y, n, c, h, wd, o, kh, kw, sh, ph, pw, ho, wo);
    return;
  }
  for (let ni = 0; ni < n; ni++) {
    const xn = x + bytes(ni * c * h * wd);
    let src = xn;
    if (!pointwise) {
      im2col(xn, col, c, h, wd, kh, kw, sh, sw, ph, pw, ho, wo);
      src = col;
    }
    spmm(rowPtr, colIdx, values, bias, src, y + bytes(ni * o * p), o, p);
  }
}

/** The direct forward pass (stride 1 along w): each kept weight adds v·(its input window) row by row. */
function sparseConvDirect(
  x: usize, rowPtr: usize, colIdx: usize, values: usize, bias: usize, y: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, ph: i32, pw: i32, ho: i32, wo: i32,
): void {
  const p = ho * wo;
  for (let ni = 0; ni < n; ni++) {
    const xn = x + bytes(ni * c * h * wd);
    for (let oc = 0; oc < o; oc++) {
      const plane = y + bytes((ni * o + oc) * p);
      const b0: f32 = bias != 0 ? load<f32>(bias + bytes(oc)) : 0;
      const seed = f32x4.splat(b0);
      let j = 0;
      for (; j + 4 <= p; j += 4) v128.store(plane + bytes(j), seed);
      for (; j < p; j++) store<f32>(plane + bytes(j), b0);
      const end = load<i32>(rowPtr + bytes(oc + 1));
      for (let i = load<i32>(rowPtr + bytes(oc)); i < end; i++) {
        tapRuns(false, load<i32>(colIdx + bytes(i)), load<f32>(values + bytes(i)), xn, plane, h, wd, kh, kw, sh, ph, pw, ho, wo);
      }
    }
  }
}

/**
 * dx = ∂conv2d/∂x for upstream dy [n × o × ho × wo], with the weight given as the CSR of Wᵀ
 * ([c·kh·kw × o]: row k lists the output channels that tap k feeds). dx is overwritten. dcol:
 * workspace of c·kh·kw·ho·wo floats, 0 for a pointwise conv; unused when the pass runs directly.
 */
export function sparseConv2dBackwardData(
  dy: usize, rowPtr: usize, colIdx: usize, values: usize, dx: usize, dcol: usize,
  n: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
): void {
  const ho = outSize(h, kh, sh, ph);
  const wo = outSize(wd, kw, sw, pw);
  const k = c * kh * kw;
  const p = ho * wo;
  const imageBytes = bytes(c * h * wd);
  const pointwise = isPointwise(kh, kw, sh, sw, ph, pw);
  const direct = !pointwise && convolveDirectly(rowPtr, k, k, sw);
  for (let ni = 0; ni < n; ni++) {
    const dyn = dy + bytes(ni * o * p);
    const dxn = dx + <usize>ni * imageBytes;
    if (pointwise) {
      spmm(rowPtr, colIdx, values, 0, dyn, dxn, k, p);
      continue;
    }
    // Overlapping taps add up and skipped pixels must read 0, as in the dense input gradient.
    memory.fill(dxn, 0, imageBytes);
    if (direct) {
      // Each kept weight sends v·(its output rows) back onto the input pixels its tap read.
      for (let t = 0; t < k; t++) {
        const end = load<i32>(rowPtr + bytes(t + 1));
        for (let i = load<i32>(rowPtr + bytes(t)); i < end; i++) {
          const plane = dyn + bytes(load<i32>(colIdx + bytes(i)) * p);
          tapRuns(true, t, load<f32>(values + bytes(i)), dxn, plane, h, wd, kh, kw, sh, ph, pw, ho, wo);
        }
      }
    } else {
      spmm(rowPtr, colIdx, values, 0, dyn, dcol, k, p);
      col2imAdd(dcol, dxn, c, h, wd, kh, kw, sh, sw, ph, pw, ho, wo);
    }
  }
}
