// WebAssembly SIMD backend: tensors live in the kernel module's linear memory and kernels are
// synchronous calls with pointers. With threads, the memory is shared with kernel workers and the
// big kernels are split across them (see threads.ts and assembly/parallel.ts); everything else —
// allocation, checks, small kernels — stays on the calling thread.
import { Backend, type SimdBuild, type Threading } from '../backend.ts';
import { type DType, type HostArray, Tensor, shapeSize } from '../tensor.ts';
import { type FeddipError, InvalidArgumentError } from '../../errors.ts';
import { canBlock, canShareMemory, cpuCount } from '../../platform/worker.ts';
import { runtimeName } from '../../platform/runtime.ts';
import { WasmHeap } from './heap.ts';
import { chooseSimdBuild, instantiateKernels, instantiateSharedKernels, type KernelExports, type SimdChoice } from './module.ts';
import { DEFAULT_WORKER_TIMEOUT_MS, KernelThreads } from './threads.ts';
import type { ParallelKernel } from './protocol.ts';
import type { LinearBackwardArgs, LinearDims, LinearForwardArgs } from '../../kernels/linear.ts';
import type { ReluBackwardArgs, ReluForwardArgs } from '../../kernels/activation.ts';
import type { CrossEntropyDims, SoftmaxCrossEntropyArgs } from '../../kernels/loss.ts';
import type { AxpyArgs, FillArgs, SgdStepArgs } from '../../kernels/optim.ts';
import type { AddScaledByInvNormArgs, CopyArgs, SumSquaresArgs } from '../../kernels/vector.ts';
import type { Conv2dBackwardArgs, Conv2dDims, Conv2dForwardArgs, Conv2dInputGradPooledArgs, Conv2dWeightGradPooledArgs } from '../../kernels/conv.ts';
import type {
  AdaptiveAvgPool2dBackwardArgs, AdaptiveAvgPool2dForwardArgs, AvgPool2dBackwardArgs, AvgPool2dForwardArgs,
  MaxPool2dBackwardArgs, MaxPool2dForwardArgs, PlaneDims, Pool2dDims,
} from '../../kernels/pool.ts';
import type { BatchNorm2dBackwardArgs, BatchNorm2dForwardArgs, BatchNormDims } from '../../kernels/batchnorm.ts';
import type { AddArgs, DropoutDims } from '../../kernels/elementwise.ts';
import type { ApplyMaskArgs } from '../../kernels/mask.ts';
import type { PooledForwardDims, SparseConv2dForwardPooledArgs } from '../../kernels/conv-pooled.ts';
import type {
  CsrAddScaledByInvNormArgs, CsrGatherArgs, SparseConv2dBackwardDataArgs, SparseConv2dForwardArgs, SparseConv2dInputGradPooledArgs, SparseLinearDims, SparseLinearForwardArgs,
} from '../../kernels/sparse.ts';

class WasmTensor<D extends DType = DType> extends Tensor<D> {
  readonly ptr: number;
  constructor(dtype: D, shape: readonly number[], ptr: number) {
    super('wasm', dtype, shape);
    this.ptr = ptr;
  }
}

const p = (t: Tensor | undefined): number => (t ? (t as WasmTensor).ptr : 0);

