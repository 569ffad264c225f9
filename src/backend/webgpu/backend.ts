// WebGPU backend: tensors are storage buffers, kernels are compute dispatches. Each kernel call is
// submitted on its own, so one uniform buffer per shader suffices: queue.writeBuffer is ordered
// with submissions, and a dispatch sees the parameters written just before it.
import { Backend } from '../backend.ts';
import { type DType, type HostArray, Tensor, shapeSize } from '../tensor.ts';
import { BackendUnavailableError, FeddipError } from '../../errors.ts';
import { openDevice } from './device.ts';
import { SHADERS, type ShaderName, WORKGROUP_1D } from './shaders.ts';
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
import type { Conv2dForwardPooledArgs, PooledForwardDims, SparseConv2dForwardPooledArgs } from '../../kernels/conv-pooled.ts';
import type {
  CsrAddScaledByInvNormArgs, CsrGatherArgs, CsrMatrix, SparseConv2dBackwardDataArgs, SparseConv2dForwardArgs, SparseConv2dInputGradPooledArgs,
  SparseLinearDims, SparseLinearForwardArgs,
} from '../../kernels/sparse.ts';

const WORKGROUP_2D = 8;
/** Room for the largest uniform block (include/conv2d_pooled.wgsl: 21 words), in 16-byte units. */
const UNIFORM_BYTES = 96;

type Field = ['u32' | 'f32', number];

class GpuTensor<D extends DType = DType> extends Tensor<D> {
  readonly buffer: GPUBuffer;
  constructor(dtype: D, shape: readonly number[], buffer: GPUBuffer) {
    super('webgpu', dtype, shape);
    this.buffer = buffer;
  }
}

const buf = (t: Tensor): GPUBuffer => (t as GpuTensor).buffer;

interface Kernel { pipeline: GPUComputePipeline; uniforms: GPUBuffer }

export class WebGpuBackend extends Backend {
  readonly name = 'webgpu' as const;
  readonly description: string;
  /** True on CPU rasterisers (SwiftShader, llvmpipe): correct, but slower than wasm. */
  readonly software: boolean;
  readonly #device: GPUDevice;
  readonly #kernels = new Map<ShaderName, Kernel>();
  /** Stand-in for optional inputs (a layer without bias, a loss without gradient). */
  readonly #placeholder: GPUBuffer;
  /** Grow-only scratch buffers by slot (sparse: a slot exists once a kernel asked for it). */
  readonly #scratch: Array<GPUBuffer | undefined> = [];
  #error: Error | undefined;
  #lost = false;

