// Sparse-weight kernels: the forward pass and the input gradient of linear and conv2d layers with
// the (pruned) weight held in compressed sparse row (CSR) form, so compute and memory scale with
// the kept weights. A conv weight [O, C, kh, kw] is the matrix [O × C·kh·kw], as im2col sees it.
//
// The input gradient multiplies by Wᵀ; it takes the CSR of Wᵀ (built alongside, src/sparse/csr.ts)
// so every kernel walks rows: the CPU kernels then never scatter across threads of work, and the
// GPU kernels gather per output element without atomics (WGSL has no float atomics).
//
// The structure (rowPtr, colIdx) is not checked against the tensors' contents here — that would
// read them back from the device on every call. It is validated once when it is built on the host
// (csrFromMask and friends) and uploaded by SparseWeights; kernels trust it.
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import { expectDistinct, expectDType, expectFinite, expectRank, expectShape, fail } from './checks.ts';
import { checkPoolSide, convGeometry, type Conv2dDims, scatterPooled, validOutputRange } from './conv.ts';
import type { FloatArray } from './reference-types.ts';

/** A sparse [rows × cols] matrix on a backend: row r holds colIdx/values[rowPtr[r] … rowPtr[r+1]). */
export interface CsrMatrix {
  rows: number;
  cols: number;
  /** i32 [rows + 1]: 0, then the running count of stored entries. */
  rowPtr: Tensor;
  /** i32 [nnz]: the column of each stored entry, ascending within a row. */
  colIdx: Tensor;
  /** f32 [nnz]. */
  values: Tensor;
}

export interface CsrGatherArgs {
  /** The dense matrix, any shape with rows·cols elements (a weight tensor as it is). */
  w: Tensor;
  /** Output: a.values ← the entries of w at a's positions. */
  a: CsrMatrix;
  /** True when `a` is the CSR of wᵀ ([cols of w × rows of w]): entry (r, c) is w[c, r]. */
  transposed?: boolean;
}

export interface SparseLinearForwardArgs {
  x: Tensor;
  /** W [out × in]. */
  w: CsrMatrix;
  b?: Tensor;
  y: Tensor;
}

export interface SparseLinearBackwardDataArgs {
  dy: Tensor;
  /** The CSR of Wᵀ [in × out]. */
  wt: CsrMatrix;
  /** Output, overwritten: dy·W. */
  dx: Tensor;
}

export interface SparseConv2dForwardArgs {
  x: Tensor;
  /** W [O × C·kh·kw]. */
  w: CsrMatrix;
  /** [kh, kw]: the kernel the matrix's columns unfold. */
  kernel: [number, number];
  b?: Tensor;
  y: Tensor;
  stride?: [number, number];
  padding?: [number, number];
}

export interface SparseConv2dBackwardDataArgs {
  dy: Tensor;
  /** The CSR of Wᵀ [C·kh·kw × O]. */
  wt: CsrMatrix;
  kernel: [number, number];
  /** Output, overwritten, shaped like the forward pass's x. */
  dx: Tensor;
  stride?: [number, number];
  padding?: [number, number];
}

/**
 * sparseConv2dBackwardData for a convolution whose output feeds a max-pool, from the pool's side:
 * with g and indices as for conv2dWeightGradPooled, exactly its dx for dy = maxPool2dBackward(g,
 * indices); the fast kernels skip the zeros of that dy as well as the pruned weights.
 */
export interface SparseConv2dInputGradPooledArgs {
  /** [N, O, Hp, Wp]: the pool's output gradient and, i32, its indices (an index outside the plane is skipped). */
  g: Tensor; indices: Tensor;
  /** The CSR of Wᵀ [C·kh·kw × O], as sparseConv2dBackwardData takes it. */
  wt: CsrMatrix;
  kernel: [number, number];
  /** Output, overwritten, shaped like the forward pass's x. */
  dx: Tensor;
  stride?: [number, number];
  padding?: [number, number];
}

export interface CsrAddScaledByInvNormArgs {
  /** The kept weights (a CSR of W, values gathered): the penalised M⊙W without its zeros. */
  a: CsrMatrix;
  /** out of sumSquares(a.values): [1], ‖M⊙W‖₂². */
  sumSquares: Tensor;
  /** The dense gradient of W (rows·cols elements): grad[r, c] += lambda·v/√sumSquares at the kept (r, c). */
  grad: Tensor;
  lambda: number;
}

export interface SparseLinearDims { batch: number; inFeatures: number; outFeatures: number }

