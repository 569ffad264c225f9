// 2-D convolution as torch.nn.functional.conv2d with dilation 1 and groups 1: cross-correlation
// (the kernel is not flipped) of x [N, C, H, W] with W [O, C, kh, kw] (OIHW), zero padding, and
// output size Ho = floor((H + 2·padH − kh) / strideH) + 1 (likewise Wo).
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import { expectDistinct, expectDType, expectRank, expectShape, fail } from './checks.ts';
import type { FloatArray } from './reference-types.ts';

export interface Conv2dForwardArgs {
  x: Tensor; w: Tensor; b?: Tensor; y: Tensor;
  /** [strideH, strideW], positive integers; default [1, 1]. */
  stride?: [number, number];
  /** [padH, padW] zeros on each side, non-negative integers; default [0, 0]. */
  padding?: [number, number];
}
export interface Conv2dBackwardArgs {
  x: Tensor; w: Tensor; dy: Tensor;
  /** Outputs, overwritten; leave out the gradients you do not need. */
  dx?: Tensor; dw?: Tensor; db?: Tensor;
  stride?: [number, number];
  padding?: [number, number];
}

/**
 * The weight (and bias) gradient of a convolution whose output feeds a max-pool, from the pool's
 * side: g is the gradient at the pool's output (after a ReLU between them, if any) and indices are
 * the pool's (flat h·Wo + w within the conv's output plane). The result is exactly conv2dBackward's
 * dw and db for dy = maxPool2dBackward(g, indices), which has at most one non-zero per pooling
 * window; the fast kernels skip the rest.
 */
export interface Conv2dWeightGradPooledArgs {
  /** The convolution's input [N, C, H, W]. */
  x: Tensor;
  /** [N, O, Hp, Wp]: the pool's output gradient and, i32, its indices (an index outside the plane is skipped). */
  g: Tensor; indices: Tensor;
  /** Overwritten: [O, C, kh, kw] (its shape names the kernel), and the bias gradient [O] if wanted. */
  dw: Tensor; db?: Tensor;
  stride?: [number, number];
  padding?: [number, number];
}

/**
 * The input gradient of a convolution whose output feeds a max-pool, from the pool's side: with g
 * and indices as for conv2dWeightGradPooled, the result is exactly conv2dBackward's dx for
 * dy = maxPool2dBackward(g, indices); the fast kernels skip the zeros of that dy.
 */
export interface Conv2dInputGradPooledArgs {
  /** [N, O, Hp, Wp]: the pool's output gradient and, i32, its indices (an index outside the plane is skipped). */
  g: Tensor; indices: Tensor;
  /** The convolution's weight [O, C, kh, kw]. */
  w: Tensor;
  /** Overwritten: the input gradient [N, C, H, W] (its shape names the convolution's input). */
  dx: Tensor;
  stride?: [number, number];
  padding?: [number, number];
}

export interface Conv2dDims {
  batch: number; inChannels: number; inH: number; inW: number;
  outChannels: number; kernelH: number; kernelW: number;
  strideH: number; strideW: number; padH: number; padW: number;
  outH: number; outW: number;
}

function pair(kernel: string, name: string, value: unknown, fallback: [number, number], min: number): [number, number] {
  if (value === undefined) return fallback;
  const what = min > 0 ? 'positive' : 'non-negative';
  if (!Array.isArray(value) || value.length !== 2 || value.some((v) => !Number.isSafeInteger(v) || (v as number) < min)) {
    throw new InvalidArgumentError(`${kernel}: '${name}' must be a pair of ${what} integers [${name}H, ${name}W], got ${JSON.stringify(value)}`);
  }
  return [value[0] as number, value[1] as number];
}

function dims(kernel: string, x: Tensor, w: Tensor, stride: unknown, padding: unknown): Conv2dDims {
  expectRank(kernel, 'w', w, 4);
  return convGeometry(kernel, x, w.shape as [number, number, number, number], stride, padding);
}

