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
import type { ApplyMaskArgs } from '../../kernels/mask.ts';

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

  protected destroy(): void {}

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

  protected runApplyMask(a: ApplyMaskArgs, n: number): void {
    this.#k.applyMask(p(a.w), p(a.mask), p(a.y), n);
  }
}