/** Validates a CSR argument's tensors against its declared size; returns nnz. */
export function checkCsr(kernel: string, name: string, a: CsrMatrix): number {
  if (!a || typeof a !== 'object') throw new InvalidArgumentError(`${kernel}: '${name}' must be a CsrMatrix {rows, cols, rowPtr, colIdx, values}`);
  for (const [what, v] of [['rows', a.rows], ['cols', a.cols]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`${kernel}: '${name}.${what}' must be a non-negative integer, got ${String(v)}`);
  }
  for (const part of ['rowPtr', 'colIdx', 'values'] as const) {
    if (!a[part]) throw new InvalidArgumentError(`${kernel}: '${name}.${part}' is missing (a CsrMatrix needs rowPtr, colIdx and values tensors)`);
  }
  expectDType(kernel, `${name}.rowPtr`, a.rowPtr, 'i32');
  expectDType(kernel, `${name}.colIdx`, a.colIdx, 'i32');
  expectDType(kernel, `${name}.values`, a.values, 'f32');
  expectShape(kernel, `${name}.rowPtr`, a.rowPtr, [a.rows + 1]);
  expectRank(kernel, `${name}.colIdx`, a.colIdx, 1);
  expectShape(kernel, `${name}.values`, a.values, a.colIdx.shape);
  const nnz = a.colIdx.size;
  if (nnz > a.rows * a.cols) fail(kernel, `'${name}' stores ${nnz} entries but is only ${a.rows}×${a.cols}`);
  return nnz;
}

/** The tensors of a CSR argument, for ownership checks (nothing when it is not an object). */
export const csrParts = (a: CsrMatrix | undefined): Tensor[] =>
  (a && typeof a === 'object' ? [a.rowPtr, a.colIdx, a.values] : []);

export const csrTensors = (name: string, a: CsrMatrix): Record<string, Tensor> =>
  ({ [`${name}.rowPtr`]: a.rowPtr, [`${name}.colIdx`]: a.colIdx, [`${name}.values`]: a.values });

export function checkCsrGather(a: CsrGatherArgs): number {
  const k = 'csrGather';
  checkCsr(k, 'a', a.a);
  expectDType(k, 'w', a.w, 'f32');
  if (a.w.size !== a.a.rows * a.a.cols) {
    fail(k, `w has ${a.w.size} elements but a is ${a.a.rows}×${a.a.cols}${a.transposed ? ' (the transpose of w)' : ''}`);
  }
  expectDistinct(k, { w: a.w, ...csrTensors('a', a.a) });
  return a.a.rows;
}

export function checkCsrAddScaledByInvNorm(a: CsrAddScaledByInvNormArgs): number {
  const k = 'csrAddScaledByInvNorm';
  checkCsr(k, 'a', a.a);
  expectDType(k, 'sumSquares', a.sumSquares, 'f32');
  expectDType(k, 'grad', a.grad, 'f32');
  expectShape(k, 'sumSquares', a.sumSquares, [1]);
  if (a.grad.size !== a.a.rows * a.a.cols) fail(k, `grad has ${a.grad.size} elements but a is ${a.a.rows}×${a.a.cols}`);
  expectFinite(k, 'lambda', a.lambda);
  expectDistinct(k, { sumSquares: a.sumSquares, grad: a.grad, ...csrTensors('a', a.a) });
  return a.a.rows;
}

export function checkSparseLinearForward(a: SparseLinearForwardArgs): SparseLinearDims {
  const k = 'sparseLinearForward';
  checkCsr(k, 'w', a.w);
  expectDType(k, 'x', a.x, 'f32');
  expectDType(k, 'y', a.y, 'f32');
  expectRank(k, 'x', a.x, 2);
  const [batch, inFeatures] = a.x.shape as [number, number];
  if (inFeatures !== a.w.cols) fail(k, `x has ${inFeatures} features but w is ${a.w.rows}×${a.w.cols} (expects [out, ${inFeatures}])`);
  const d = { batch, inFeatures, outFeatures: a.w.rows };
  if (a.b) {
    expectDType(k, 'b', a.b, 'f32');
    expectShape(k, 'b', a.b, [d.outFeatures]);
  }
  expectShape(k, 'y', a.y, [batch, d.outFeatures]);
  expectDistinct(k, { x: a.x, b: a.b, y: a.y, ...csrTensors('w', a.w) });
  return d;
}

/** dx = dy·W is the forward product of dy with Wᵀ: the dims returned are those of that product. */
export function checkSparseLinearBackwardData(a: SparseLinearBackwardDataArgs): SparseLinearDims {
  const k = 'sparseLinearBackwardData';
  checkCsr(k, 'wt', a.wt);
  expectDType(k, 'dy', a.dy, 'f32');
  expectDType(k, 'dx', a.dx, 'f32');
  expectRank(k, 'dy', a.dy, 2);
  const [batch, outFeatures] = a.dy.shape as [number, number];
  if (outFeatures !== a.wt.cols) fail(k, `dy has ${outFeatures} features but wt is ${a.wt.rows}×${a.wt.cols} (expects [in, ${outFeatures}])`);
  expectShape(k, 'dx', a.dx, [batch, a.wt.rows]);
  expectDistinct(k, { dy: a.dy, dx: a.dx, ...csrTensors('wt', a.wt) });
  return { batch, inFeatures: outFeatures, outFeatures: a.wt.rows };
}