/**
 * The geometry of a convolution of x with a weight of shape [out, in, kh, kw] (which a sparse
 * weight only describes, it has no dense tensor): checks x, stride and padding against it.
 */
export function convGeometry(
  kernel: string, x: Tensor, wShape: readonly [number, number, number, number], stride: unknown, padding: unknown,
  xName = 'x',
): Conv2dDims {
  const [strideH, strideW] = pair(kernel, 'stride', stride, [1, 1], 1);
  const [padH, padW] = pair(kernel, 'padding', padding, [0, 0], 0);
  expectRank(kernel, xName, x, 4);
  const [batch, inChannels, inH, inW] = x.shape as [number, number, number, number];
  const [outChannels, wIn, kernelH, kernelW] = wShape;
  if (wIn !== inChannels) {
    fail(kernel, `${xName} has ${inChannels} channels but w is [${wShape.join(', ')}] (expects [out, ${inChannels}, kh, kw])`);
  }
  if (kernelH < 1 || kernelW < 1) fail(kernel, `w must have a kernel of at least 1×1, got ${kernelH}×${kernelW}`);
  const spanH = inH + 2 * padH - kernelH;
  const spanW = inW + 2 * padW - kernelW;
  if (spanH < 0 || spanW < 0) {
    fail(kernel, `a ${kernelH}×${kernelW} kernel does not fit the ${inH}×${inW} input padded by [${padH}, ${padW}]`);
  }
  return {
    batch, inChannels, inH, inW, outChannels, kernelH, kernelW, strideH, strideW, padH, padW,
    outH: Math.floor(spanH / strideH) + 1,
    outW: Math.floor(spanW / strideW) + 1,
  };
}

const outShape = (d: Conv2dDims) => [d.batch, d.outChannels, d.outH, d.outW];

export function checkConv2dForward(a: Conv2dForwardArgs): Conv2dDims {
  const k = 'conv2dForward';
  for (const n of ['x', 'w', 'b', 'y'] as const) if (a[n]) expectDType(k, n, a[n], 'f32');
  const d = dims(k, a.x, a.w, a.stride, a.padding);
  if (a.b) expectShape(k, 'b', a.b, [d.outChannels]);
  expectShape(k, 'y', a.y, outShape(d));
  expectDistinct(k, { x: a.x, w: a.w, b: a.b, y: a.y });
  return d;
}

export function checkConv2dBackward(a: Conv2dBackwardArgs): Conv2dDims {
  const k = 'conv2dBackward';
  for (const n of ['x', 'w', 'dy', 'dx', 'dw', 'db'] as const) if (a[n]) expectDType(k, n, a[n], 'f32');
  const d = dims(k, a.x, a.w, a.stride, a.padding);
  expectShape(k, 'dy', a.dy, outShape(d));
  if (a.dx) expectShape(k, 'dx', a.dx, a.x.shape);
  if (a.dw) expectShape(k, 'dw', a.dw, a.w.shape);
  if (a.db) expectShape(k, 'db', a.db, [d.outChannels]);
  expectDistinct(k, { x: a.x, w: a.w, dy: a.dy, dx: a.dx, dw: a.dw, db: a.db });
  return d;
}

/** Checks the arguments; returns the convolution's geometry and the pooled positions per plane. */
export function checkConv2dWeightGradPooled(a: Conv2dWeightGradPooledArgs): Conv2dDims & { pooled: number } {
  const k = 'conv2dWeightGradPooled';
  for (const n of ['x', 'g', 'dw', 'db'] as const) if (a[n]) expectDType(k, n, a[n], 'f32');
  expectDType(k, 'indices', a.indices, 'i32');
  expectRank(k, 'dw', a.dw, 4);
  const d = convGeometry(k, a.x, a.dw.shape as [number, number, number, number], a.stride, a.padding);
  const pooled = checkPoolSide(k, a.g, a.indices, d, 'x', 'dw');
  if (a.db) expectShape(k, 'db', a.db, [d.outChannels]);
  expectDistinct(k, { x: a.x, g: a.g, indices: a.indices, dw: a.dw, db: a.db });
  return { ...d, pooled };
}

