// WebAssembly SIMD backend: tensors live in the kernel module's linear memory and kernels are
// synchronous calls with pointers.
import { Backend } from '../backend.ts';
import { type DType, type HostArray, Tensor, shapeSize } from '../tensor.ts';
import { WasmHeap } from './heap.ts';
import { instantiateKernels, type KernelExports } from './module.ts';
import type { LinearBackwardArgs, LinearDims, LinearForwardArgs } from '../../kernels/linear.ts';
import type { ReluBackwardArgs, ReluForwardArgs } from '../../kernels/activation.ts';
import type { CrossEntropyDims, SoftmaxCrossEntropyArgs } from '../../kernels/loss.ts';
import type { AxpyArgs, FillArgs, SgdStepArgs } from '../../kernels/optim.ts';
import type { AddScaledByInvNormArgs, CopyArgs, SumSquaresArgs } from '../../kernels/vector.ts';
import type { Conv2dBackwardArgs, Conv2dDims, Conv2dForwardArgs } from '../../kernels/conv.ts';
import type {
  AdaptiveAvgPool2dBackwardArgs, AdaptiveAvgPool2dForwardArgs, AvgPool2dBackwardArgs, AvgPool2dForwardArgs,
  MaxPool2dBackwardArgs, MaxPool2dForwardArgs, PlaneDims, Pool2dDims,
} from '../../kernels/pool.ts';
import type { BatchNorm2dBackwardArgs, BatchNorm2dForwardArgs, BatchNormDims } from '../../kernels/batchnorm.ts';
import type { AddArgs, DropoutDims } from '../../kernels/elementwise.ts';
import type { ApplyMaskArgs } from '../../kernels/mask.ts';
import type {
  CsrAddScaledByInvNormArgs, CsrGatherArgs, SparseConv2dBackwardDataArgs, SparseConv2dForwardArgs, SparseLinearDims, SparseLinearForwardArgs,
} from '../../kernels/sparse.ts';

class WasmTensor<D extends DType = DType> extends Tensor<D> {
  readonly ptr: number;
  constructor(dtype: D, shape: readonly number[], ptr: number) {
    super('wasm', dtype, shape);
    this.ptr = ptr;
  }
}

const p = (t: Tensor | undefined): number => (t ? (t as WasmTensor).ptr : 0);

export class WasmBackend extends Backend {
  readonly name = 'wasm' as const;
  readonly description = 'wasm (SIMD, 1 thread)';
  readonly #k: KernelExports;
  readonly #heap: WasmHeap;
  /** Grow-only scratch block for kernels that need one (im2col); 0 until first needed. */
  #workspace = 0;
  #workspaceBytes = 0;

  private constructor(kernels: KernelExports) {
    super();
    this.#k = kernels;
    this.#heap = new WasmHeap(kernels.memory, kernels.heapBase());
  }

  static async create(): Promise<WasmBackend> {
    return new WasmBackend(await instantiateKernels());
  }