function kernelPair(k: string, kernel: unknown): [number, number] {
  if (!Array.isArray(kernel) || kernel.length !== 2 || kernel.some((v) => !Number.isSafeInteger(v) || (v as number) < 1)) {
    throw new InvalidArgumentError(`${k}: 'kernel' must be a pair of positive integers [kh, kw], got ${JSON.stringify(kernel)}`);
  }
  return [kernel[0] as number, kernel[1] as number];
}

/** The channels a conv weight matrix of `cols` columns unfolds to, given its kernel. */
function channelsOf(k: string, name: string, cols: number, [kh, kw]: [number, number]): number {
  if (cols % (kh * kw) !== 0) fail(k, `'${name}' has ${cols} columns, not a multiple of the ${kh}×${kw} kernel area`);
  return cols / (kh * kw);
}

export function checkSparseConv2dForward(a: SparseConv2dForwardArgs): Conv2dDims {
  const k = 'sparseConv2dForward';
  const d = sparseForwardGeometry(k, a);
  expectDType(k, 'y', a.y, 'f32');
  expectShape(k, 'y', a.y, [d.batch, d.outChannels, d.outH, d.outW]);
  expectDistinct(k, { x: a.x, b: a.b, y: a.y, ...csrTensors('w', a.w) });
  return d;
}

/** The geometry of a sparse forward pass from x, the CSR of W, its kernel and the bias (checked). */
export function sparseForwardGeometry(k: string, a: Omit<SparseConv2dForwardArgs, 'y'>): Conv2dDims {
  checkCsr(k, 'w', a.w);
  const [kh, kw] = kernelPair(k, a.kernel);
  for (const n of ['x', 'b'] as const) if (a[n]) expectDType(k, n, a[n], 'f32');
  const d = convGeometry(k, a.x, [a.w.rows, channelsOf(k, 'w', a.w.cols, [kh, kw]), kh, kw], a.stride, a.padding);
  if (a.b) expectShape(k, 'b', a.b, [d.outChannels]);
  return d;
}

export function checkSparseConv2dBackwardData(a: SparseConv2dBackwardDataArgs): Conv2dDims {
  const k = 'sparseConv2dBackwardData';
  checkCsr(k, 'wt', a.wt);
  const [kh, kw] = kernelPair(k, a.kernel);
  expectDType(k, 'dy', a.dy, 'f32');
  expectDType(k, 'dx', a.dx, 'f32');
  const d = convGeometry(k, a.dx, [a.wt.cols, channelsOf(k, 'wt', a.wt.rows, [kh, kw]), kh, kw], a.stride, a.padding, 'dx');
  expectShape(k, 'dy', a.dy, [d.batch, d.outChannels, d.outH, d.outW]);
  expectDistinct(k, { dy: a.dy, dx: a.dx, ...csrTensors('wt', a.wt) });
  return d;
}

/** Checks the arguments; returns the convolution's geometry and the pooled positions per plane. */
export function checkSparseConv2dInputGradPooled(a: SparseConv2dInputGradPooledArgs): Conv2dDims & { pooled: number } {
  const k = 'sparseConv2dInputGradPooled';
  checkCsr(k, 'wt', a.wt);
  const [kh, kw] = kernelPair(k, a.kernel);
  expectDType(k, 'g', a.g, 'f32');
  expectDType(k, 'indices', a.indices, 'i32');
  expectDType(k, 'dx', a.dx, 'f32');
  const d = convGeometry(k, a.dx, [a.wt.cols, channelsOf(k, 'wt', a.wt.rows, [kh, kw]), kh, kw], a.stride, a.padding, 'dx');
  const pooled = checkPoolSide(k, a.g, a.indices, d, 'dx', 'wt');
  expectDistinct(k, { g: a.g, indices: a.indices, dx: a.dx, ...csrTensors('wt', a.wt) });
  return { ...d, pooled };
}

// ---- plain references (accumulate in doubles; used by the reference backend and by tests) ----

export type IndexArray = ArrayLike<number>;

export function csrGatherRef(
  w: FloatArray, rowPtr: IndexArray, colIdx: IndexArray, values: FloatArray, rows: number, cols: number, transposed: boolean,
): void {
  for (let r = 0; r < rows; r++) {
    for (let i = rowPtr[r]!; i < rowPtr[r + 1]!; i++) values[i] = transposed ? w[colIdx[i]! * rows + r]! : w[r * cols + colIdx[i]!]!;
  }
}