/** Checks the arguments; returns the convolution's geometry and the pooled positions per plane. */
export function checkConv2dInputGradPooled(a: Conv2dInputGradPooledArgs): Conv2dDims & { pooled: number } {
  const k = 'conv2dInputGradPooled';
  for (const n of ['g', 'w', 'dx'] as const) expectDType(k, n, a[n], 'f32');
  expectDType(k, 'indices', a.indices, 'i32');
  expectRank(k, 'w', a.w, 4);
  const d = convGeometry(k, a.dx, a.w.shape as [number, number, number, number], a.stride, a.padding, 'dx');
  const pooled = checkPoolSide(k, a.g, a.indices, d, 'dx', 'w');
  expectDistinct(k, { g: a.g, indices: a.indices, w: a.w, dx: a.dx });
  return { ...d, pooled };
}

/**
 * The pool's side of a gradient taken there: g [N, O, Hp, Wp] with the convolution's batch and
 * filters (named after the tensors that gave them), indices shaped like g. Returns Hp·Wp.
 */
export function checkPoolSide(k: string, g: Tensor, indices: Tensor, d: Conv2dDims, batchFrom: string, filtersFrom: string): number {
  expectRank(k, 'g', g, 4);
  const [gn, go, gh, gw] = g.shape as [number, number, number, number];
  if (gn !== d.batch || go !== d.outChannels) {
    fail(k, `'g' [${g.shape.join(', ')}] must have ${batchFrom}'s batch and ${filtersFrom}'s filters [${d.batch}, ${d.outChannels}, Hp, Wp]`);
  }
  expectShape(k, 'indices', indices, g.shape);
  return gh * gw;
}

/**
 * Output rows (or columns) that kernel offset `k` maps into the input: o·stride − pad + k ∈ [0, size).
 * Returns [lo, hi) within [0, out). Every fast kernel needs the same clipping, so the reference
 * uses it too rather than testing each tap.
 */
export function validOutputRange(k: number, size: number, stride: number, pad: number, out: number): [number, number] {
  const lo = Math.max(0, Math.ceil((pad - k) / stride));
  const hi = Math.min(out, Math.floor((size - 1 + pad - k) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

// ---- plain references (accumulate in doubles; used by the reference backend and by tests) ----

export function conv2dForwardRef(x: FloatArray, w: FloatArray, b: FloatArray | undefined, y: FloatArray, d: Conv2dDims): void {
  const { batch: N, inChannels: C, inH: H, inW: W, outChannels: O, kernelH: KH, kernelW: KW, outH: Ho, outW: Wo } = d;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oh = 0; oh < Ho; oh++) {
        for (let ow = 0; ow < Wo; ow++) {
          let s = b ? b[o]! : 0;
          for (let c = 0; c < C; c++) {
            for (let ki = 0; ki < KH; ki++) {
              const ih = oh * d.strideH - d.padH + ki;
              if (ih < 0 || ih >= H) continue;
              for (let kj = 0; kj < KW; kj++) {
                const iw = ow * d.strideW - d.padW + kj;
                if (iw < 0 || iw >= W) continue;
                s += x[((n * C + c) * H + ih) * W + iw]! * w[((o * C + c) * KH + ki) * KW + kj]!;
              }
            }
          }
          y[((n * O + o) * Ho + oh) * Wo + ow] = s;
        }
      }
    }
  }
}

