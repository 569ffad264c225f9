// 2-D pooling over NCHW tensors, with PyTorch's conventions: floor mode, dilation 1, max pooling
// pads with −∞ and average pooling counts the padding (count_include_pad = true). Adaptive average
// pooling uses torch's bins, start = ⌊i·H/o⌋ and end = ⌈(i+1)·H/o⌉, which overlap when o ∤ H.
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import { expectDistinct, expectDType, expectRank, expectShape, fail } from './checks.ts';
import type { FloatArray } from './reference-types.ts';

/** [height, width]. */
export type Pair = readonly [number, number];

export interface MaxPool2dForwardArgs {
  x: Tensor; y: Tensor;
  /** i32, y's shape: flat h·W + w of each maximum within its input plane (the first on ties). */
  indices: Tensor;
  kernel: Pair;
  /** Defaults to `kernel`. */
  stride?: Pair;
  /** Defaults to [0, 0]; at most half the kernel. */
  padding?: Pair;
}
export interface MaxPool2dBackwardArgs {
  dy: Tensor; indices: Tensor;
  /** Zero-filled, then receives dy at the recorded maxima; its shape is x's. */
  dx: Tensor;
}
export interface AvgPool2dForwardArgs {
  x: Tensor; y: Tensor; kernel: Pair; stride?: Pair; padding?: Pair;
}
export interface AvgPool2dBackwardArgs {
  dy: Tensor;
  /** Its shape is x's. */
  dx: Tensor;
  kernel: Pair; stride?: Pair; padding?: Pair;
}
/** The output size is read off y's shape. */
export interface AdaptiveAvgPool2dForwardArgs { x: Tensor; y: Tensor }
export interface AdaptiveAvgPool2dBackwardArgs { dy: Tensor; dx: Tensor }

/** Input and output planes: `planes` = N·C, each inH×inW in and outH×outW out. */
export interface PlaneDims { planes: number; inH: number; inW: number; outH: number; outW: number }
export interface Pool2dDims extends PlaneDims {
  kernelH: number; kernelW: number; strideH: number; strideW: number; padH: number; padW: number;
}

