// The backend contract: allocate tensors, move data in and out, run kernels. Argument checking
// lives here, once; an implementation only supplies the `run*` hooks and the memory primitives.
import { FeddipError, InvalidArgumentError } from '../errors.ts';
import { type DType, type HostArray, type HostArrayOf, Tensor, shapeSize } from './tensor.ts';
import { checkLinearBackward, checkLinearForward, type LinearBackwardArgs, type LinearDims, type LinearForwardArgs } from '../kernels/linear.ts';
import { checkReluBackward, checkReluForward, type ReluBackwardArgs, type ReluForwardArgs } from '../kernels/activation.ts';
import { checkSoftmaxCrossEntropy, type CrossEntropyDims, type SoftmaxCrossEntropyArgs } from '../kernels/loss.ts';
import { checkAxpy, checkFill, checkSgdStep, type AxpyArgs, type FillArgs, type SgdStepArgs } from '../kernels/optim.ts';
import { checkAddScaledByInvNorm, checkCopy, checkSumSquares, type AddScaledByInvNormArgs, type CopyArgs, type SumSquaresArgs } from '../kernels/vector.ts';
import {
  checkConv2dBackward, checkConv2dForward, checkConv2dInputGradPooled, checkConv2dWeightGradPooled,
  type Conv2dBackwardArgs, type Conv2dDims, type Conv2dForwardArgs, type Conv2dInputGradPooledArgs, type Conv2dWeightGradPooledArgs,
} from '../kernels/conv.ts';
import {
  checkAdaptiveAvgPool2dBackward, checkAdaptiveAvgPool2dForward, checkAvgPool2dBackward, checkAvgPool2dForward,
  checkMaxPool2dBackward, checkMaxPool2dForward,
  type AdaptiveAvgPool2dBackwardArgs, type AdaptiveAvgPool2dForwardArgs, type AvgPool2dBackwardArgs, type AvgPool2dForwardArgs,
  type MaxPool2dBackwardArgs, type MaxPool2dForwardArgs, type PlaneDims, type Pool2dDims,
} from '../kernels/pool.ts';
import {
  BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, checkBatchNorm2dBackward, checkBatchNorm2dForward,
  type BatchNorm2dBackwardArgs, type BatchNorm2dForwardArgs, type BatchNormDims,
} from '../kernels/batchnorm.ts';
import {
  checkAdd, checkDropoutBackward, checkDropoutForward,
  type AddArgs, type DropoutBackwardArgs, type DropoutDims, type DropoutForwardArgs,
} from '../kernels/elementwise.ts';
import { checkApplyMask, type ApplyMaskArgs } from '../kernels/mask.ts';
import {
  checkCsrAddScaledByInvNorm, checkCsrGather, checkSparseConv2dBackwardData, checkSparseConv2dForward, checkSparseConv2dInputGradPooled,
  checkSparseLinearBackwardData, checkSparseLinearForward,
  csrParts, type CsrAddScaledByInvNormArgs, type CsrGatherArgs, type SparseConv2dBackwardDataArgs, type SparseConv2dForwardArgs,
  type SparseConv2dInputGradPooledArgs,
  type SparseLinearBackwardDataArgs, type SparseLinearDims, type SparseLinearForwardArgs,
} from '../kernels/sparse.ts';
import {
  checkConv2dForwardPooled, checkSparseConv2dForwardPooled,
  type Conv2dForwardPooledArgs, type PooledForwardDims, type SparseConv2dForwardPooledArgs,
} from '../kernels/conv-pooled.ts';

export type BackendName = 'wasm' | 'webgpu' | 'reference';

/** How many CPU threads run a backend's kernels, and why that many. */
export interface Threading {
  /** Threads that run the big kernels, the calling one included. */
  threads: number;
  /** E.g. "2 threads on shared memory (one per core)" or "single-threaded: SharedArrayBuffer unavailable (…)". */
  reason: string;
}

/** Which WebAssembly SIMD build runs a wasm backend's kernels, and why that one. */
export interface SimdBuild {
  /** 'relaxed': relaxed SIMD, multiply-adds fused where the CPU can; 'baseline': plain SIMD. */
  kind: 'relaxed' | 'baseline';
  /** E.g. "relaxed SIMD: …" or "plain SIMD: 'baseline' requested". */
  reason: string;
}