export function conv2dBackwardRef(
  x: FloatArray, w: FloatArray, dy: FloatArray,
  dx: FloatArray | undefined, dw: FloatArray | undefined, db: FloatArray | undefined, d: Conv2dDims,
): void {
  const { batch: N, inChannels: C, inH: H, inW: W, outChannels: O, kernelH: KH, kernelW: KW, outH: Ho, outW: Wo } = d;
  const { strideH: sh, strideW: sw, padH: ph, padW: pw } = d;
  if (dx) {
    // Gathered per input element (not scattered from dy) so every sum is a double before rounding.
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        for (let ih = 0; ih < H; ih++) {
          for (let iw = 0; iw < W; iw++) {
            let s = 0;
            for (let ki = 0; ki < KH; ki++) {
              const th = ih + ph - ki;
              if (th < 0 || th % sh !== 0 || th / sh >= Ho) continue;
              const oh = th / sh;
              for (let kj = 0; kj < KW; kj++) {
                const tw = iw + pw - kj;
                if (tw < 0 || tw % sw !== 0 || tw / sw >= Wo) continue;
                const ow = tw / sw;
                for (let o = 0; o < O; o++) {
                  s += dy[((n * O + o) * Ho + oh) * Wo + ow]! * w[((o * C + c) * KH + ki) * KW + kj]!;
                }
              }
            }
            dx[((n * C + c) * H + ih) * W + iw] = s;
          }
        }
      }
    }
  }
  if (dw) {
    for (let o = 0; o < O; o++) {
      for (let c = 0; c < C; c++) {
        for (let ki = 0; ki < KH; ki++) {
          const [ohLo, ohHi] = validOutputRange(ki, H, sh, ph, Ho);
          for (let kj = 0; kj < KW; kj++) {
            const [owLo, owHi] = validOutputRange(kj, W, sw, pw, Wo);
            let s = 0;
            for (let n = 0; n < N; n++) {
              for (let oh = ohLo; oh < ohHi; oh++) {
                const ih = oh * sh - ph + ki;
                for (let ow = owLo; ow < owHi; ow++) {
                  s += dy[((n * O + o) * Ho + oh) * Wo + ow]! * x[((n * C + c) * H + ih) * W + ow * sw - pw + kj]!;
                }
              }
            }
            dw[((o * C + c) * KH + ki) * KW + kj] = s;
          }
        }
      }
    }
  }
  if (db) {
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let n = 0; n < N; n++) {
        const base = (n * O + o) * Ho * Wo;
        for (let i = 0; i < Ho * Wo; i++) s += dy[base + i]!;
      }
      db[o] = s;
    }
  }
}

/** conv2dWeightGradPooled by its definition: dy = the pool's scatter of g, then the dense gradients. */
export function conv2dWeightGradPooledRef(
  x: FloatArray, g: FloatArray, indices: Int32Array, dw: FloatArray, db: FloatArray | undefined, d: Conv2dDims, pooled: number,
): void {
  conv2dBackwardRef(x, new Float64Array(0), scatterPooled(g, indices, d, pooled), undefined, dw, db, d);
}

/** The conv's dy: maxPool2dBackward of g, each value added at the output its window picked. */
export function scatterPooled(g: FloatArray, indices: Int32Array, d: Conv2dDims, pooled: number): Float64Array {
  const planes = d.batch * d.outChannels;
  const positions = d.outH * d.outW;
  const dy = new Float64Array(planes * positions);
  for (let plane = 0; plane < planes; plane++) {
    for (let p = 0; p < pooled; p++) {
      const i = indices[plane * pooled + p]!;
      if (i >= 0 && i < positions) dy[plane * positions + i]! += g[plane * pooled + p]!;
    }
  }
  return dy;
}

/** conv2dInputGradPooled by its definition: dy = the pool's scatter of g, then the dense input gradient. */
export function conv2dInputGradPooledRef(
  g: FloatArray, indices: Int32Array, w: FloatArray, dx: FloatArray, d: Conv2dDims, pooled: number,
): void {
  conv2dBackwardRef(new Float64Array(0), w, scatterPooled(g, indices, d, pooled), dx, undefined, undefined, d);
}