  private constructor(device: GPUDevice, label: string, software: boolean) {
    super();
    this.#device = device;
    this.description = `webgpu on ${label}`;
    this.software = software;
    this.#placeholder = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    device.addEventListener?.('uncapturederror', (event) => {
      this.#error ??= new FeddipError('GPU_ERROR', `webgpu: ${(event as GPUUncapturedErrorEvent).error.message}`);
    });
    void device.lost.then((info) => {
      this.#lost = true;
      this.#error ??= new FeddipError('GPU_ERROR', `webgpu: the device was lost (${info.reason}: ${info.message})`);
    });
  }

  /** Opens a device and proves it computes (a null adapter accepts work and does none). */
  static async create(): Promise<WebGpuBackend> {
    const { device, adapterLabel, software } = await openDevice();
    const backend = new WebGpuBackend(device, adapterLabel, software);
    try {
      await backend.#selfTest();
    } catch (error) {
      backend.dispose();
      throw error instanceof BackendUnavailableError
        ? error
        : new BackendUnavailableError('webgpu', `the adapter (${adapterLabel}) failed a self-test: ${(error as Error).message}`, { cause: error });
    }
    return backend;
  }

  async #selfTest(): Promise<void> {
    const x = this.tensor('f32', [5], [1, 2, 3, 4, 5]);
    const y = this.tensor('f32', [5]);
    this.fill({ y, value: 0.5 });
    this.axpy({ alpha: 2, x, y });
    const got = await this.read(y);
    this.release(x);
    this.release(y);
    const want = [2.5, 4.5, 6.5, 8.5, 10.5];
    if (want.some((v, i) => got[i] !== v)) {
      throw new BackendUnavailableError('webgpu', `the adapter accepted work but returned [${[...got].join(', ')}] instead of [${want.join(', ')}] (a null or broken backend)`);
    }
  }

  override async sync(): Promise<void> {
    await this.#device.queue.onSubmittedWorkDone();
    this.#throwPending();
  }

  #throwPending(): void {
    if (this.#error) {
      const error = this.#error;
      if (!this.#lost) this.#error = undefined;
      throw error;
    }
  }

  // ---- memory ----

  protected allocate<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
    const bytes = shapeSize(shape) * 4;
    const limit = this.#device.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new FeddipError('OUT_OF_MEMORY', `webgpu: a tensor of ${bytes} bytes exceeds this device's storage-buffer limit of ${limit} bytes`);
    }
    // Zero-sized bindings are invalid; an empty tensor still gets 4 bytes. New buffers are zeroed.
    const buffer = this.#device.createBuffer({
      size: Math.max(4, bytes),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    return new GpuTensor(dtype, shape, buffer);
  }

  protected upload(t: Tensor, data: HostArray): void {
    if (data.length) this.#device.queue.writeBuffer(buf(t), 0, data.buffer, data.byteOffset, data.byteLength);
  }

  protected async download(t: Tensor): Promise<HostArray> {
    const bytes = t.size * 4;
    const out = t.dtype === 'f32' ? new Float32Array(t.size) : new Int32Array(t.size);
    if (bytes === 0) return out;
    const staging = this.#device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = this.#device.createCommandEncoder();
      encoder.copyBufferToBuffer(buf(t), 0, staging, 0, bytes);
      this.#device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      new Uint8Array(out.buffer).set(new Uint8Array(staging.getMappedRange()));
      staging.unmap();
    } finally {
      staging.destroy();
    }
    this.#throwPending();
    return out;
  }

  protected free(t: Tensor): void {
    buf(t).destroy();
  }

  protected destroy(): void {
    for (const k of this.#kernels.values()) k.uniforms.destroy();
    for (const b of this.#scratch) b?.destroy();
    this.#placeholder.destroy();
    this.#device.destroy();
  }

  // ---- dispatch ----

  #kernel(name: ShaderName): Kernel {
    let k = this.#kernels.get(name);
    if (!k) {
      const module = this.#device.createShaderModule({ code: SHADERS[name], label: name });
      const pipeline = this.#device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name });
      const uniforms = this.#device.createBuffer({ size: UNIFORM_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      k = { pipeline, uniforms };
      this.#kernels.set(name, k);
    }
    return k;
  }

  /** Runs one shader: binding 0 is its uniform block, bindings 1… are `buffers` in order. */
  #dispatch(name: ShaderName, fields: Field[], buffers: GPUBuffer[], groups: [number, number]): void {
    this.#throwPending();
    if (groups[0] === 0 || groups[1] === 0) return;
    const max = this.#device.limits.maxComputeWorkgroupsPerDimension;
    if (groups[0] > max || groups[1] > max) {
      throw new FeddipError('INVALID_ARGUMENT', `webgpu: ${name} needs ${groups.join('×')} workgroups, more than this device's ${max} per dimension`);
    }
    const k = this.#kernel(name);
    const data = new ArrayBuffer(UNIFORM_BYTES);
    const view = new DataView(data);
    fields.forEach(([type, value], i) => {
      if (type === 'u32') view.setUint32(i * 4, value, true);
      else view.setFloat32(i * 4, value, true);
    });
    this.#device.queue.writeBuffer(k.uniforms, 0, data);
    const bindGroup = this.#device.createBindGroup({
      layout: k.pipeline.getBindGroupLayout(0),
      entries: [k.uniforms, ...buffers].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const encoder = this.#device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups[0], groups[1]);
    pass.end();
    this.#device.queue.submit([encoder.finish()]);
  }

  /**
   * A scratch buffer of at least `bytes`, distinct per slot. (Binding the one placeholder to two
   * writable slots of a dispatch would alias them, which some implementations reject.) Destroying
   * a smaller predecessor is safe: WebGPU defers it until submitted work that uses it is done.
   */
  #scratchBuffer(slot: number, bytes: number): GPUBuffer {
    let b = this.#scratch[slot];
    if (!b || b.size < bytes) {
      b?.destroy();
      b = this.#device.createBuffer({ size: Math.max(16, 2 ** Math.ceil(Math.log2(bytes))), usage: GPUBufferUsage.STORAGE });
      this.#scratch[slot] = b;
    }
    return b;
  }

  /** Workgroups for n invocations of a 1-D shader, folded into 2-D past the per-dimension limit. */
  #groups1d(n: number): [number, number] {
    const total = Math.ceil(n / WORKGROUP_1D);
    if (total === 0) return [0, 0];
    const x = Math.min(total, this.#device.limits.maxComputeWorkgroupsPerDimension);
    return [x, Math.ceil(total / x)];
  }

  #matmul(
    a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, bias: GPUBuffer | undefined,
    m: number, n: number, k: number, strides: { aRow: number; aK: number; bK: number; bCol: number },
  ): void {
    this.#dispatch('matmul', [
      ['u32', m], ['u32', n], ['u32', k],
      ['u32', strides.aRow], ['u32', strides.aK], ['u32', strides.bK], ['u32', strides.bCol],
      ['u32', bias ? 1 : 0], ['f32', 0],
    ], [a, b, bias ?? this.#placeholder, c], [Math.ceil(n / WORKGROUP_2D), Math.ceil(m / WORKGROUP_2D)]);
  }

  // ---- kernels ----

  protected runLinearForward(a: LinearForwardArgs, d: LinearDims): void {
    const { batch, inFeatures: I, outFeatures: O } = d;
    // y[n, o] = Σ_i x[n, i]·W[o, i]: B(i, o) = W[o·I + i]
    this.#matmul(buf(a.x), buf(a.w), buf(a.y), a.b && buf(a.b), batch, O, I, { aRow: I, aK: 1, bK: 1, bCol: I });
  }

  protected runLinearBackward(a: LinearBackwardArgs, d: LinearDims): void {
    const { batch, inFeatures: I, outFeatures: O } = d;
    // dx[n, i] = Σ_o dy[n, o]·W[o, i]
    if (a.dx) this.#matmul(buf(a.dy), buf(a.w), buf(a.dx), undefined, batch, I, O, { aRow: O, aK: 1, bK: I, bCol: 1 });
    // dW[o, i] = Σ_n dy[n, o]·x[n, i]
    if (a.dw) this.#matmul(buf(a.dy), buf(a.x), buf(a.dw), undefined, O, I, batch, { aRow: 1, aK: O, bK: I, bCol: 1 });
    if (a.db) this.#dispatch('colSum', [['u32', batch], ['u32', O], ['f32', 0]], [buf(a.dy), buf(a.db)], this.#groups1d(O));
  }

  protected runReluForward(a: ReluForwardArgs, n: number): void {
    this.#dispatch('reluForward', [['u32', n]], [buf(a.x), buf(a.y)], this.#groups1d(n));
  }

  protected runReluBackward(a: ReluBackwardArgs, n: number): void {
    this.#dispatch('reluBackward', [['u32', n]], [buf(a.x), buf(a.dy), buf(a.dx)], this.#groups1d(n));
  }

  protected runSoftmaxCrossEntropy(a: SoftmaxCrossEntropyArgs, d: CrossEntropyDims): void {
    this.#dispatch('softmaxCrossEntropy', [['u32', d.batch], ['u32', d.classes], ['u32', a.dlogits ? 1 : 0]],
      [buf(a.logits), buf(a.labels), buf(a.loss), a.dlogits ? buf(a.dlogits) : this.#placeholder], [d.batch > 0 ? 1 : 0, 1]);
  }

  protected runSgdStep(a: Required<SgdStepArgs>, n: number): void {
    this.#dispatch('sgdStep', [['u32', n], ['f32', a.lr], ['f32', a.weightDecay]], [buf(a.grad), buf(a.param)], this.#groups1d(n));
  }

  protected runAxpy(a: AxpyArgs, n: number): void {
    this.#dispatch('axpy', [['u32', n], ['f32', a.alpha]], [buf(a.x), buf(a.y)], this.#groups1d(n));
  }

  protected runFill(a: FillArgs, n: number): void {
    this.#dispatch('fill', [['u32', n], ['f32', a.value]], [buf(a.y)], this.#groups1d(n));
  }

  protected runCopy(a: CopyArgs, n: number): void {
    this.#dispatch('copy', [['u32', n]], [buf(a.x), buf(a.y)], this.#groups1d(n));
  }

  protected runSumSquares(a: SumSquaresArgs, n: number): void {
    this.#dispatch('sumSquares', [['u32', n]], [buf(a.x), buf(a.out)], [1, 1]);
  }

  protected runAddScaledByInvNorm(a: AddScaledByInvNormArgs, n: number): void {
    this.#dispatch('addScaledByInvNorm', [['u32', n], ['f32', a.lambda]], [buf(a.x), buf(a.sumSquares), buf(a.grad)], this.#groups1d(n));
  }

  /** The Params block every conv2d shader shares (shaders/include/conv2d_params.wgsl). */
  #convFields(d: Conv2dDims, hasBias: boolean): Field[] {
    return [
      ['u32', d.batch], ['u32', d.inChannels], ['u32', d.inH], ['u32', d.inW],
      ['u32', d.outChannels], ['u32', d.kernelH], ['u32', d.kernelW],
      ['u32', d.strideH], ['u32', d.strideW], ['u32', d.padH], ['u32', d.padW],
      ['u32', d.outH], ['u32', d.outW], ['u32', hasBias ? 1 : 0],
    ];
  }

  protected runConv2dForward(a: Conv2dForwardArgs, d: Conv2dDims): void {
    this.#dispatch('conv2dForward', this.#convFields(d, Boolean(a.b)),
      [buf(a.x), buf(a.w), a.b ? buf(a.b) : this.#placeholder, buf(a.y)], this.#groups1d(a.y.size));
  }

  protected runConv2dBackward(a: Conv2dBackwardArgs, d: Conv2dDims): void {
    const fields = this.#convFields(d, false);
    if (a.dx) this.#dispatch('conv2dBackwardData', fields, [buf(a.w), buf(a.dy), buf(a.dx)], this.#groups1d(a.dx.size));
    if (a.dw) this.#dispatch('conv2dBackwardFilter', fields, [buf(a.x), buf(a.dy), buf(a.dw)], this.#groups1d(a.dw.size));
    if (a.db) this.#dispatch('conv2dBackwardBias', fields, [buf(a.dy), buf(a.db)], this.#groups1d(d.outChannels));
  }

  protected runConv2dWeightGradPooled(a: Conv2dWeightGradPooledArgs, d: Conv2dDims, pooled: number): void {
    const fields: Field[] = [
      ['u32', d.batch], ['u32', d.inChannels], ['u32', d.inH], ['u32', d.inW],
      ['u32', d.outChannels], ['u32', d.kernelH], ['u32', d.kernelW],
      ['u32', d.strideH], ['u32', d.strideW], ['u32', d.padH], ['u32', d.padW],
      ['u32', d.outH], ['u32', d.outW], ['u32', pooled], ['u32', a.db ? 1 : 0],
    ];
    this.#dispatch('conv2dWeightGradPooled', fields,
      [buf(a.x), buf(a.g), buf(a.indices), buf(a.dw), a.db ? buf(a.db) : this.#scratchBuffer(0, d.outChannels * 4)],
      this.#groups1d(a.dw.size + (a.db ? d.outChannels : 0)));
  }
  /**
   * The definition, in two shaders the backend has anyway: the pool's scatter into a scratch dy,
   * then the dense input gradient. On the GPU the zeros of dy cost parallel lanes, not time on
   * one core; skipping them would make threads of a workgroup diverge.
   */
  protected runConv2dInputGradPooled(a: Conv2dInputGradPooledArgs, d: Conv2dDims, pooled: number): void {
    const dy = this.#pooledDy(a.g, a.indices, d, pooled);
    this.#dispatch('conv2dBackwardData', this.#convFields(d, false), [buf(a.w), dy, buf(a.dx)], this.#groups1d(a.dx.size));
  }

  /** The conv's dy in a scratch buffer: the pool's backward (its shader) of g at indices. */
  #pooledDy(g: Tensor, indices: Tensor, d: Conv2dDims, pooled: number): GPUBuffer {
    const planes = d.batch * d.outChannels;
    const dy = this.#scratchBuffer(2, planes * d.outH * d.outW * 4);
    this.#dispatch('maxPool2dBackward', [['u32', planes], ['u32', d.outH * d.outW], ['u32', pooled]],
      [buf(g), buf(indices), dy], this.#groups1d(planes));
    return dy;
  }

  protected runMaxPool2dForward(a: MaxPool2dForwardArgs, d: Pool2dDims): void {
    this.#dispatch('maxPool2dForward', poolFields(d), [buf(a.x), buf(a.y), buf(a.indices)], this.#groups1d(d.planes * d.outH * d.outW));
  }

  protected runMaxPool2dBackward(a: MaxPool2dBackwardArgs, d: PlaneDims): void {
    this.#dispatch('maxPool2dBackward', [['u32', d.planes], ['u32', d.inH * d.inW], ['u32', d.outH * d.outW]],
      [buf(a.dy), buf(a.indices), buf(a.dx)], this.#groups1d(d.planes));
  }

  protected runAvgPool2dForward(a: AvgPool2dForwardArgs, d: Pool2dDims): void {
    this.#dispatch('avgPool2dForward', poolFields(d), [buf(a.x), buf(a.y)], this.#groups1d(d.planes * d.outH * d.outW));
  }

  protected runAvgPool2dBackward(a: AvgPool2dBackwardArgs, d: Pool2dDims): void {
    this.#dispatch('avgPool2dBackward', poolFields(d), [buf(a.dy), buf(a.dx)], this.#groups1d(d.planes * d.inH * d.inW));
  }

  protected runAdaptiveAvgPool2dForward(a: AdaptiveAvgPool2dForwardArgs, d: PlaneDims): void {
    this.#dispatch('adaptiveAvgPool2dForward', planeFields(d), [buf(a.x), buf(a.y)], this.#groups1d(d.planes * d.outH * d.outW));
  }

  protected runAdaptiveAvgPool2dBackward(a: AdaptiveAvgPool2dBackwardArgs, d: PlaneDims): void {
    this.#dispatch('adaptiveAvgPool2dBackward', planeFields(d), [buf(a.dy), buf(a.dx)], this.#groups1d(d.planes * d.inH * d.inW));
  }

  protected runBatchNorm2dForward(a: BatchNorm2dForwardArgs & { momentum: number; eps: number }, d: BatchNormDims): void {
    const statBytes = d.channels * 4;
    this.#dispatch('batchNormForward', [
      ['u32', d.batch], ['u32', d.channels], ['u32', d.spatial], ['u32', a.training ? 1 : 0], ['f32', a.momentum], ['f32', a.eps],
    ], [
      buf(a.x), buf(a.gamma), buf(a.beta), buf(a.runningMean), buf(a.runningVar), buf(a.y),
      a.saveMean ? buf(a.saveMean) : this.#scratchBuffer(0, statBytes),
      a.saveInvStd ? buf(a.saveInvStd) : this.#scratchBuffer(1, statBytes),
    ], [d.channels, 1]);
  }

  protected runBatchNorm2dBackward(a: BatchNorm2dBackwardArgs, d: BatchNormDims): void {
    this.#dispatch('batchNormBackward', [['u32', d.batch], ['u32', d.channels], ['u32', d.spatial]], [
      buf(a.x), buf(a.gamma), buf(a.dy), buf(a.saveMean), buf(a.saveInvStd), buf(a.dx), buf(a.dgamma), buf(a.dbeta),
    ], [d.channels, 1]);
  }

  protected runDropout(input: Tensor, mask: Tensor, out: Tensor, d: DropoutDims): void {
    this.#dispatch('dropout', [['u32', d.size], ['f32', d.scale]], [buf(input), buf(mask), buf(out)], this.#groups1d(d.size));
  }

  protected runAdd(a: AddArgs, n: number): void {
    this.#dispatch('add', [['u32', n]], [buf(a.a), buf(a.b), buf(a.y)], this.#groups1d(n));
  }

  protected runApplyMask(a: ApplyMaskArgs, n: number): void {
    this.#dispatch('applyMask', [['u32', n]], [buf(a.w), buf(a.mask), buf(a.y)], this.#groups1d(n));
  }

  protected runCsrGather(a: CsrGatherArgs, rows: number): void {
    const [rowStride, colStride] = a.transposed ? [1, rows] : [a.a.cols, 1];
    this.#dispatch('csrGather', [['u32', rows], ['u32', rowStride], ['u32', colStride]],
      [buf(a.w), buf(a.a.rowPtr), buf(a.a.colIdx), buf(a.a.values)], this.#groups1d(rows));
  }

  protected runCsrAddScaledByInvNorm(a: CsrAddScaledByInvNormArgs, rows: number): void {
    this.#dispatch('csrAddScaledByInvNorm', [['u32', rows], ['u32', a.a.cols], ['f32', a.lambda]],
      [...csrBuffers(a.a), buf(a.sumSquares), buf(a.grad)], this.#groups1d(rows));
  }

  protected runSparseLinearForward(a: SparseLinearForwardArgs, d: SparseLinearDims): void {
    this.#dispatch('sparseLinearForward', [['u32', d.batch], ['u32', d.inFeatures], ['u32', d.outFeatures], ['u32', a.b ? 1 : 0]],
      [buf(a.x), ...csrBuffers(a.w), a.b ? buf(a.b) : this.#placeholder, buf(a.y)], this.#groups1d(a.y.size));
  }

  protected runSparseConv2dForward(a: SparseConv2dForwardArgs, d: Conv2dDims): void {
    this.#dispatch('sparseConv2dForward', this.#convFields(d, Boolean(a.b)),
      [buf(a.x), ...csrBuffers(a.w), a.b ? buf(a.b) : this.#placeholder, buf(a.y)], this.#groups1d(a.y.size));
  }

  /** One fused shader (the base class's passes would run the ReLU in place, which binds y twice). */
  protected override runConv2dForwardPooled(a: Conv2dForwardPooledArgs, d: PooledForwardDims): void {
    this.#dispatch('conv2dForwardPooled', this.#pooledFields(d, Boolean(a.b), Boolean(a.relu)),
      [buf(a.x), buf(a.w), a.b ? buf(a.b) : this.#placeholder, buf(a.y), buf(a.indices)], this.#groups1d(a.y.size));
  }

  protected override runSparseConv2dForwardPooled(a: SparseConv2dForwardPooledArgs, d: PooledForwardDims): void {
    this.#dispatch('sparseConv2dForwardPooled', this.#pooledFields(d, Boolean(a.b), Boolean(a.relu)),
      [buf(a.x), ...csrBuffers(a.w), a.b ? buf(a.b) : this.#placeholder, buf(a.y), buf(a.indices)], this.#groups1d(a.y.size));
  }

  /** The Params block of include/conv2d_pooled.wgsl: the convolution's, then the pool's. */
  #pooledFields(d: PooledForwardDims, hasBias: boolean, relu: boolean): Field[] {
    const p = d.pool;
    return [
      ...this.#convFields(d.conv, hasBias),
      ['u32', p.kernelH], ['u32', p.kernelW], ['u32', p.strideH], ['u32', p.strideW], ['u32', p.outH], ['u32', p.outW], ['u32', relu ? 1 : 0],
    ];
  }

  protected runSparseConv2dBackwardData(a: SparseConv2dBackwardDataArgs, d: Conv2dDims): void {
    this.#dispatch('sparseConv2dBackwardData', this.#convFields(d, false),
      [buf(a.dy), ...csrBuffers(a.wt), buf(a.dx)], this.#groups1d(a.dx.size));
  }

  /** As runConv2dInputGradPooled: the pool's scatter into a scratch dy, then the sparse input gradient's shader. */
  protected runSparseConv2dInputGradPooled(a: SparseConv2dInputGradPooledArgs, d: Conv2dDims, pooled: number): void {
    const dy = this.#pooledDy(a.g, a.indices, d, pooled);
    this.#dispatch('sparseConv2dBackwardData', this.#convFields(d, false), [dy, ...csrBuffers(a.wt), buf(a.dx)], this.#groups1d(a.dx.size));
  }
}

const csrBuffers = (m: CsrMatrix): GPUBuffer[] => [buf(m.rowPtr), buf(m.colIdx), buf(m.values)];

/** The Params block of the windowed pooling shaders (shaders/include/pool2d_params.wgsl). */
function poolFields(d: Pool2dDims): Field[] {
  return [
    ['u32', d.planes], ['u32', d.inH], ['u32', d.inW], ['u32', d.outH], ['u32', d.outW],
    ['u32', d.kernelH], ['u32', d.kernelW], ['u32', d.strideH], ['u32', d.strideW], ['u32', d.padH], ['u32', d.padW],
  ];
}

function planeFields(d: PlaneDims): Field[] {
  return [['u32', d.planes], ['u32', d.inH], ['u32', d.inW], ['u32', d.outH], ['u32', d.outW]];
}