function pair(kernel: string, name: string, value: unknown, min: number): [number, number] {
  if (!Array.isArray(value) || value.length !== 2 || value.some((v) => !Number.isSafeInteger(v) || v < min)) {
    throw new InvalidArgumentError(`${kernel}: '${name}' must be [height, width] with integers ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return [value[0] as number, value[1] as number];
}

export interface Window { kernel?: Pair; stride?: Pair; padding?: Pair }

/** Validates the window and derives the output size of an inH×inW input, as torch does. */
export function windowDims(kernel: string, w: Window, planes: number, inH: number, inW: number): Pool2dDims {
  const [kernelH, kernelW] = pair(kernel, 'kernel', w.kernel, 1);
  const [strideH, strideW] = w.stride === undefined ? [kernelH, kernelW] : pair(kernel, 'stride', w.stride, 1);
  const [padH, padW] = w.padding === undefined ? [0, 0] : pair(kernel, 'padding', w.padding, 0);
  // torch rejects more padding than this: a window could then lie entirely in the padding, and
  // max pooling would have nothing to pick.
  if (2 * padH > kernelH || 2 * padW > kernelW) {
    fail(kernel, `padding [${padH}, ${padW}] must be at most half the kernel [${kernelH}, ${kernelW}]`);
  }
  const outH = Math.floor((inH + 2 * padH - kernelH) / strideH) + 1;
  const outW = Math.floor((inW + 2 * padW - kernelW) / strideW) + 1;
  if (outH < 1 || outW < 1) {
    fail(kernel, `a ${inH}×${inW} input padded by [${padH}, ${padW}] is smaller than the ${kernelH}×${kernelW} kernel`);
  }
  return { planes, inH, inW, outH, outW, kernelH, kernelW, strideH, strideW, padH, padW };
}

function nchw(kernel: string, name: string, t: Tensor): [number, number, number, number] {
  expectRank(kernel, name, t, 4);
  return t.shape as unknown as [number, number, number, number];
}

export function checkMaxPool2dForward(a: MaxPool2dForwardArgs): Pool2dDims {
  const k = 'maxPool2dForward';
  expectDType(k, 'x', a.x, 'f32');
  expectDType(k, 'y', a.y, 'f32');
  expectDType(k, 'indices', a.indices, 'i32');
  const [n, c, h, w] = nchw(k, 'x', a.x);
  const d = windowDims(k, a, n * c, h, w);
  expectShape(k, 'y', a.y, [n, c, d.outH, d.outW]);
  expectShape(k, 'indices', a.indices, [n, c, d.outH, d.outW]);
  expectDistinct(k, { x: a.x, y: a.y, indices: a.indices });
  return d;
}

export function checkMaxPool2dBackward(a: MaxPool2dBackwardArgs): PlaneDims {
  const k = 'maxPool2dBackward';
  expectDType(k, 'dy', a.dy, 'f32');
  expectDType(k, 'indices', a.indices, 'i32');
  expectDType(k, 'dx', a.dx, 'f32');
  const [n, c, outH, outW] = nchw(k, 'dy', a.dy);
  expectShape(k, 'indices', a.indices, a.dy.shape);
  const [dn, dc, inH, inW] = nchw(k, 'dx', a.dx);
  if (dn !== n || dc !== c) fail(k, `'dx' [${a.dx.shape.join(', ')}] must have dy's batch and channels [${n}, ${c}, …]`);
  expectDistinct(k, { dy: a.dy, indices: a.indices, dx: a.dx });
  return { planes: n * c, inH, inW, outH, outW };
}

export function checkAvgPool2dForward(a: AvgPool2dForwardArgs): Pool2dDims {
  const k = 'avgPool2dForward';
  expectDType(k, 'x', a.x, 'f32');
  expectDType(k, 'y', a.y, 'f32');
  const [n, c, h, w] = nchw(k, 'x', a.x);
  const d = windowDims(k, a, n * c, h, w);
  expectShape(k, 'y', a.y, [n, c, d.outH, d.outW]);
  expectDistinct(k, { x: a.x, y: a.y });
  return d;
}

export function checkAvgPool2dBackward(a: AvgPool2dBackwardArgs): Pool2dDims {
  const k = 'avgPool2dBackward';
  expectDType(k, 'dy', a.dy, 'f32');
  expectDType(k, 'dx', a.dx, 'f32');
  const [n, c, h, w] = nchw(k, 'dx', a.dx);
  const d = windowDims(k, a, n * c, h, w);
  expectShape(k, 'dy', a.dy, [n, c, d.outH, d.outW]);
  expectDistinct(k, { dy: a.dy, dx: a.dx });
  return d;
}

function adaptiveDims(k: string, input: [string, Tensor], output: [string, Tensor]): PlaneDims {
  const [n, c, inH, inW] = nchw(k, input[0], input[1]);
  const [on, oc, outH, outW] = nchw(k, output[0], output[1]);
  if (on !== n || oc !== c) {
    fail(k, `'${output[0]}' [${output[1].shape.join(', ')}] must have the batch and channels of '${input[0]}' [${n}, ${c}, …]`);
  }
  // An empty plane or an empty output would make bins of zero elements, i.e. divisions by zero.
  if (inH < 1 || inW < 1) fail(k, `the input planes must be non-empty, got ${inH}×${inW}`);
  if (outH < 1 || outW < 1) fail(k, `the output size must be at least 1×1, got ${outH}×${outW}`);
  return { planes: n * c, inH, inW, outH, outW };
}

export function checkAdaptiveAvgPool2dForward(a: AdaptiveAvgPool2dForwardArgs): PlaneDims {
  const k = 'adaptiveAvgPool2dForward';
  expectDType(k, 'x', a.x, 'f32');
  expectDType(k, 'y', a.y, 'f32');
  const d = adaptiveDims(k, ['x', a.x], ['y', a.y]);
  expectDistinct(k, { x: a.x, y: a.y });
  return d;
}

export function checkAdaptiveAvgPool2dBackward(a: AdaptiveAvgPool2dBackwardArgs): PlaneDims {
  const k = 'adaptiveAvgPool2dBackward';
  expectDType(k, 'dy', a.dy, 'f32');
  expectDType(k, 'dx', a.dx, 'f32');
  const d = adaptiveDims(k, ['dx', a.dx], ['dy', a.dy]);
  expectDistinct(k, { dy: a.dy, dx: a.dx });
  return d;
}

// ---- plain references ----
// Written as the textbook loops (scatter where the gradient naturally scatters), so that the fast
// backends, which gather instead, are checked against an independent formulation.

export function maxPool2dForwardRef(x: FloatArray, y: FloatArray, indices: Int32Array, d: Pool2dDims): void {
  const inPlane = d.inH * d.inW;
  const outPlane = d.outH * d.outW;
  for (let p = 0; p < d.planes; p++) {
    for (let oh = 0; oh < d.outH; oh++) {
      const h0 = oh * d.strideH - d.padH;
      const hs = Math.max(h0, 0);
      const he = Math.min(h0 + d.kernelH, d.inH);
      for (let ow = 0; ow < d.outW; ow++) {
        const w0 = ow * d.strideW - d.padW;
        const ws = Math.max(w0, 0);
        const we = Math.min(w0 + d.kernelW, d.inW);
        let best = -Infinity;
        let arg = hs * d.inW + ws;
        for (let h = hs; h < he; h++) {
          for (let w = ws; w < we; w++) {
            const v = x[p * inPlane + h * d.inW + w]!;
            // torch's rule: a strictly larger value or any NaN takes over, so NaN propagates and
            // the first of equal maxima keeps the index.
            if (v > best || Number.isNaN(v)) { best = v; arg = h * d.inW + w; }
          }
        }
        y[p * outPlane + oh * d.outW + ow] = best;
        indices[p * outPlane + oh * d.outW + ow] = arg;
      }
    }
  }
}

/** Indices outside the plane are ignored, as the fast kernels must never write out of bounds. */
export function maxPool2dBackwardRef(dy: FloatArray, indices: Int32Array, dx: FloatArray, d: PlaneDims): void {
  const inPlane = d.inH * d.inW;
  const outPlane = d.outH * d.outW;
  dx.fill(0);
  for (let p = 0; p < d.planes; p++) {
    for (let o = 0; o < outPlane; o++) {
      const i = indices[p * outPlane + o]!;
      if (i >= 0 && i < inPlane) dx[p * inPlane + i] = dx[p * inPlane + i]! + dy[p * outPlane + o]!;
    }
  }
}

export function avgPool2dForwardRef(x: FloatArray, y: FloatArray, d: Pool2dDims): void {
  const inPlane = d.inH * d.inW;
  const outPlane = d.outH * d.outW;
  const divisor = d.kernelH * d.kernelW;
  for (let p = 0; p < d.planes; p++) {
    for (let oh = 0; oh < d.outH; oh++) {
      for (let ow = 0; ow < d.outW; ow++) {
        let s = 0;
        for (let kh = 0; kh < d.kernelH; kh++) {
          for (let kw = 0; kw < d.kernelW; kw++) {
            const h = oh * d.strideH - d.padH + kh;
            const w = ow * d.strideW - d.padW + kw;
            if (h >= 0 && h < d.inH && w >= 0 && w < d.inW) s += x[p * inPlane + h * d.inW + w]!;
          }
        }
        y[p * outPlane + oh * d.outW + ow] = s / divisor;
      }
    }
  }
}

export function avgPool2dBackwardRef(dy: FloatArray, dx: FloatArray, d: Pool2dDims): void {
  const inPlane = d.inH * d.inW;
  const outPlane = d.outH * d.outW;
  const divisor = d.kernelH * d.kernelW;
  dx.fill(0);
  for (let p = 0; p < d.planes; p++) {
    for (let oh = 0; oh < d.outH; oh++) {
      for (let ow = 0; ow < d.outW; ow++) {
        const g = dy[p * outPlane + oh * d.outW + ow]! / divisor;
        for (let kh = 0; kh < d.kernelH; kh++) {
          for (let kw = 0; kw < d.kernelW; kw++) {
            const h = oh * d.strideH - d.padH + kh;
            const w = ow * d.strideW - d.padW + kw;
            if (h >= 0 && h < d.inH && w >= 0 && w < d.inW) dx[p * inPlane + h * d.inW + w] = dx[p * inPlane + h * d.inW + w]! + g;
          }
        }
      }
    }
  }
}

/** torch's adaptive bin [start, end) of output i when `size` inputs pool into `out` outputs. */
export function adaptiveBin(i: number, size: number, out: number): [number, number] {
  return [Math.floor((i * size) / out), Math.ceil(((i + 1) * size) / out)];
}

export function adaptiveAvgPool2dForwardRef(x: FloatArray, y: FloatArray, d: PlaneDims): void {
  const inPlane = d.inH * d.inW;
  const outPlane = d.outH * d.outW;
  for (let p = 0; p < d.planes; p++) {
    for (let oh = 0; oh < d.outH; oh++) {
      const [hs, he] = adaptiveBin(oh, d.inH, d.outH);
      for (let ow = 0; ow < d.outW; ow++) {
        const [ws, we] = adaptiveBin(ow, d.inW, d.outW);
        let s = 0;
        for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) s += x[p * inPlane + h * d.inW + w]!;
        y[p * outPlane + oh * d.outW + ow] = s / ((he - hs) * (we - ws));
      }
    }
  }
}

export function adaptiveAvgPool2dBackwardRef(dy: FloatArray, dx: FloatArray, d: PlaneDims): void {
  const inPlane = d.inH * d.inW;
  const outPlane = d.outH * d.outW;
  dx.fill(0);
  for (let p = 0; p < d.planes; p++) {
    for (let oh = 0; oh < d.outH; oh++) {
      const [hs, he] = adaptiveBin(oh, d.inH, d.outH);
      for (let ow = 0; ow < d.outW; ow++) {
        const [ws, we] = adaptiveBin(ow, d.inW, d.outW);
        const g = dy[p * outPlane + oh * d.outW + ow]! / ((he - hs) * (we - ws));
        for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) dx[p * inPlane + h * d.inW + w] = dx[p * inPlane + h * d.inW + w]! + g;
      }
    }
  }
}