export interface WasmBackendOptions {
  /**
   * Threads that run the kernels, the calling one included (default: every core). More than one
   * needs SharedArrayBuffer (Node, Deno, cross-origin-isolated pages); where it is missing the
   * backend runs on one thread and `threading.reason` says why.
   */
  threads?: number;
  /**
   * Matrix products and convolutions with fewer multiply-adds than this stay on the calling thread
   * (waking the workers costs more than they would save). Default: DEFAULT_SPLIT.macs.
   */
  minSplitMacs?: number;
  /** Element-wise, pooling and batch-norm kernels over fewer elements stay on the calling thread. */
  minSplitElements?: number;
  /**
   * How long a split kernel waits for its worker threads without any of them making progress
   * before it declares one dead (terminated, out of memory, killed) and throws a
   * `BACKEND_UNAVAILABLE` error instead of hanging; from then on the backend refuses every call
   * (dispose it and create a new one). It must exceed the longest part of a kernel on a loaded
   * machine (a worker that started its part shows no progress until it finishes it). Default:
   * DEFAULT_WORKER_TIMEOUT_MS (30 s); `Infinity` waits forever.
   */
  workerTimeoutMs?: number;
  /**
   * Which SIMD build runs the kernels (default 'auto'). 'relaxed' uses WebAssembly relaxed SIMD,
   * whose multiply-add compiles to one fused instruction on CPUs that have one (x86 with FMA,
   * ARM): 15–20 % faster training on this project's machines, with results that may differ in the
   * last bits from one CPU to another. 'baseline' is plain SIMD: slower, and the same bits on every
   * machine. 'auto' takes 'relaxed' wherever the engine has it; on Node 20, where it sits behind
   * a V8 flag, the backend sets `--experimental-wasm-relaxed-simd` for the process first.
   * `simd` on the backend says which build runs and why.
   */
  simd?: SimdChoice;
}

/**
 * Split only kernels with tens of µs of work per thread, which must outweigh waking and joining
 * the workers: 2¹⁸ multiply-adds take ~30 µs in a 64³ product on one thread here, 2¹⁶ elements of
 * ReLU ~25 µs. A first estimate, not yet tuned on a quiet machine; on an oversubscribed one a
 * wake-up can take a scheduler slice (~0.5 ms was seen), which no threshold hides — ask for
 * { threads: 1 } there.
 */
export const DEFAULT_SPLIT = { macs: 1 << 18, elements: 1 << 16 } as const;