/** grad[r·cols + c] += lambda·v/√sumSquares for each kept (r, c, v); nothing when the norm is 0. */
export function csrAddScaledByInvNormRef(
  rowPtr: IndexArray, colIdx: IndexArray, values: FloatArray, rows: number, cols: number, sumSquares: number, grad: FloatArray, lambda: number,
): void {
  if (!(sumSquares > 0)) return;
  const scale = lambda / Math.sqrt(sumSquares);
  for (let r = 0; r < rows; r++) {
    for (let i = rowPtr[r]!; i < rowPtr[r + 1]!; i++) {
      const at = r * cols + colIdx[i]!;
      grad[at] = grad[at]! + scale * values[i]!;
    }
  }
}

/** y [batch × rows] = x [batch × cols]·Aᵀ + b. */
export function sparseLinearForwardRef(
  x: FloatArray, rowPtr: IndexArray, colIdx: IndexArray, values: FloatArray, b: FloatArray | undefined, y: FloatArray,
  d: SparseLinearDims,
): void {
  const { batch, inFeatures: I, outFeatures: O } = d;
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < O; o++) {
      let s = b ? b[o]! : 0;
      for (let i = rowPtr[o]!; i < rowPtr[o + 1]!; i++) s += values[i]! * x[n * I + colIdx[i]!]!;
      y[n * O + o] = s;
    }
  }
}

export function sparseConv2dForwardRef(
  x: FloatArray, rowPtr: IndexArray, colIdx: IndexArray, values: FloatArray, b: FloatArray | undefined, y: FloatArray,
  d: Conv2dDims,
): void {
  const { batch: N, inChannels: C, inH: H, inW: W, outChannels: O, kernelH: KH, kernelW: KW, outH: Ho, outW: Wo } = d;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oh = 0; oh < Ho; oh++) {
        for (let ow = 0; ow < Wo; ow++) {
          let s = b ? b[o]! : 0;
          for (let i = rowPtr[o]!; i < rowPtr[o + 1]!; i++) {
            const k = colIdx[i]!;
            const c = Math.floor(k / (KH * KW));
            const ki = Math.floor(k / KW) % KH;
            const kj = k % KW;
            const ih = oh * d.strideH - d.padH + ki;
            const iw = ow * d.strideW - d.padW + kj;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) s += values[i]! * x[((n * C + c) * H + ih) * W + iw]!;
          }
          y[((n * O + o) * Ho + oh) * Wo + ow] = s;
        }
      }
    }
  }
}

/** dx from dy and the CSR of Wᵀ (row k = (c, ki, kj) lists the output channels tap k feeds). */
export function sparseConv2dBackwardDataRef(
  dy: FloatArray, rowPtr: IndexArray, colIdx: IndexArray, values: FloatArray, dx: FloatArray, d: Conv2dDims,
): void {
  const { batch: N, inChannels: C, inH: H, inW: W, outChannels: O, kernelH: KH, kernelW: KW, outH: Ho, outW: Wo } = d;
  const { strideH: sh, strideW: sw, padH: ph, padW: pw } = d;
  const acc = new Float64Array(C * H * W);
  for (let n = 0; n < N; n++) {
    acc.fill(0);
    for (let c = 0; c < C; c++) {
      for (let ki = 0; ki < KH; ki++) {
        const [ohLo, ohHi] = validOutputRange(ki, H, sh, ph, Ho);
        for (let kj = 0; kj < KW; kj++) {
          const [owLo, owHi] = validOutputRange(kj, W, sw, pw, Wo);
          const k = (c * KH + ki) * KW + kj;
          for (let i = rowPtr[k]!; i < rowPtr[k + 1]!; i++) {
            const o = colIdx[i]!;
            const v = values[i]!;
            for (let oh = ohLo; oh < ohHi; oh++) {
              const ih = oh * sh - ph + ki;
              for (let ow = owLo; ow < owHi; ow++) {
                const at = (c * H + ih) * W + ow * sw - pw + kj;
                acc[at] = acc[at]! + v * dy[((n * O + o) * Ho + oh) * Wo + ow]!;
              }
            }
          }
        }
      }
    }
    for (let i = 0; i < acc.length; i++) dx[n * C * H * W + i] = acc[i]!;
  }
}

/** sparseConv2dInputGradPooled by its definition: dy = the pool's scatter of g, then the sparse input gradient. */
export function sparseConv2dInputGradPooledRef(
  g: FloatArray, indices: Int32Array, rowPtr: IndexArray, colIdx: IndexArray, values: FloatArray, dx: FloatArray, d: Conv2dDims, pooled: number,
): void {
  sparseConv2dBackwardDataRef(scatterPooled(g, indices, d, pooled), rowPtr, colIdx, values, dx, d);
}