  /** Bytes of linear memory reserved and in use (for memory-growth checks). */
  memoryStats(): { reserved: number; inUse: number } {
    return { reserved: this.#heap.bytesReserved, inUse: this.#heap.bytesInUse };
  }

  protected allocate<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
    const bytes = shapeSize(shape) * 4;
    const ptr = this.#heap.alloc(bytes);
    // Fresh tensors are zeroed, like on every other backend (a freed block holds old data).
    new Uint8Array(this.#k.memory.buffer, ptr, bytes).fill(0);
    return new WasmTensor(dtype, shape, ptr);
  }

  protected upload(t: Tensor, data: HostArray): void {
    this.#view(t).set(data);
  }

  protected async download(t: Tensor): Promise<HostArray> {
    return this.#view(t).slice();
  }

  protected free(t: Tensor): void {
    this.#heap.free(p(t));
  }

  protected destroy(): void {
    if (this.#workspace) this.#heap.free(this.#workspace);
    this.#workspace = 0;
    this.#workspaceBytes = 0;
  }

  /**
   * A scratch block of at least `bytes`, valid until the next call. Kept across calls and only
   * ever enlarged, so a training loop settles on one block instead of churning the heap.
   */
  #scratch(bytes: number): number {
    if (bytes === 0) return 0;
    if (bytes > this.#workspaceBytes) {
      // Free first (the old contents are dead) and forget it, so a failed alloc leaves no dangling block.
      if (this.#workspace) this.#heap.free(this.#workspace);
      this.#workspace = 0;
      this.#workspaceBytes = 0;
      this.#workspace = this.#heap.alloc(bytes);
      this.#workspaceBytes = bytes;
    }
    return this.#workspace;
  }

  // A view must be made afresh each time: growing memory detaches earlier ArrayBuffers.
  #view(t: Tensor): HostArray {
    const buffer = this.#k.memory.buffer;
    return t.dtype === 'f32' ? new Float32Array(buffer, p(t), t.size) : new Int32Array(buffer, p(t), t.size);
  }

  protected runLinearForward(a: LinearForwardArgs, d: LinearDims): void {
    this.#k.linearForward(p(a.x), p(a.w), p(a.b), p(a.y), d.batch, d.inFeatures, d.outFeatures);
  }

  protected runLinearBackward(a: LinearBackwardArgs, d: LinearDims): void {
    const { batch, inFeatures, outFeatures } = d;
    if (a.dx) this.#k.gemmNN(p(a.dy), p(a.w), p(a.dx), batch, inFeatures, outFeatures, 0);
    if (a.dw) this.#k.gemmTN(p(a.dy), p(a.x), p(a.dw), outFeatures, inFeatures, batch, 0);
    if (a.db) this.#k.linearBackwardBias(p(a.dy), p(a.db), batch, outFeatures, 0);
  }

  protected runReluForward(a: ReluForwardArgs, n: number): void {
    this.#k.reluForward(p(a.x), p(a.y), n);
  }

  protected runReluBackward(a: ReluBackwardArgs, n: number): void {
    this.#k.reluBackward(p(a.x), p(a.dy), p(a.dx), n);
  }

  protected runSoftmaxCrossEntropy(a: SoftmaxCrossEntropyArgs, d: CrossEntropyDims): void {
    this.#k.softmaxCrossEntropy(p(a.logits), p(a.labels), p(a.loss), p(a.dlogits), d.batch, d.classes);
  }

  protected runSgdStep(a: Required<SgdStepArgs>, n: number): void {
    this.#k.sgdStep(p(a.param), p(a.grad), n, a.lr, a.weightDecay);
  }

  protected runAxpy(a: AxpyArgs, n: number): void {
    this.#k.axpy(a.alpha, p(a.x), p(a.y), n);
  }

  protected runFill(a: FillArgs, n: number): void {
    this.#k.fill(p(a.y), a.value, n);
  }

  protected runCopy(a: CopyArgs, n: number): void {
    this.#k.copy(p(a.x), p(a.y), n);
  }

  protected runSumSquares(a: SumSquaresArgs, n: number): void {
    this.#k.sumSquares(p(a.x), n, p(a.out));
  }

  protected runAddScaledByInvNorm(a: AddScaledByInvNormArgs, n: number): void {
    this.#k.addScaledByInvNorm(p(a.x), p(a.sumSquares), p(a.grad), n, a.lambda);
  }

  /** im2col workspace for one image; a 1×1 stride-1 unpadded conv reads x directly (see assembly/conv.ts). */
  #convScratch(d: Conv2dDims): number {
    const pointwise = d.kernelH === 1 && d.kernelW === 1 && d.strideH === 1 && d.strideW === 1 && d.padH === 0 && d.padW === 0;
    if (pointwise || d.batch === 0) return 0;
    return this.#scratch(d.inChannels * d.kernelH * d.kernelW * d.outH * d.outW * 4);
  }

