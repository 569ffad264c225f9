// Fully-connected layer: y = x·Wᵀ + b with x [batch, in], W [out, in] (PyTorch layout), y [batch, out].
import type { Tensor } from '../backend/tensor.ts';
import { expectDistinct, expectDType, expectRank, expectShape, fail } from './checks.ts';
import type { FloatArray } from './reference-types.ts';

export interface LinearForwardArgs {
  x: Tensor; w: Tensor; b?: Tensor; y: Tensor;
}
export interface LinearBackwardArgs {
  x: Tensor; w: Tensor; dy: Tensor;
  /** Outputs; leave out the gradients you do not need. */
  dx?: Tensor; dw?: Tensor; db?: Tensor;
}
export interface LinearDims { batch: number; inFeatures: number; outFeatures: number }

function dims(kernel: string, x: Tensor, w: Tensor): LinearDims {
  expectRank(kernel, 'x', x, 2);
  expectRank(kernel, 'w', w, 2);
  const [batch, inFeatures] = x.shape as [number, number];
  const [outFeatures, wIn] = w.shape as [number, number];
  if (wIn !== inFeatures) fail(kernel, `x has ${inFeatures} features but w is [${w.shape.join(', ')}] (expects [out, ${inFeatures}])`);
  return { batch, inFeatures, outFeatures };
}

export function checkLinearForward(a: LinearForwardArgs): LinearDims {
  const k = 'linearForward';
  for (const [n, t] of Object.entries(a)) if (t) expectDType(k, n, t as Tensor, 'f32');
  const d = dims(k, a.x, a.w);
  if (a.b) expectShape(k, 'b', a.b, [d.outFeatures]);
  expectShape(k, 'y', a.y, [d.batch, d.outFeatures]);
  expectDistinct(k, { x: a.x, w: a.w, b: a.b, y: a.y });
  return d;
}

export function checkLinearBackward(a: LinearBackwardArgs): LinearDims {
  const k = 'linearBackward';
  for (const [n, t] of Object.entries(a)) if (t) expectDType(k, n, t as Tensor, 'f32');
  const d = dims(k, a.x, a.w);
  expectShape(k, 'dy', a.dy, [d.batch, d.outFeatures]);
  if (a.dx) expectShape(k, 'dx', a.dx, [d.batch, d.inFeatures]);
  if (a.dw) expectShape(k, 'dw', a.dw, [d.outFeatures, d.inFeatures]);
  if (a.db) expectShape(k, 'db', a.db, [d.outFeatures]);
  expectDistinct(k, { x: a.x, w: a.w, dy: a.dy, dx: a.dx, dw: a.dw, db: a.db });
  return d;
}

// ---- plain references (any float precision; used by the reference backend and by tests) ----

export function linearForwardRef(
  x: FloatArray, w: FloatArray, b: FloatArray | undefined, y: FloatArray, d: LinearDims,
): void {
  for (let n = 0; n < d.batch; n++) {
    for (let o = 0; o < d.outFeatures; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < d.inFeatures; i++) s += x[n * d.inFeatures + i]! * w[o * d.inFeatures + i]!;
      y[n * d.outFeatures + o] = s;
    }
  }
}

export function linearBackwardRef(
  x: FloatArray, w: FloatArray, dy: FloatArray,
  dx: FloatArray | undefined, dw: FloatArray | undefined, db: FloatArray | undefined, d: LinearDims,
): void {
  const { batch, inFeatures: I, outFeatures: O } = d;
  if (dx) {
    for (let n = 0; n < batch; n++) {
      for (let i = 0; i < I; i++) {
        let s = 0;
        for (let o = 0; o < O; o++) s += dy[n * O + o]! * w[o * I + i]!;
        dx[n * I + i] = s;
      }
    }
  }
  if (dw) {
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < I; i++) {
        let s = 0;
        for (let n = 0; n < batch; n++) s += dy[n * O + o]! * x[n * I + i]!;
        dw[o * I + i] = s;
      }
    }
  }
  if (db) {
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let n = 0; n < batch; n++) s += dy[n * O + o]!;
      db[o] = s;
    }
  }
}