/** Why memory cannot be shared with workers here (only called when it cannot). */
function noSharedMemoryReason(): string {
  if (runtimeName() === 'browser') {
    return 'SharedArrayBuffer unavailable (page not cross-origin-isolated: serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  return 'SharedArrayBuffer unavailable in this runtime';
}

function positiveInteger(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`wasm backend: '${name}' must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) throw new InvalidArgumentError(`wasm backend: '${name}' must be a number > 0 (milliseconds), got ${String(value)}`);
  return value;
}

function nonNegative(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0)) throw new InvalidArgumentError(`wasm backend: '${name}' must be a number ≥ 0, got ${String(value)}`);
  return value;
}

export class WasmBackend extends Backend {
  readonly name = 'wasm' as const;
  readonly description: string;
  readonly #threading: Threading;
  readonly #simd: SimdBuild;
  readonly #k: KernelExports;
  readonly #heap: WasmHeap;
  readonly #pool: KernelThreads | undefined;
  readonly #minMacs: number;
  readonly #minElements: number;
  /** Grow-only scratch block for kernels that need one (im2col); 0 until first needed. */
  #workspace = 0;
  #workspaceBytes = 0;

  private constructor(kernels: KernelExports, pool: KernelThreads | undefined, reason: string, split: { macs: number; elements: number }, simd: SimdBuild) {
    super();
    this.#k = kernels;
    this.#heap = new WasmHeap(kernels.memory, kernels.heapBase());
    this.#pool = pool;
    this.#minMacs = split.macs;
    this.#minElements = split.elements;
    const threads = pool?.parts ?? 1;
    this.#threading = { threads, reason };
    this.#simd = simd;
    this.description = `wasm (${simd.kind === 'relaxed' ? 'relaxed SIMD' : 'SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})`;
  }

  /** Which SIMD build runs the kernels, and why that one (see WasmBackendOptions.simd). */
  override get simd(): SimdBuild {
    return { ...this.#simd };
  }

  /** How many threads run the kernels, and why (never fewer than asked for without a reason). */
  override get threading(): Threading {
    return { ...this.#threading };
  }

  static async create(options: WasmBackendOptions = {}): Promise<WasmBackend> {
    const requested = positiveInteger('threads', options.threads);
    const split = {
      macs: nonNegative('minSplitMacs', options.minSplitMacs, DEFAULT_SPLIT.macs),
      elements: nonNegative('minSplitElements', options.minSplitElements, DEFAULT_SPLIT.elements),
    };
    const timeoutMs = positive('workerTimeoutMs', options.workerTimeoutMs, DEFAULT_WORKER_TIMEOUT_MS);
    const simd = await chooseSimdBuild(options.simd);
    const cores = requested === undefined ? await cpuCount() : 0;
    const threads = requested ?? cores;
    let reason: string;
    if (threads <= 1) {
      reason = requested === undefined ? `single-threaded: this machine reports ${cores} core` : 'single-threaded: 1 thread requested';
    } else if (!canShareMemory()) {
      reason = `single-threaded: ${noSharedMemoryReason()}`;
    } else {
      const shared = await instantiateSharedKernels(simd.kind);
      try {
        const block = canBlock();
        const pool = await KernelThreads.start(shared.module, shared.memory, shared.kernels as unknown as Record<string, unknown>, threads - 1, block, timeoutMs);
        const how = `${threads} threads on shared memory (${requested === undefined ? 'one per core' : 'as requested'})`;
        return new WasmBackend(shared.kernels, pool, block ? how : `${how}; the page's main thread polls for its workers, since Atomics.wait is not allowed there`, split, simd);
      } catch (error) {
        reason = `single-threaded: ${(error as Error).message}`;
      }
    }
    return new WasmBackend(await instantiateKernels(simd.kind), undefined, reason, split, simd);
  }

  /** Kernels split across threads so far, how many the workers took part in and the shares they ran (zeros when single-threaded). */
  threadStats(): { split: number; workerParts: number; workerShares: number } {
    return this.#pool?.stats ?? { split: 0, workerParts: 0, workerShares: 0 };
  }

  protected override failure(): FeddipError | undefined {
    return this.#pool?.failure;
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
    this.#pool?.close();
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

  /**
   * One workspace of `floats` per thread, `parts` of them side by side: the block's address and the
   * stride between workspaces, rounded to cache lines so that two threads never write the same line.
   */
  #threadScratch(floats: number, parts: number): { ws: number; stride: number } {
    const stride = Math.ceil((floats * 4) / 64) * 64;
    return { ws: this.#scratch(stride * parts), stride };
  }

  // A view must be made afresh each time: growing memory detaches earlier ArrayBuffers.
  #view(t: Tensor): HostArray {
    const buffer = this.#k.memory.buffer;
    return t.dtype === 'f32' ? new Float32Array(buffer, p(t), t.size) : new Int32Array(buffer, p(t), t.size);
  }

  /** The pool, when `work` (multiply-adds or elements, against `min`) is worth splitting. */
  #split(work: number, min: number): KernelThreads | undefined {
    return this.#pool && work >= min && work > 0 ? this.#pool : undefined;
  }

  /** Runs an element-wise kernel over n floats: split when large, else its serial export. */
  #elementwise(part: ParallelKernel, serial: (...args: number[]) => void, args: number[], n: number): void {
    const pool = this.#split(n, this.#minElements);
    if (pool) pool.run(part, args);
    else serial(...args);
  }

  protected runLinearForward(a: LinearForwardArgs, d: LinearDims): void {
    const args = [p(a.x), p(a.w), p(a.b), p(a.y), d.batch, d.inFeatures, d.outFeatures];
    const pool = this.#split(d.batch * d.inFeatures * d.outFeatures, this.#minMacs);
    if (pool) pool.run('linearForwardPart', args);
    else this.#k.linearForward(...(args as Parameters<KernelExports['linearForward']>));
  }

  protected runLinearBackward(a: LinearBackwardArgs, d: LinearDims): void {
    const { batch, inFeatures, outFeatures } = d;
    const pool = this.#split(batch * inFeatures * outFeatures, this.#minMacs);
    if (a.dx || a.dw) {
      // Both products go through packed copies of their operands: one workspace per thread.
      const { ws, stride } = this.#threadScratch(this.#k.linearBackwardWorkspaceFloats(batch, inFeatures, outFeatures), pool?.parts ?? 1);
      if (a.dx) {
        if (pool) pool.run('linearBackwardDataPart', [p(a.dy), p(a.w), p(a.dx), ws, stride, batch, inFeatures, outFeatures]);
        else this.#k.linearBackwardData(p(a.dy), p(a.w), p(a.dx), ws, batch, inFeatures, outFeatures, 0, inFeatures);
      }
      if (a.dw) {
        if (pool) pool.run('linearBackwardWeightPart', [p(a.dy), p(a.x), p(a.dw), ws, stride, batch, inFeatures, outFeatures]);
        else this.#k.linearBackwardWeight(p(a.dy), p(a.x), p(a.dw), ws, batch, inFeatures, outFeatures, 0, outFeatures);
      }
    }
    if (a.db) this.#k.linearBackwardBias(p(a.dy), p(a.db), batch, outFeatures, 0);
  }

  protected runReluForward(a: ReluForwardArgs, n: number): void {
    this.#elementwise('reluForwardPart', this.#k.reluForward, [p(a.x), p(a.y), n], n);
  }

  protected runReluBackward(a: ReluBackwardArgs, n: number): void {
    this.#elementwise('reluBackwardPart', this.#k.reluBackward, [p(a.x), p(a.dy), p(a.dx), n], n);
  }

  protected runSoftmaxCrossEntropy(a: SoftmaxCrossEntropyArgs, d: CrossEntropyDims): void {
    this.#k.softmaxCrossEntropy(p(a.logits), p(a.labels), p(a.loss), p(a.dlogits), d.batch, d.classes);
  }

  protected runSgdStep(a: Required<SgdStepArgs>, n: number): void {
    this.#elementwise('sgdStepPart', this.#k.sgdStep, [p(a.param), p(a.grad), n, a.lr, a.weightDecay], n);
  }

  protected runAxpy(a: AxpyArgs, n: number): void {
    this.#elementwise('axpyPart', this.#k.axpy, [a.alpha, p(a.x), p(a.y), n], n);
  }

  protected runFill(a: FillArgs, n: number): void {
    this.#elementwise('fillPart', this.#k.fill, [p(a.y), a.value, n], n);
  }

  protected runCopy(a: CopyArgs, n: number): void {
    this.#elementwise('copyPart', this.#k.copy, [p(a.x), p(a.y), n], n);
  }

  protected runSumSquares(a: SumSquaresArgs, n: number): void {
    this.#k.sumSquares(p(a.x), n, p(a.out));
  }

  protected runAddScaledByInvNorm(a: AddScaledByInvNormArgs, n: number): void {
    this.#elementwise('addScaledByInvNormPart', this.#k.addScaledByInvNorm, [p(a.x), p(a.sumSquares), p(a.grad), n, a.lambda], n);
  }

  /**
   * Conv workspace (im2col, or the implicit lowering's buffers: assembly/conv.ts decides and sizes
   * it): one per thread (`parts` of them, each `stride` bytes apart); a 1×1 stride-1 unpadded conv
   * reads x directly and needs none.
   */
  #convScratch(d: Conv2dDims, parts = 1): { col: number; stride: number } {
    if (d.batch === 0) return { col: 0, stride: 0 };
    const floats = this.#k.convWorkspaceFloats(d.inChannels, d.inH, d.inW, d.outChannels, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW);
    if (floats === 0) return { col: 0, stride: 0 };
    const { ws, stride } = this.#threadScratch(floats, parts);
    return { col: ws, stride };
  }

  #convMacs(d: Conv2dDims): number {
    return d.batch * d.outChannels * d.inChannels * d.kernelH * d.kernelW * d.outH * d.outW;
  }

  /** The multiply-adds a gradient from a max-pool's side keeps: one patch per pooled position. */
  #pooledMacs(d: Conv2dDims, pooled: number): number {
    return d.outH * d.outW > 0 ? (this.#convMacs(d) * pooled) / (d.outH * d.outW) : 0;
  }

  protected runConv2dForward(a: Conv2dForwardArgs, d: Conv2dDims): void {
    const pool = d.batch > 1 ? this.#split(this.#convMacs(d), this.#minMacs) : undefined;
    if (pool) {
      const { col, stride } = this.#convScratch(d, pool.parts);
      pool.run('conv2dForwardPart', [p(a.x), p(a.w), p(a.b), p(a.y), col, stride, ...convArgs(d)]);
      return;
    }
    const { col } = this.#convScratch(d);
    this.#k.conv2dForward(p(a.x), p(a.w), p(a.b), p(a.y), col, ...convArgs(d));
  }

  protected runConv2dBackward(a: Conv2dBackwardArgs, d: Conv2dDims): void {
    const pool = a.dx || a.dw ? this.#split(this.#convMacs(d), this.#minMacs) : undefined;
    if (pool) {
      const { col, stride } = this.#convScratch(d, pool.parts);
      const geometry = convArgs(d);
      // A lanes or implicit weight gradient with a chunk of images for every thread splits the
      // batch (each thread lays out only its images) rather than the taps.
      const chunks = a.dw ? this.#k.weightGradChunks(...geometry) : 0;
      const byChunks = chunks >= pool.parts;
      if (a.dx || !byChunks) pool.run('conv2dBackwardPart', [p(a.x), p(a.w), p(a.dy), p(a.dx), byChunks ? 0 : p(a.dw), col, stride, ...geometry]);
      if (byChunks) this.#weightGradByChunks(a, d, pool, col, stride, chunks);
      // The bias gradient by output channels, each summed image by image as on one thread.
      if (a.db) pool.run('biasGradPart', [p(a.dy), p(a.db), d.batch, d.outChannels, d.outH * d.outW]);
      return;
    }
    // Only the input and weight gradients go through im2col; a bias-only call needs no workspace.
    const { col } = a.dx || a.dw ? this.#convScratch(d) : { col: 0 };
    this.#k.conv2dBackward(p(a.x), p(a.w), p(a.dy), p(a.dx), p(a.dw), p(a.db), col, ...convArgs(d));
  }
  /** The lanes or implicit weight gradient, chunks of images split between the threads, then added up in order. */
  #weightGradByChunks(a: Conv2dBackwardArgs, d: Conv2dDims, pool: KernelThreads, col: number, stride: number, chunks: number): void {
    const size = d.outChannels * d.inChannels * d.kernelH * d.kernelW;
    const partials = this.#heap.alloc(chunks * size * 4);
    try {
      pool.run('conv2dWeightGradPartialsPart', [p(a.x), p(a.dy), partials, col, stride, chunks,
        d.batch, d.inChannels, d.inH, d.inW, d.outChannels, d.kernelH, d.kernelW, d.padH, d.padW]);
      pool.run('sumPartialsPart', [partials, p(a.dw!), chunks, size]);
    } finally {
      this.#heap.free(partials);
    }
  }

  protected runConv2dWeightGradPooled(a: Conv2dWeightGradPooledArgs, d: Conv2dDims, pooled: number): void {
    if (!this.#k.pooledWeightGradSupported(d.kernelW)) {
      this.#pooledWeightGradByScatter(a, d, pooled);
      return;
    }
    const geometry = convArgs(d);
    const floats = this.#k.pooledWeightGradWorkspaceFloats(d.batch, d.inChannels, d.inH, d.inW, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW, pooled);
    const pool = d.outChannels > 1 ? this.#split(this.#pooledMacs(d, pooled), this.#minMacs) : undefined;
    const { ws, stride } = this.#threadScratch(floats, pool?.parts ?? 1);
    if (pool) {
      pool.run('conv2dWeightGradPooledPart', [p(a.x), p(a.g), p(a.indices), p(a.dw), p(a.db), ws, stride, ...geometry, pooled]);
      return;
    }
    this.#k.conv2dWeightGradPooled(p(a.x), p(a.g), p(a.indices), p(a.dw), p(a.db), ws, 0, d.outChannels,
      ...geometry, pooled);
  }

  protected runConv2dInputGradPooled(a: Conv2dInputGradPooledArgs, d: Conv2dDims, pooled: number): void {
    if (!this.#k.pooledInputGradPreferred(d.inChannels, d.kernelW)) {
      this.#inputGradByScatter(a, d);
      return;
    }
    const geometry = convArgs(d);
    const floats = this.#k.pooledInputGradWorkspaceFloats(d.inChannels, d.inH, d.inW, d.outChannels, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW, pooled);
    const pool = d.batch > 1 ? this.#split(this.#pooledMacs(d, pooled), this.#minMacs) : undefined;
    const { ws, stride } = this.#threadScratch(floats, pool?.parts ?? 1);
    if (pool) {
      pool.run('conv2dBackwardDataPooledPart', [p(a.g), p(a.indices), p(a.w), p(a.dx), ws, stride, ...geometry, pooled]);
      return;
    }
    this.#k.conv2dBackwardDataPooled(p(a.g), p(a.indices), p(a.w), p(a.dx), ws, 0, d.batch,
      d.inChannels, d.inH, d.inW, d.outChannels, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW, pooled);
  }

  /**
   * Wide channels (Winograd or im2col at full speed on a dense dy): the pool's scatter into a
   * temporary dy, then the dense input gradient, split between the threads as usual. It reads no x.
   */
  #inputGradByScatter(a: Conv2dInputGradPooledArgs, d: Conv2dDims): void {
    const dy = this.tensor('f32', [d.batch, d.outChannels, d.outH, d.outW]);
    try {
      this.maxPool2dBackward({ dy: a.g, indices: a.indices, dx: dy });
      this.runConv2dBackward({ x: a.dx, w: a.w, dy, dx: a.dx }, d);
    } finally {
      this.release(dy);
    }
  }

  /** Kernels wider than 8 (which the pooled kernel does not take): the pool's scatter, then the dense gradients. */
  #pooledWeightGradByScatter(a: Conv2dWeightGradPooledArgs, d: Conv2dDims, pooled: number): void {
    const planes = d.batch * d.outChannels;
    const dy = this.#heap.alloc(Math.max(4, planes * d.outH * d.outW * 4));
    try {
      this.#k.maxPool2dBackward(p(a.g), p(a.indices), dy, planes, d.outH, d.outW, 1, pooled);
      const { col } = this.#convScratch(d);
      // w is read only by the input gradient, which is not asked for.
      this.#k.conv2dBackward(p(a.x), 0, dy, 0, p(a.dw), p(a.db), col, ...convArgs(d));
    } finally {
      this.#heap.free(dy);
    }
  }

  /** Pooling and batch-norm split by planes or channels: worth it only with several of them. */
  #splitPlanes(planes: number, elements: number): KernelThreads | undefined {
    return planes > 1 ? this.#split(elements, this.#minElements) : undefined;
  }

  protected runMaxPool2dForward(a: MaxPool2dForwardArgs, d: Pool2dDims): void {
    const args = [p(a.x), p(a.y), p(a.indices), ...poolArgs(d)];
    const pool = this.#splitPlanes(d.planes, d.planes * d.inH * d.inW);
    if (pool) pool.run('maxPool2dForwardPart', args);
    else this.#k.maxPool2dForward(...(args as Parameters<KernelExports['maxPool2dForward']>));
  }

  protected runMaxPool2dBackward(a: MaxPool2dBackwardArgs, d: PlaneDims): void {
    const args = [p(a.dy), p(a.indices), p(a.dx), d.planes, d.inH, d.inW, d.outH, d.outW];
    const pool = this.#splitPlanes(d.planes, d.planes * d.inH * d.inW);
    if (pool) pool.run('maxPool2dBackwardPart', args);
    else this.#k.maxPool2dBackward(...(args as Parameters<KernelExports['maxPool2dBackward']>));
  }

  protected runAvgPool2dForward(a: AvgPool2dForwardArgs, d: Pool2dDims): void {
    const args = [p(a.x), p(a.y), ...poolArgs(d)];
    const pool = this.#splitPlanes(d.planes, d.planes * d.inH * d.inW);
    if (pool) pool.run('avgPool2dForwardPart', args);
    else this.#k.avgPool2dForward(...(args as Parameters<KernelExports['avgPool2dForward']>));
  }

  protected runAvgPool2dBackward(a: AvgPool2dBackwardArgs, d: Pool2dDims): void {
    const args = [p(a.dy), p(a.dx), ...poolArgs(d)];
    const pool = this.#splitPlanes(d.planes, d.planes * d.inH * d.inW);
    if (pool) pool.run('avgPool2dBackwardPart', args);
    else this.#k.avgPool2dBackward(...(args as Parameters<KernelExports['avgPool2dBackward']>));
  }

  protected runAdaptiveAvgPool2dForward(a: AdaptiveAvgPool2dForwardArgs, d: PlaneDims): void {
    const args = [p(a.x), p(a.y), d.planes, d.inH, d.inW, d.outH, d.outW];
    const pool = this.#splitPlanes(d.planes, d.planes * d.inH * d.inW);
    if (pool) pool.run('adaptiveAvgPool2dForwardPart', args);
    else this.#k.adaptiveAvgPool2dForward(...(args as Parameters<KernelExports['adaptiveAvgPool2dForward']>));
  }

  protected runAdaptiveAvgPool2dBackward(a: AdaptiveAvgPool2dBackwardArgs, d: PlaneDims): void {
    const args = [p(a.dy), p(a.dx), d.planes, d.inH, d.inW, d.outH, d.outW];
    const pool = this.#splitPlanes(d.planes, d.planes * d.inH * d.inW);
    if (pool) pool.run('adaptiveAvgPool2dBackwardPart', args);
    else this.#k.adaptiveAvgPool2dBackward(...(args as Parameters<KernelExports['adaptiveAvgPool2dBackward']>));
  }

  protected runBatchNorm2dForward(a: BatchNorm2dForwardArgs & { momentum: number; eps: number }, d: BatchNormDims): void {
    const args = [p(a.x), p(a.gamma), p(a.beta), p(a.runningMean), p(a.runningVar), p(a.y),
      p(a.saveMean), p(a.saveInvStd), d.batch, d.channels, d.spatial, a.training ? 1 : 0, a.momentum, a.eps];
    const pool = this.#splitPlanes(d.channels, d.batch * d.channels * d.spatial);
    if (pool) pool.run('batchNorm2dForwardPart', args);
    else this.#k.batchNorm2dForward(...(args as Parameters<KernelExports['batchNorm2dForward']>));
  }

  protected runBatchNorm2dBackward(a: BatchNorm2dBackwardArgs, d: BatchNormDims): void {
    const args = [p(a.x), p(a.gamma), p(a.dy), p(a.saveMean), p(a.saveInvStd),
      p(a.dx), p(a.dgamma), p(a.dbeta), d.batch, d.channels, d.spatial];
    const pool = this.#splitPlanes(d.channels, d.batch * d.channels * d.spatial);
    if (pool) pool.run('batchNorm2dBackwardPart', args);
    else this.#k.batchNorm2dBackward(...(args as Parameters<KernelExports['batchNorm2dBackward']>));
  }

  protected runDropout(input: Tensor, mask: Tensor, out: Tensor, d: DropoutDims): void {
    this.#elementwise('dropoutPart', this.#k.dropout, [p(input), p(mask), p(out), d.size, d.scale], d.size);
  }

  protected runAdd(a: AddArgs, n: number): void {
    this.#elementwise('addTensorsPart', this.#k.addTensors, [p(a.a), p(a.b), p(a.y), n], n);
  }

  protected runApplyMask(a: ApplyMaskArgs, n: number): void {
    this.#elementwise('applyMaskPart', this.#k.applyMask, [p(a.w), p(a.mask), p(a.y), n], n);
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

  /** Workspace of the sparse conv kernels for at most `nnz` kept weights (assembly/sparse.ts sizes it). */
  #sparseConvScratch(d: Conv2dDims, nnz: number): number {
    if (d.batch === 0) return 0;
    const floats = this.#k.sparseConvWorkspaceFloats(nnz, d.inChannels, d.inH, d.inW, d.outChannels, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW);
    return this.#scratch(floats * 4);
  }

  protected runSparseConv2dForward(a: SparseConv2dForwardArgs, d: Conv2dDims): void {
    this.#k.sparseConv2dForward(p(a.x), p(a.w.rowPtr), p(a.w.colIdx), p(a.w.values), p(a.b), p(a.y), this.#sparseConvScratch(d, a.w.values.size),
      ...convArgs(d));
  }

  /**
   * Fused for a 2×2 stride-2 pool behind the gathered pass (LeNet-5's conv2 when pruned): each
   * image's pool reads the product's grid, which the plain pass copies out to y. Dense
   * convolutions run the passes in turn: pooling LeNet-5's conv1 from a cache-resident copy of
   * each image's output measured the same as pooling the batch's afterwards (625 against 626 us at
   * batch 128; the pool's compares and selects, not its loads, are its cost).
   */
  protected override runSparseConv2dForwardPooled(a: SparseConv2dForwardPooledArgs, d: PooledForwardDims): void {
    const c = d.conv;
    const nnz = a.w.values.size;
    if (!isPool2x2(d.pool) || !this.#k.sparsePooledForwardFused(nnz, c.inChannels, c.inH, c.inW, c.kernelH, c.kernelW, c.strideH, c.strideW, c.padH, c.padW)) {
      super.runSparseConv2dForwardPooled(a, d);
      return;
    }
    this.#k.sparseConv2dForwardPooled(p(a.x), p(a.w.rowPtr), p(a.w.colIdx), p(a.w.values), p(a.b), p(a.y), p(a.indices), this.#sparseConvScratch(c, nnz),
      c.batch, c.inChannels, c.inH, c.inW, c.outChannels, c.kernelH, c.kernelW, c.padH, c.padW, a.relu ? 1 : 0);
  }

  protected runSparseConv2dInputGradPooled(a: SparseConv2dInputGradPooledArgs, d: Conv2dDims, pooled: number): void {
    const floats = this.#k.sparsePooledInputGradWorkspaceFloats(a.wt.values.size, d.inChannels, d.inH, d.inW, d.outChannels,
      d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW, pooled);
    // The multiply-adds that remain: each kept weight once per pooled position of each image.
    const pool = d.batch > 1 ? this.#split(d.batch * pooled * a.wt.values.size, this.#minMacs) : undefined;
    const { ws, stride } = this.#threadScratch(floats, pool?.parts ?? 1);
    const csr = [p(a.wt.rowPtr), p(a.wt.colIdx), p(a.wt.values)] as const;
    if (pool) {
      pool.run('sparseConv2dBackwardDataPooledPart', [p(a.g), p(a.indices), ...csr, p(a.dx), ws, stride, ...convArgs(d), pooled]);
      return;
    }
    this.#k.sparseConv2dBackwardDataPooled(p(a.g), p(a.indices), ...csr, p(a.dx), ws, 0, d.batch,
      d.inChannels, d.inH, d.inW, d.outChannels, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW, pooled);
  }

  protected runSparseConv2dBackwardData(a: SparseConv2dBackwardDataArgs, d: Conv2dDims): void {
    this.#k.sparseConv2dBackwardData(p(a.dy), p(a.wt.rowPtr), p(a.wt.colIdx), p(a.wt.values), p(a.dx), this.#sparseConvScratch(d, a.wt.values.size),
      ...convArgs(d));
  }
}

/** The pool the fused forward passes take: 2×2, stride 2 (unpadded, as every pool behind a convolution is). */
function isPool2x2(d: Pool2dDims): boolean {
  return d.kernelH === 2 && d.kernelW === 2 && d.strideH === 2 && d.strideW === 2 && d.padH === 0 && d.padW === 0;
}

/** The geometry arguments every convolution export takes (n, c, h, w, o, kh, kw, sh, sw, ph, pw), in its order. */
function convArgs(d: Conv2dDims): [number, number, number, number, number, number, number, number, number, number, number] {
  return [d.batch, d.inChannels, d.inH, d.inW, d.outChannels, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW];
}

/** The geometry arguments every windowed pooling export takes, in its order. */
function poolArgs(d: Pool2dDims): [number, number, number, number, number, number, number, number, number, number, number] {
  return [d.planes, d.inH, d.inW, d.outH, d.outW, d.kernelH, d.kernelW, d.strideH, d.strideW, d.padH, d.padW];
}