  protected runConv2dForward(a: Conv2dForwardArgs, d: Conv2dDims): void {
    const col = this.#convScratch(d);
    this.#k.conv2dForward(p(a.x), p(a.w), p(a.b), p(a.y), col, d.batch, d.inChannels, d.inH, d.inW,
      d.outChannels, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW);
  }

  protected runConv2dBackward(a: Conv2dBackwardArgs, d: Conv2dDims): void {
    // Only the input and weight gradients go through im2col; a bias-only call needs no workspace.
    const col = a.dx || a.dw ? this.#convScratch(d) : 0;
    this.#k.conv2dBackward(p(a.x), p(a.w), p(a.dy), p(a.dx), p(a.dw), p(a.db), col, d.batch, d.inChannels, d.inH, d.inW,
      d.outChannels, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW);
  }
  protected runMaxPool2dForward(a: MaxPool2dForwardArgs, d: Pool2dDims): void {
    this.#k.maxPool2dForward(p(a.x), p(a.y), p(a.indices), ...poolArgs(d));
  }

  protected runMaxPool2dBackward(a: MaxPool2dBackwardArgs, d: PlaneDims): void {
    this.#k.maxPool2dBackward(p(a.dy), p(a.indices), p(a.dx), d.planes, d.inH, d.inW, d.outH, d.outW);
  }

  protected runAvgPool2dForward(a: AvgPool2dForwardArgs, d: Pool2dDims): void {
    this.#k.avgPool2dForward(p(a.x), p(a.y), ...poolArgs(d));
  }

  protected runAvgPool2dBackward(a: AvgPool2dBackwardArgs, d: Pool2dDims): void {
    this.#k.avgPool2dBackward(p(a.dy), p(a.dx), ...poolArgs(d));
  }

  protected runAdaptiveAvgPool2dForward(a: AdaptiveAvgPool2dForwardArgs, d: PlaneDims): void {
    this.#k.adaptiveAvgPool2dForward(p(a.x), p(a.y), d.planes, d.inH, d.inW, d.outH, d.outW);
  }

  protected runAdaptiveAvgPool2dBackward(a: AdaptiveAvgPool2dBackwardArgs, d: PlaneDims): void {
    this.#k.adaptiveAvgPool2dBackward(p(a.dy), p(a.dx), d.planes, d.inH, d.inW, d.outH, d.outW);
  }

  protected runBatchNorm2dForward(a: BatchNorm2dForwardArgs & { momentum: number; eps: number }, d: BatchNormDims): void {
    this.#k.batchNorm2dForward(p(a.x), p(a.gamma), p(a.beta), p(a.runningMean), p(a.runningVar), p(a.y),
      p(a.saveMean), p(a.saveInvStd), d.batch, d.channels, d.spatial, a.training ? 1 : 0, a.momentum, a.eps);
  }

  protected runBatchNorm2dBackward(a: BatchNorm2dBackwardArgs, d: BatchNormDims): void {
    this.#k.batchNorm2dBackward(p(a.x), p(a.gamma), p(a.dy), p(a.saveMean), p(a.saveInvStd),
      p(a.dx), p(a.dgamma), p(a.dbeta), d.batch, d.channels, d.spatial);
  }

  protected runDropout(input: Tensor, mask: Tensor, out: Tensor, d: DropoutDims): void {
    this.#k.dropout(p(input), p(mask), p(out), d.size, d.scale);
  }

  protected runAdd(a: AddArgs, n: number): void {
    this.#k.addTensors(p(a.a), p(a.b), p(a.y), n);
  }

  protected runApplyMask(a: ApplyMaskArgs, n: number): void {
    this.#k.applyMask(p(a.w), p(a.mask), p(a.y), n);
  }

  protected runCsrGather(a: CsrGatherArgs, rows: number): void {
    const [rowStride, colStride] = a.transposed ? [1, rows] : [a.a.cols, 1];
    this.#k.csrGather(p(a.w), p(a.a.rowPtr), p(a.a.colIdx), p(a.a.values), rows, rowStride, colStride);
  }

  protected runCsrAddScaledByInvNorm(a: CsrAddScaledByInvNormArgs, rows: number): void {
    this.#k.csrAddScaledByInvNorm(p(a.a.rowPtr), p(a.a.colIdx), p(a.a.values), rows, a.a.cols, p(a.sumSquares), p(a.grad), a.lambda);
  }

  protected runSparseLinearForward(a: SparseLinearForwardArgs, d: SparseLinearDims): void {
    const { batch, inFeatures, outFeatures } = d;
    // One scratch block holds both transposed operands (xᵀ, then yᵀ, 64-byte aligned for v128).
    const xtBytes = Math.ceil((inFeatures * batch * 4) / 64) * 64;
    const scratch = batch > 1 ? this.#scratch(xtBytes + outFeatures * batch * 4) : 0;
    this.#k.sparseLinearForward(p(a.x), p(a.w.rowPtr), p(a.w.colIdx), p(a.w.values), p(a.b), p(a.y),
      scratch, scratch && scratch + xtBytes, batch, inFeatures, outFeatures);
  }

  protected runSparseConv2dForward(a: SparseConv2dForwardArgs, d: Conv2dDims): void {
    this.#k.sparseConv2dForward(p(a.x), p(a.w.rowPtr), p(a.w.colIdx), p(a.w.values), p(a.b), p(a.y), this.#convScratch(d),
      d.batch, d.inChannels, d.inH, d.inW, d.outChannels, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW);
  }

  protected runSparseConv2dBackwardData(a: SparseConv2dBackwardDataArgs, d: Conv2dDims): void {
    this.#k.sparseConv2dBackwardData(p(a.dy), p(a.wt.rowPtr), p(a.wt.colIdx), p(a.wt.values), p(a.dx), this.#convScratch(d),
      d.batch, d.inChannels, d.inH, d.inW, d.outChannels, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW);
  }
}

/** The geometry arguments every windowed pooling export takes, in its order. */
function poolArgs(d: Pool2dDims): [number, number, number, number, number, number, number, number, number, number, number] {
  return [d.planes, d.inH, d.inW, d.outH, d.outW, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW];
}