export abstract class Backend {
  abstract readonly name: BackendName;
  /** What actually runs, e.g. "wasm SIMD, 1 thread" or "webgpu on llvmpipe (Vulkan)". */
  abstract readonly description: string;
  /** The wasm backend splits kernels across threads; the others run them as one stream. */
  get threading(): Threading {
    return { threads: 1, reason: this.name === 'webgpu' ? 'single-threaded host: kernels run on the GPU' : 'single-threaded: the reference backend runs plain loops on the calling thread' };
  }
  /** The SIMD build of the wasm backend; null for the others, which run no WebAssembly. */
  get simd(): SimdBuild | null {
    return null;
  }
  #live = new Set<Tensor>();
  #disposed = false;

  // ---- memory ----

  /** Allocates a tensor, zero-filled unless `data` is given. */
  tensor<D extends DType>(dtype: D, shape: readonly number[], data?: ArrayLike<number>): Tensor<D> {
    this.#assertUsable();
    if (dtype !== 'f32' && dtype !== 'i32') throw new InvalidArgumentError(`tensor: unknown dtype '${String(dtype)}' (use 'f32' or 'i32')`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new InvalidArgumentError(`tensor: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const size = shapeSize(shape);
    if (data !== undefined && data.length !== size) {
      throw new InvalidArgumentError(`tensor: shape [${shape.join(', ')}] holds ${size} elements but data has ${data.length}`);
    }
    const t = this.allocate(dtype, shape);
    this.#live.add(t);
    if (data !== undefined) this.write(t, data);
    return t;
  }

  /** Copies host data into a tensor (same number of elements). */
  write(t: Tensor, data: ArrayLike<number>): void {
    this.own(t);
    if (data.length !== t.size) throw new InvalidArgumentError(`write: ${t} holds ${t.size} elements but data has ${data.length}`);
    const typed = t.dtype === 'f32'
      ? (data instanceof Float32Array ? data : Float32Array.from(data))
      : (data instanceof Int32Array ? data : Int32Array.from(data));
    this.upload(t, typed);
  }

  /** Copies a tensor back to the host. */
  async read<D extends DType>(t: Tensor<D>): Promise<HostArrayOf<D>> {
    this.own(t);
    return (await this.download(t)) as HostArrayOf<D>;
  }

  /** Frees a tensor's memory; using it afterwards is an error. Releasing twice is harmless. */
  release(t: Tensor): void {
    if (t.released) return;
    // Not own(): a broken backend must still let go of its tensors (dispose releases them all).
    this.#assertNotDisposed();
    this.#assertOwned(t);
    this.#live.delete(t);
    t.markReleased();
    this.free(t);
  }

  /** Number of tensors allocated and not yet released (for leak checks). */
  get liveTensors(): number {
    return this.#live.size;
  }

  /** Waits until every kernel issued so far has finished. */
  async sync(): Promise<void> {}

  /** Releases every tensor and the backend's own resources. */
  dispose(): void {
    if (this.#disposed) return;
    for (const t of [...this.#live]) this.release(t);
    this.#disposed = true;
    this.destroy();
  }

  // ---- kernels ----

  linearForward(a: LinearForwardArgs): void {
    this.own(a.x, a.w, a.b, a.y);
    this.runLinearForward(a, checkLinearForward(a));
  }

  linearBackward(a: LinearBackwardArgs): void {
    this.own(a.x, a.w, a.dy, a.dx, a.dw, a.db);
    const d = checkLinearBackward(a);
    if (a.dx || a.dw || a.db) this.runLinearBackward(a, d);
  }

  reluForward(a: ReluForwardArgs): void {
    this.own(a.x, a.y);
    this.runReluForward(a, checkReluForward(a));
  }

  reluBackward(a: ReluBackwardArgs): void {
    this.own(a.x, a.dy, a.dx);
    this.runReluBackward(a, checkReluBackward(a));
  }

  softmaxCrossEntropy(a: SoftmaxCrossEntropyArgs): void {
    this.own(a.logits, a.labels, a.loss, a.dlogits);
    this.runSoftmaxCrossEntropy(a, checkSoftmaxCrossEntropy(a));
  }

  sgdStep(a: SgdStepArgs): void {
    this.own(a.param, a.grad);
    this.runSgdStep({ ...a, weightDecay: a.weightDecay ?? 0 }, checkSgdStep(a));
  }

  /** y ← y + alpha·x. */
  axpy(a: AxpyArgs): void {
    this.own(a.x, a.y);
    this.runAxpy(a, checkAxpy(a));
  }

  fill(a: FillArgs): void {
    this.own(a.y);
    this.runFill(a, checkFill(a));
  }

  /** y ← x between tensors of equal size and any shapes (e.g. flattening). */
  copy(a: CopyArgs): void {
    this.own(a.x, a.y);
    this.runCopy(a, checkCopy(a));
  }

  /** out[0] ← Σ x². */
  sumSquares(a: SumSquaresArgs): void {
    this.own(a.x, a.out);
    this.runSumSquares(a, checkSumSquares(a));
  }

  /** grad ← grad + λ·x/‖x‖₂ with ‖x‖₂² from sumSquares: the gradient of λ·‖x‖₂. */
  addScaledByInvNorm(a: AddScaledByInvNormArgs): void {
    this.own(a.x, a.sumSquares, a.grad);
    this.runAddScaledByInvNorm(a, checkAddScaledByInvNorm(a));
  }

  /** y = conv2d(x, w) + b (cross-correlation, NCHW activations, OIHW weights). */
  conv2dForward(a: Conv2dForwardArgs): void {
    this.own(a.x, a.w, a.b, a.y);
    this.runConv2dForward(a, checkConv2dForward(a));
  }

  /** Overwrites whichever of dx, dw, db are given with the gradients for upstream dy. */
  conv2dBackward(a: Conv2dBackwardArgs): void {
    this.own(a.x, a.w, a.dy, a.dx, a.dw, a.db);
    const d = checkConv2dBackward(a);
    if (a.dx || a.dw || a.db) this.runConv2dBackward(a, d);
  }

  /**
   * dw (and db) of a convolution whose output feeds a max-pool, from the pool's output gradient g
   * and indices: conv2dBackward's for dy = maxPool2dBackward(g, indices), without expanding dy.
   */
  conv2dWeightGradPooled(a: Conv2dWeightGradPooledArgs): void {
    this.own(a.x, a.g, a.indices, a.dw, a.db);
    const d = checkConv2dWeightGradPooled(a);
    this.runConv2dWeightGradPooled(a, d, d.pooled);
  }

  /**
   * dx of a convolution whose output feeds a max-pool, from the pool's output gradient g and
   * indices: conv2dBackward's for dy = maxPool2dBackward(g, indices), without expanding dy.
   */
  conv2dInputGradPooled(a: Conv2dInputGradPooledArgs): void {
    this.own(a.g, a.indices, a.w, a.dx);
    const d = checkConv2dInputGradPooled(a);
    this.runConv2dInputGradPooled(a, d, d.pooled);
  }

  maxPool2dForward(a: MaxPool2dForwardArgs): void {
    this.own(a.x, a.y, a.indices);
    this.runMaxPool2dForward(a, checkMaxPool2dForward(a));
  }

  /** dx ← 0, then dx[index] += dy for every recorded maximum. */
  maxPool2dBackward(a: MaxPool2dBackwardArgs): void {
    this.own(a.dy, a.indices, a.dx);
    this.runMaxPool2dBackward(a, checkMaxPool2dBackward(a));
  }

  avgPool2dForward(a: AvgPool2dForwardArgs): void {
    this.own(a.x, a.y);
    this.runAvgPool2dForward(a, checkAvgPool2dForward(a));
  }

  avgPool2dBackward(a: AvgPool2dBackwardArgs): void {
    this.own(a.dy, a.dx);
    this.runAvgPool2dBackward(a, checkAvgPool2dBackward(a));
  }

  adaptiveAvgPool2dForward(a: AdaptiveAvgPool2dForwardArgs): void {
    this.own(a.x, a.y);
    this.runAdaptiveAvgPool2dForward(a, checkAdaptiveAvgPool2dForward(a));
  }

  adaptiveAvgPool2dBackward(a: AdaptiveAvgPool2dBackwardArgs): void {
    this.own(a.dy, a.dx);
    this.runAdaptiveAvgPool2dBackward(a, checkAdaptiveAvgPool2dBackward(a));
  }

  batchNorm2dForward(a: BatchNorm2dForwardArgs): void {
    this.own(a.x, a.gamma, a.beta, a.runningMean, a.runningVar, a.y, a.saveMean, a.saveInvStd);
    const d = checkBatchNorm2dForward(a);
    this.runBatchNorm2dForward({ ...a, momentum: a.momentum ?? BATCH_NORM_MOMENTUM, eps: a.eps ?? BATCH_NORM_EPS }, d);
  }

  batchNorm2dBackward(a: BatchNorm2dBackwardArgs): void {
    this.own(a.x, a.gamma, a.dy, a.saveMean, a.saveInvStd, a.dx, a.dgamma, a.dbeta);
    this.runBatchNorm2dBackward(a, checkBatchNorm2dBackward(a));
  }

  /** y = x·mask/(1 − p). */
  dropoutForward(a: DropoutForwardArgs): void {
    this.own(a.x, a.mask, a.y);
    this.runDropout(a.x, a.mask, a.y, checkDropoutForward(a));
  }

  /** dx = dy·mask/(1 − p). */
  dropoutBackward(a: DropoutBackwardArgs): void {
    this.own(a.dy, a.mask, a.dx);
    this.runDropout(a.dy, a.mask, a.dx, checkDropoutBackward(a));
  }

  /** y = a + b. */
  add(a: AddArgs): void {
    this.own(a.a, a.b, a.y);
    this.runAdd(a, checkAdd(a));
  }

  /** y ← w ⊙ mask (the pruned model M ⊙ W; w is left dense). */
  applyMask(a: ApplyMaskArgs): void {
    this.own(a.w, a.mask, a.y);
    this.runApplyMask(a, checkApplyMask(a));
  }

  // ---- sparse weights (CSR; see kernels/sparse.ts) ----

  /** a.values ← the entries of w at a's positions: the kept weights, gathered before a sparse pass. */
  csrGather(a: CsrGatherArgs): void {
    this.own(a.w, ...csrParts(a.a));
    this.runCsrGather(a, checkCsrGather(a));
  }

  /**
   * grad ← grad + λ·(M⊙W)/‖M⊙W‖₂ from the kept weights alone (sumSquares of a.values): the
   * penalty's gradient for a layer on the sparse path, at a cost ∝ its kept weights.
   */
  csrAddScaledByInvNorm(a: CsrAddScaledByInvNormArgs): void {
    this.own(a.sumSquares, a.grad, ...csrParts(a.a));
    this.runCsrAddScaledByInvNorm(a, checkCsrAddScaledByInvNorm(a));
  }

  /** y = x·Wᵀ + b with W sparse. */
  sparseLinearForward(a: SparseLinearForwardArgs): void {
    this.own(a.x, a.b, a.y, ...csrParts(a.w));
    this.runSparseLinearForward(a, checkSparseLinearForward(a));
  }

  /** dx = dy·W, given the CSR of Wᵀ: the forward product of dy with Wᵀ, so the same hook runs it. */
  sparseLinearBackwardData(a: SparseLinearBackwardDataArgs): void {
    this.own(a.dy, a.dx, ...csrParts(a.wt));
    this.runSparseLinearForward({ x: a.dy, w: a.wt, y: a.dx }, checkSparseLinearBackwardData(a));
  }

  /** y = conv2d(x, W) + b with W sparse ([O × C·kh·kw]). */
  sparseConv2dForward(a: SparseConv2dForwardArgs): void {
    this.own(a.x, a.b, a.y, ...csrParts(a.w));
    this.runSparseConv2dForward(a, checkSparseConv2dForward(a));
  }

  /** dx = ∂conv2d/∂x for upstream dy, given the CSR of Wᵀ ([C·kh·kw × O]); dx is overwritten. */
  sparseConv2dBackwardData(a: SparseConv2dBackwardDataArgs): void {
    this.own(a.dy, a.dx, ...csrParts(a.wt));
    this.runSparseConv2dBackwardData(a, checkSparseConv2dBackwardData(a));
  }

  /**
   * sparseConv2dBackwardData of a convolution whose output feeds a max-pool, from the pool's output
   * gradient g and indices: its dx for dy = maxPool2dBackward(g, indices), without expanding dy.
   */
  sparseConv2dInputGradPooled(a: SparseConv2dInputGradPooledArgs): void {
    this.own(a.g, a.indices, a.dx, ...csrParts(a.wt));
    const d = checkSparseConv2dInputGradPooled(a);
    this.runSparseConv2dInputGradPooled(a, d, d.pooled);
  }

  /**
   * y, indices = maxPool2dForward of conv2dForward(x, W) + b (an unpadded pool), then y = max(y, 0)
   * if relu: a convolution with its max-pool behind it, which a backend may fuse (see
   * kernels/conv-pooled.ts). `conv` may lend room for the whole convolution.
   */
  conv2dForwardPooled(a: Conv2dForwardPooledArgs): void {
    this.own(a.x, a.w, a.b, a.y, a.indices, a.conv);
    this.runConv2dForwardPooled(a, checkConv2dForwardPooled(a));
  }

  /** conv2dForwardPooled with W sparse ([O × C·kh·kw]), as sparseConv2dForward takes it. */
  sparseConv2dForwardPooled(a: SparseConv2dForwardPooledArgs): void {
    this.own(a.x, a.b, a.y, a.indices, a.conv, ...csrParts(a.w));
    this.runSparseConv2dForwardPooled(a, checkSparseConv2dForwardPooled(a));
  }

  // ---- what an implementation provides ----

  /** The convolution, the pool and the ReLU one after the other; a backend that fuses them overrides. */
  protected runConv2dForwardPooled(a: Conv2dForwardPooledArgs, d: PooledForwardDims): void {
    this.runPooledPasses(a, d, (conv) => this.runConv2dForward({ x: a.x, w: a.w, b: a.b, y: conv, stride: a.stride, padding: a.padding }, d.conv));
  }

  protected runSparseConv2dForwardPooled(a: SparseConv2dForwardPooledArgs, d: PooledForwardDims): void {
    this.runPooledPasses(a, d, (conv) => this.runSparseConv2dForward({ x: a.x, w: a.w, kernel: a.kernel, b: a.b, y: conv, stride: a.stride, padding: a.padding }, d.conv));
  }

  /**
   * Runs `convolve` into a.conv (or a tensor of its own for the call), pools that into y and
   * indices, then applies the ReLU to y in place — a backend whose ReLU cannot run in place
   * (WebGPU binds no buffer twice) overrides the callers.
   */
  protected runPooledPasses(
    a: { y: Tensor; indices: Tensor; conv?: Tensor; relu?: boolean }, d: PooledForwardDims, convolve: (conv: Tensor) => void,
  ): void {
    const conv = a.conv ?? this.tensor('f32', [d.conv.batch, d.conv.outChannels, d.conv.outH, d.conv.outW]);
    try {
      convolve(conv);
      const p = d.pool;
      this.runMaxPool2dForward({ x: conv, y: a.y, indices: a.indices, kernel: [p.kernelH, p.kernelW], stride: [p.strideH, p.strideW] }, p);
      if (a.relu) this.runReluForward({ x: a.y, y: a.y }, a.y.size);
    } finally {
      if (!a.conv) this.release(conv);
    }
  }

  protected abstract allocate<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D>;
  protected abstract upload(t: Tensor, data: HostArray): void;
  protected abstract download(t: Tensor): Promise<HostArray>;
  protected abstract free(t: Tensor): void;
  protected abstract destroy(): void;

  protected abstract runLinearForward(a: LinearForwardArgs, d: LinearDims): void;
  protected abstract runLinearBackward(a: LinearBackwardArgs, d: LinearDims): void;
  protected abstract runReluForward(a: ReluForwardArgs, n: number): void;
  protected abstract runReluBackward(a: ReluBackwardArgs, n: number): void;
  protected abstract runSoftmaxCrossEntropy(a: SoftmaxCrossEntropyArgs, d: CrossEntropyDims): void;
  protected abstract runSgdStep(a: Required<SgdStepArgs>, n: number): void;
  protected abstract runAxpy(a: AxpyArgs, n: number): void;
  protected abstract runFill(a: FillArgs, n: number): void;
  protected abstract runCopy(a: CopyArgs, n: number): void;
  protected abstract runSumSquares(a: SumSquaresArgs, n: number): void;
  protected abstract runAddScaledByInvNorm(a: AddScaledByInvNormArgs, n: number): void;
  protected abstract runConv2dForward(a: Conv2dForwardArgs, d: Conv2dDims): void;
  protected abstract runConv2dBackward(a: Conv2dBackwardArgs, d: Conv2dDims): void;
  protected abstract runMaxPool2dForward(a: MaxPool2dForwardArgs, d: Pool2dDims): void;
  protected abstract runMaxPool2dBackward(a: MaxPool2dBackwardArgs, d: PlaneDims): void;
  protected abstract runAvgPool2dForward(a: AvgPool2dForwardArgs, d: Pool2dDims): void;
  protected abstract runAvgPool2dBackward(a: AvgPool2dBackwardArgs, d: Pool2dDims): void;
  protected abstract runAdaptiveAvgPool2dForward(a: AdaptiveAvgPool2dForwardArgs, d: PlaneDims): void;
  protected abstract runAdaptiveAvgPool2dBackward(a: AdaptiveAvgPool2dBackwardArgs, d: PlaneDims): void;
  protected abstract runBatchNorm2dForward(a: BatchNorm2dForwardArgs & { momentum: number; eps: number }, d: BatchNormDims): void;
  protected abstract runBatchNorm2dBackward(a: BatchNorm2dBackwardArgs, d: BatchNormDims): void;
  /** out = input·mask·scale (dropout's forward and backward pass). */
  protected abstract runDropout(input: Tensor, mask: Tensor, out: Tensor, d: DropoutDims): void;
  protected abstract runAdd(a: AddArgs, n: number): void;
  protected abstract runApplyMask(a: ApplyMaskArgs, n: number): void;
  /** `rows`: rows of a.a. */
  protected abstract runCsrGather(a: CsrGatherArgs, rows: number): void;
  /** `rows`: rows of a.a. */
  protected abstract runCsrAddScaledByInvNorm(a: CsrAddScaledByInvNormArgs, rows: number): void;
  protected abstract runSparseLinearForward(a: SparseLinearForwardArgs, d: SparseLinearDims): void;
  protected abstract runSparseConv2dForward(a: SparseConv2dForwardArgs, d: Conv2dDims): void;
  protected abstract runSparseConv2dBackwardData(a: SparseConv2dBackwardDataArgs, d: Conv2dDims): void;
  protected abstract runSparseConv2dInputGradPooled(a: SparseConv2dInputGradPooledArgs, d: Conv2dDims, pooled: number): void;
  protected abstract runConv2dWeightGradPooled(a: Conv2dWeightGradPooledArgs, d: Conv2dDims, pooled: number): void;
  protected abstract runConv2dInputGradPooled(a: Conv2dInputGradPooledArgs, d: Conv2dDims, pooled: number): void;

  // ---- helpers ----

  /** Every tensor handed to a kernel must be alive and belong to this backend. */
  protected own(...tensors: Array<Tensor | undefined>): void {
    this.#assertUsable();
    for (const t of tensors) if (t !== undefined) this.#assertOwned(t);
  }

  /**
   * Why this backend can no longer run anything although it was not disposed (e.g. a kernel
   * thread died), or undefined. Once set, every call but release() and dispose() throws it.
   */
  protected failure(): FeddipError | undefined {
    return undefined;
  }

  #assertOwned(t: Tensor): void {
    if (!(t instanceof Tensor)) throw new InvalidArgumentError(`${this.name}: expected a tensor, got ${typeof t}`);
    if (t.released) throw new FeddipError('TENSOR_RELEASED', `${this.name}: ${t} was released and cannot be used`);
    if (!this.#live.has(t)) {
      throw new FeddipError('FOREIGN_TENSOR', `${this.name}: ${t} belongs to another backend; read it and write it into a tensor of this one`);
    }
  }

  #assertNotDisposed(): void {
    if (this.#disposed) throw new FeddipError('INVALID_ARGUMENT', `${this.name} backend was disposed; create a new one`);
  }

  #assertUsable(): void {
    this.#assertNotDisposed();
    const failure = this.failure();
    // A fresh error, so that its stack shows this call; the message and cause are the original's.
    if (failure) throw new FeddipError(failure.code, failure.message, { cause: failure.cause ?? failure });
  }
}
