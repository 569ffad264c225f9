// A convolution with the max-pool behind it, and the ReLU behind that if there is one, in one call:
// y, indices = maxPool2dForward(conv2d(x, W) + b), then y = max(y, 0) when relu is set (max and
// ReLU commute, so this is also ReLU before the pool). A backend may fuse the passes — wasm does
// for its gathered sparse lowering, pooling straight off the product's grid without copying the
// convolution out, and WebGPU runs one shader — or run them one after the other; which one it
// does changes no result.
import type { Tensor } from '../backend/tensor.ts';
import { expectDistinct, expectDType, expectRank, expectShape, fail } from './checks.ts';
import { type Conv2dDims, type Conv2dForwardArgs, conv2dForwardRef, convGeometry } from './conv.ts';
import { reluForwardRef } from './activation.ts';
import { maxPool2dForwardRef, type Pair, type Pool2dDims, windowDims } from './pool.ts';
import type { FloatArray } from './reference-types.ts';
import { csrTensors, type IndexArray, type SparseConv2dForwardArgs, sparseConv2dForwardRef, sparseForwardGeometry } from './sparse.ts';

/** The max-pool behind a convolution (unpadded, as LeNet's and AlexNet's). */
export interface PoolBehindConv {
  kernel: Pair;
  /** Defaults to `kernel`. */
  stride?: Pair;
}

interface PooledOutputs {
  pool: PoolBehindConv;
  /** Apply ReLU to the pooled values (default false). */
  relu?: boolean;
  /** [N, O, Hp, Wp]: the pooled values, and (i32) the flat h·Wo + w of each within the convolution's output plane (the first on ties). */
  y: Tensor; indices: Tensor;
  /**
   * [N, O, Ho, Wo], optional: room for the whole convolution, which a backend that does not fuse
   * this geometry writes there first (else it allocates for the call). Its contents afterwards are
   * unspecified.
   */
  conv?: Tensor;
}

export type Conv2dForwardPooledArgs = Omit<Conv2dForwardArgs, 'y'> & PooledOutputs;
export type SparseConv2dForwardPooledArgs = Omit<SparseConv2dForwardArgs, 'y'> & PooledOutputs;

/** The convolution's geometry and its pool's (planes N·O of Ho × Wo in, Hp × Wp out). */
export interface PooledForwardDims { conv: Conv2dDims; pool: Pool2dDims }

export function checkConv2dForwardPooled(a: Conv2dForwardPooledArgs): PooledForwardDims {
  const k = 'conv2dForwardPooled';
  for (const n of ['x', 'w', 'b'] as const) if (a[n]) expectDType(k, n, a[n], 'f32');
  expectRank(k, 'w', a.w, 4);
  const conv = convGeometry(k, a.x, a.w.shape as [number, number, number, number], a.stride, a.padding);
  if (a.b) expectShape(k, 'b', a.b, [conv.outChannels]);
  const pool = checkPooledOutputs(k, a, conv);
  expectDistinct(k, { x: a.x, w: a.w, b: a.b, y: a.y, indices: a.indices, conv: a.conv });
  return { conv, pool };
}

export function checkSparseConv2dForwardPooled(a: SparseConv2dForwardPooledArgs): PooledForwardDims {
  const k = 'sparseConv2dForwardPooled';
  const conv = sparseForwardGeometry(k, a);
  const pool = checkPooledOutputs(k, a, conv);
  expectDistinct(k, { x: a.x, b: a.b, y: a.y, indices: a.indices, conv: a.conv, ...csrTensors('w', a.w) });
  return { conv, pool };
}

function checkPooledOutputs(k: string, a: PooledOutputs, conv: Conv2dDims): Pool2dDims {
  if (typeof a.pool !== 'object' || a.pool === null) fail(k, `'pool' must be { kernel: [height, width], stride?: [height, width] }, got ${String(a.pool)}`);
  if (a.relu !== undefined && typeof a.relu !== 'boolean') fail(k, `'relu' must be true or false, got ${String(a.relu)}`);
  const pool = windowDims(`${k} pool`, { kernel: a.pool.kernel, stride: a.pool.stride }, conv.batch * conv.outChannels, conv.outH, conv.outW);
  expectDType(k, 'y', a.y, 'f32');
  expectDType(k, 'indices', a.indices, 'i32');
  const pooled = [conv.batch, conv.outChannels, pool.outH, pool.outW];
  expectShape(k, 'y', a.y, pooled);
  expectShape(k, 'indices', a.indices, pooled);
  if (a.conv) {
    expectDType(k, 'conv', a.conv, 'f32');
    expectShape(k, 'conv', a.conv, [conv.batch, conv.outChannels, conv.outH, conv.outW]);
  }
  return pool;
}

// ---- plain references: the passes one after the other ----

export function conv2dForwardPooledRef(
  x: FloatArray, w: FloatArray, b: FloatArray | undefined, y: FloatArray, indices: Int32Array, d: PooledForwardDims, relu: boolean,
): void {
  const conv = new Float64Array(d.pool.planes * d.pool.inH * d.pool.inW);
  conv2dForwardRef(x, w, b, conv, d.conv);
  poolThenRelu(conv, y, indices, d.pool, relu);
}

export function sparseConv2dForwardPooledRef(
  x: FloatArray, rowPtr: IndexArray, colIdx: IndexArray, values: FloatArray, b: FloatArray | undefined,
  y: FloatArray, indices: Int32Array, d: PooledForwardDims, relu: boolean,
): void {
  const conv = new Float64Array(d.pool.planes * d.pool.inH * d.pool.inW);
  sparseConv2dForwardRef(x, rowPtr, colIdx, values, b, conv, d.conv);
  poolThenRelu(conv, y, indices, d.pool, relu);
}

function poolThenRelu(conv: Float64Array, y: FloatArray, indices: Int32Array, pool: Pool2dDims, relu: boolean): void {
  maxPool2dForwardRef(conv, y, indices, pool);
  if (relu) reluForwardRef(y, y);
}
