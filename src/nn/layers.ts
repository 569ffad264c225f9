// Layers: what parameters they own, what shape they produce, and — once bound to a backend and a
// batch size — their forward and backward passes on device tensors. A bound layer owns its output
// (it is read again by the backward pass, or by the caller after the last layer); the gradient of
// its input is taken from the binding's pool (pool.ts) and handed to the caller, who gives it back
// once read, because it is dead after the predecessor's backward pass. The network chains them.
import type { Backend } from '../backend/backend.ts';
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import { BATCH_NORM_EPS, BATCH_NORM_MOMENTUM } from '../kernels/batchnorm.ts';
import type { Pair } from '../kernels/pool.ts';
import type { Rng } from '../util/rng.ts';
import type { ParamSpec } from './layout.ts';
import type { SparseWeights } from './sparse-weights.ts';
import type { CsrMatrix } from '../kernels/sparse.ts';
import type { TensorPool } from './pool.ts';

/** What a layer gets when it is bound: the backend, the batch size and its parameter tensors. */
export interface BindContext {
  backend: Backend;
  batch: number;
  /** The tensor used in compute for a parameter (the pruned point M⊙W for masked weights). */
  param(name: string): Tensor;
  /** Where the backward pass writes the gradient of a parameter. */
  grad(name: string): Tensor;
  /** A buffer (BN running statistics): read in evaluation, updated in place by training passes. */
  buffer(name: string): Tensor;
  /** The generator training passes draw from (dropout); asked for at every draw, never cached. */
  rng(): Rng;
  /** Whether this layer must produce the gradient of its input (false for the first layer). */
  needInputGrad: boolean;
  /**
   * The CSR form of a pruned weight while its layer is on the sparse path, else undefined. Asked
   * for at every pass, never cached: the path and the structure change when the mask does.
   */
  sparse?(name: string): SparseWeights | undefined;
  /** Tensors shared by the whole binding for values that live only part of a pass (see TensorPool). */
  pool: TensorPool;
  /**
   * Set by a container that reads this layer's output only in its next forward kernel and then
   * gives it back to `pool` (batch norm → ReLU or the residual sum inside a block): the layer takes
   * a pooled output at every forward pass instead of owning one. Layers whose output must outlive
   * the pass ignore it.
   */
  transientOutput?: boolean;
}

/** The same context with other answers to needInputGrad and transientOutput (for the layers inside a block). */
export function withInputGrad(ctx: BindContext, needInputGrad: boolean, transientOutput = false): BindContext {
  return {
    backend: ctx.backend, batch: ctx.batch, needInputGrad, transientOutput, pool: ctx.pool,
    param: (n) => ctx.param(n), grad: (n) => ctx.grad(n), buffer: (n) => ctx.buffer(n), rng: () => ctx.rng(),
    sparse: (n) => ctx.sparse?.(n),
  };
}

/** A parameter name under a module prefix, as torch joins them ('' is the top level). */
export const qualified = (prefix: string, name: string): string => (prefix ? `${prefix}.${name}` : name);

export interface BoundLayer {
  /** The output of the last forward pass (for a transient output: valid until it is given back). */
  readonly output: Tensor;
  forward(x: Tensor, training: boolean): void;
  /**
   * Back-propagates dy through the last forward pass and gives dy back to the pool (it is read
   * here for the last time). Returns the gradient w.r.t. the input, taken from the pool — the
   * caller gives it back once read — or undefined when the context did not ask for it.
   */
  backward(dy: Tensor): Tensor | undefined;
  /**
   * The layer's activation when `output` is not it (a ReLU that runs after the max-pool it feeds,
   * see bindSequence): computed on demand from the last pass, for reading.
   */
  activation?(): Tensor;
  release(): void;
}

export abstract class Layer {
  /** Parameters in PyTorch state_dict order. */
  params(): ParamSpec[] {
    return [];
  }
  /** Output shape for one sample, given the input shape for one sample. */
  abstract outputShape(input: readonly number[]): number[];
  abstract bind(ctx: BindContext, input: readonly number[]): BoundLayer;
}

/**
 * What a convolution and the max-pool behind it (with or without a ReLU between them) share once
 * bound: the convolution runs the pair as one call (conv2dForwardPooled) into the pool's output
 * and indices, and the pool's own passes hand gradients back instead of scattering them.
 */
export interface PoolLink {
  /** Set by the pool when bound (after the convolution): its output, indices and window, and whether it applies the ReLU. */
  pool?: { y: Tensor; indices: Tensor; kernel: [number, number]; stride: [number, number]; relu: boolean };
  /** Set by the convolution: its output of the last pass, computed when first asked for. */
  convOutput?: () => Tensor;
}

/** The CSR of Wᵀ a sparse backward pass needs; an inference-only sparse weight has none. */
function transposeOf(s: SparseWeights, name: string): CsrMatrix {
  if (!s.wt) throw new InvalidArgumentError(`${name}: this sparse weight was compiled for inference only and has no backward pass; train with a Network`);
  return s.wt;
}

/** Allocation helper: a bound layer's tensors, released together. */
export class Owned {
  readonly #backend: Backend;
  readonly #tensors: Tensor[] = [];
  constructor(backend: Backend) {
    this.#backend = backend;
  }
  f32(shape: number[]): Tensor {
    const t = this.#backend.tensor('f32', shape);
    this.#tensors.push(t);
    return t;
  }
  i32(shape: number[]): Tensor {
    const t = this.#backend.tensor('i32', shape);
    this.#tensors.push(t);
    return t;
  }
  release(): void {
    for (const t of this.#tensors) this.#backend.release(t);
    this.#tensors.length = 0;
  }
}

/**
 * A tensor looked up when first needed. Weights and gradients are resolved lazily so that a model
 * compiled for inference (SparseModel: no gradients, pruned weights only in CSR form) binds the
 * same layers; a training binding resolves them on its first pass, with the same errors.
 */
function once<T>(get: () => T): () => T {
  let done = false;
  let value: T | undefined;
  return () => {
    if (!done) { value = get(); done = true; }
    return value as T;
  };
}

/** Takes the input gradient of a backward pass from the pool, or nothing when none is wanted. */
function inputGradOf(ctx: BindContext, input: readonly number[]): () => Tensor | undefined {
  const shape = [ctx.batch, ...input];
  return ctx.needInputGrad ? () => ctx.pool.take(shape) : () => undefined;
}

const pair = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

export function positiveInt(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidArgumentError(`${what} must be a positive integer, got ${v}`);
}

function chw(layer: string, input: readonly number[]): [number, number, number] {
  if (input.length !== 3) throw new InvalidArgumentError(`${layer}: expects input [C, H, W], got [${input.join(', ')}]`);
  return input as unknown as [number, number, number];
}

export class Conv2d extends Layer {
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly bias: boolean;
  readonly prunable: boolean;

  constructor(
    readonly name: string, readonly inChannels: number, readonly outChannels: number,
    kernel: number | [number, number],
    options: { stride?: number | [number, number]; padding?: number | [number, number]; bias?: boolean; prunable?: boolean } = {},
  ) {
    super();
    positiveInt(`${name}: in channels`, inChannels);
    positiveInt(`${name}: out channels`, outChannels);
    this.kernel = pair(kernel);
    this.stride = pair(options.stride ?? 1);
    this.padding = pair(options.padding ?? 0);
    this.bias = options.bias ?? true;
    this.prunable = options.prunable ?? true;
  }

  override params(): ParamSpec[] {
    const specs: ParamSpec[] = [{ name: `${this.name}.weight`, shape: [this.outChannels, this.inChannels, ...this.kernel], prunable: this.prunable, role: 'weight' }];
    if (this.bias) specs.push({ name: `${this.name}.bias`, shape: [this.outChannels], prunable: false, role: 'bias' });
    return specs;
  }

  outputShape(input: readonly number[]): number[] {
    const [c, h, w] = input as [number, number, number];
    if (input.length !== 3 || c !== this.inChannels) {
      throw new InvalidArgumentError(`${this.name}: expects input [${this.inChannels}, H, W], got [${input.join(', ')}]`);
    }
    const ho = Math.floor((h + 2 * this.padding[0] - this.kernel[0]) / this.stride[0]) + 1;
    const wo = Math.floor((w + 2 * this.padding[1] - this.kernel[1]) / this.stride[1]) + 1;
    if (ho < 1 || wo < 1) throw new InvalidArgumentError(`${this.name}: input ${h}×${w} is smaller than the kernel`);
    return [this.outChannels, ho, wo];
  }

  bind(ctx: BindContext, input: readonly number[]): BoundLayer {
    return this.#bind(ctx, input, undefined);
  }

  /**
   * Bound in front of a max-pool (with or without a ReLU between them, see bindSequence): the
   * forward pass runs convolution, pool and ReLU as one call (conv2dForwardPooled, or
   * sparseConv2dForwardPooled) into the pool's tensors, and this layer's own output is computed
   * only when read (activation()). The pool hands back its own output gradient instead of
   * scattering it: both gradients are taken from the pool's side (conv2dWeightGradPooled;
   * conv2dInputGradPooled or, with the weight sparse, sparseConv2dInputGradPooled), and the dense
   * dy is never built.
   */
  bindFeedingPool(ctx: BindContext, input: readonly number[], link: PoolLink): BoundLayer {
    return this.#bind(ctx, input, link);
  }

  #bind(ctx: BindContext, input: readonly number[], link: PoolLink | undefined): BoundLayer {
    const own = new Owned(ctx.backend);
    const outShape = [ctx.batch, ...this.outputShape(input)];
    const output = own.f32(outShape);
    const takeInputGrad = inputGradOf(ctx, input);
    const wName = `${this.name}.weight`;
    // Not cached: the tensor to compute with changes when a mask becomes full or stops being full.
    const w = () => ctx.param(wName);
    const dw = once(() => ctx.grad(wName));
    const b = this.bias ? ctx.param(`${this.name}.bias`) : undefined;
    const db = once(() => (this.bias ? ctx.grad(`${this.name}.bias`) : undefined));
    const { stride, padding, kernel } = this;
    let x: Tensor | undefined;
    // With a pool behind, `output` holds the convolution only once read since the last pass.
    let outputCurrent = false;
    const convolve = (input: Tensor) => {
      const s = ctx.sparse?.(wName);
      if (s) ctx.backend.sparseConv2dForward({ x: input, w: s.w, kernel, b, y: output, stride, padding });
      else ctx.backend.conv2dForward({ x: input, w: w(), b, y: output, stride, padding });
    };
    const pooledOutput = (): Tensor => {
      if (!x) throw new InvalidArgumentError(`${this.name}: no forward pass yet`);
      if (!outputCurrent) convolve(x);
      outputCurrent = true;
      return output;
    };
    if (link) link.convOutput = pooledOutput;
    // The pool is bound after this layer, so its tensors are looked up at the first pass.
    const poolOf = once(() => {
      const pool = link?.pool;
      if (!pool) throw new InvalidArgumentError(`${this.name}: the max-pool it feeds was never bound`);
      return pool;
    });
    const pooledOutputs = once(() => {
      const { kernel: pk, stride: ps, relu, y, indices } = poolOf();
      return { pool: { kernel: pk, stride: ps }, relu, y, indices, conv: output };
    });
    return {
      output,
      forward: (input) => {
        x = input;
        if (!link) {
          convolve(input);
          return;
        }
        outputCurrent = false;
        const s = ctx.sparse?.(wName);
        const pooled = pooledOutputs();
        if (s) ctx.backend.sparseConv2dForwardPooled({ x: input, w: s.w, kernel, b, stride, padding, ...pooled });
        else ctx.backend.conv2dForwardPooled({ x: input, w: w(), b, stride, padding, ...pooled });
      },
      ...(link ? { activation: pooledOutput } : {}),
      backward: (dy) => {
        const s = ctx.sparse?.(wName);
        const dx = takeInputGrad();
        if (link) {
          // dy is the pool's output gradient (after its ReLU): at most one conv output per window
          // receives it. The weight gradient stays dense (error feedback needs it for pruned weights too).
          const { indices } = poolOf();
          ctx.backend.conv2dWeightGradPooled({ x: x!, g: dy, indices, dw: dw(), db: db(), stride, padding });
          if (dx && s) ctx.backend.sparseConv2dInputGradPooled({ g: dy, indices, wt: transposeOf(s, wName), kernel, dx, stride, padding });
          else if (dx) ctx.backend.conv2dInputGradPooled({ g: dy, indices, w: w(), dx, stride, padding });
        } else if (s && dx) {
          ctx.backend.sparseConv2dBackwardData({ dy, wt: transposeOf(s, wName), kernel, dx, stride, padding });
          // The weight gradient stays dense (error feedback needs it for pruned weights too); it
          // reads x and dy only, so w — left stale on the sparse path — is passed for its shape.
          ctx.backend.conv2dBackward({ x: x!, w: w(), dy, dw: dw(), db: db(), stride, padding });
        } else {
          ctx.backend.conv2dBackward({ x: x!, w: w(), dy, dx, dw: dw(), db: db(), stride, padding });
        }
        ctx.pool.give(dy);
        return dx;
      },
      release: () => own.release(),
    };
  }
}

export class Linear extends Layer {
  constructor(
    readonly name: string, readonly inFeatures: number, readonly outFeatures: number,
    readonly bias = true, readonly prunable = true,
  ) {
    super();
    positiveInt(`${name}: in features`, inFeatures);
    positiveInt(`${name}: out features`, outFeatures);
  }

  override params(): ParamSpec[] {
    const specs: ParamSpec[] = [{ name: `${this.name}.weight`, shape: [this.outFeatures, this.inFeatures], prunable: this.prunable, role: 'weight' }];
    if (this.bias) specs.push({ name: `${this.name}.bias`, shape: [this.outFeatures], prunable: false, role: 'bias' });
    return specs;
  }

  outputShape(input: readonly number[]): number[] {
    if (input.length !== 1 || input[0] !== this.inFeatures) {
      throw new InvalidArgumentError(`${this.name}: expects input [${this.inFeatures}], got [${input.join(', ')}] (add a Flatten before it?)`);
    }
    return [this.outFeatures];
  }

  bind(ctx: BindContext, input: readonly number[]): BoundLayer {
    const own = new Owned(ctx.backend);
    const output = own.f32([ctx.batch, this.outFeatures]);
    const takeInputGrad = inputGradOf(ctx, input);
    const wName = `${this.name}.weight`;
    // Not cached: the tensor to compute with changes when a mask becomes full or stops being full.
    const w = () => ctx.param(wName);
    const dw = once(() => ctx.grad(wName));
    const b = this.bias ? ctx.param(`${this.name}.bias`) : undefined;
    const db = once(() => (this.bias ? ctx.grad(`${this.name}.bias`) : undefined));
    let x: Tensor | undefined;
    return {
      output,
      forward: (input) => {
        x = input;
        const s = ctx.sparse?.(wName);
        if (s) ctx.backend.sparseLinearForward({ x: input, w: s.w, b, y: output });
        else ctx.backend.linearForward({ x: input, w: w(), b, y: output });
      },
      backward: (dy) => {
        const s = ctx.sparse?.(wName);
        const dx = takeInputGrad();
        if (s && dx) {
          ctx.backend.sparseLinearBackwardData({ dy, wt: transposeOf(s, wName), dx });
          // Dense weight gradient, as for Conv2d; w is not read for it.
          ctx.backend.linearBackward({ x: x!, w: w(), dy, dw: dw(), db: db() });
        } else {
          ctx.backend.linearBackward({ x: x!, w: w(), dy, dx, dw: dw(), db: db() });
        }
        ctx.pool.give(dy);
        return dx;
      },
      release: () => own.release(),
    };
  }
}

export class ReLU extends Layer {
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }

  bind(ctx: BindContext, input: readonly number[]): BoundLayer {
    const own = new Owned(ctx.backend);
    const output = own.f32([ctx.batch, ...input]);
    const takeInputGrad = inputGradOf(ctx, input);
    return {
      output,
      forward: (x) => ctx.backend.reluForward({ x, y: output }),
      // y = max(x, 0) is > 0 exactly where x is (a NaN or −0 input gives a y that is not > 0
      // either), so the mask is read from the output: the input need not outlive the forward pass,
      // which lets a block hand batch norm's output back at once.
      backward: (dy) => {
        const dx = takeInputGrad();
        if (dx) ctx.backend.reluBackward({ x: output, dy, dx });
        ctx.pool.give(dy);
        return dx;
      },
      release: () => own.release(),
    };
  }

  /**
   * Bound in front of a max-pool that applies this ReLU itself (see bindSequence): the input passes
   * through, forward and backward; `activation()` computes max(x, 0) of the last pass when read.
   */
  bindBeforePool(ctx: BindContext, input: readonly number[], link?: PoolLink): BoundLayer {
    const own = new Owned(ctx.backend);
    let last: Tensor | undefined;
    let activation: Tensor | undefined;
    return {
      get output(): Tensor {
        if (!last) throw new InvalidArgumentError('ReLU: no forward pass yet');
        return last;
      },
      forward: (x) => { last = x; },
      backward: (dy) => (ctx.needInputGrad ? dy : (ctx.pool.give(dy), undefined)),
      activation: () => {
        if (!last) throw new InvalidArgumentError('ReLU: no forward pass yet');
        activation ??= own.f32([ctx.batch, ...input]);
        // Behind a convolution that ran fused with the pool, its output is computed now.
        ctx.backend.reluForward({ x: link?.convOutput?.() ?? last, y: activation });
        return activation;
      },
      release: () => own.release(),
    };
  }
}

export class MaxPool2d extends Layer {
  readonly kernel: [number, number];
  readonly stride: [number, number];
  constructor(kernel: number | [number, number], stride?: number | [number, number]) {
    super();
    this.kernel = pair(kernel);
    this.stride = pair(stride ?? kernel);
  }

  outputShape(input: readonly number[]): number[] {
    const [c, h, w] = input as [number, number, number];
    return [c, Math.floor((h - this.kernel[0]) / this.stride[0]) + 1, Math.floor((w - this.kernel[1]) / this.stride[1]) + 1];
  }

  bind(ctx: BindContext, input: readonly number[]): BoundLayer {
    return this.#bind(ctx, input, false, undefined);
  }

  /**
   * Bound behind a convolution bound with Conv2d.bindFeedingPool: relu says whether a ReLU bound
   * with bindBeforePool sits between them (the pool then applies it after pooling). The backward
   * pass hands on the gradient at its own output (ReLU applied) instead of scattering it. The
   * forward pass is the convolution's: it writes this layer's output and indices through the link.
   */
  bindAfterConv(ctx: BindContext, input: readonly number[], relu: boolean, link: PoolLink): BoundLayer {
    return this.#bind(ctx, input, relu, link);
  }

  /** max-pool then ReLU, for a ReLU bound in front of it with bindBeforePool (see bindSequence). */
  bindWithRelu(ctx: BindContext, input: readonly number[]): BoundLayer {
    return this.#bind(ctx, input, true, undefined);
  }

  #bind(ctx: BindContext, input: readonly number[], relu: boolean, link: PoolLink | undefined): BoundLayer {
    const own = new Owned(ctx.backend);
    const shape = [ctx.batch, ...this.outputShape(input)];
    const output = own.f32(shape);
    const indices = own.i32(shape);
    const { kernel, stride } = this;
    if (link) link.pool = { y: output, indices, kernel, stride, relu };
    const takeInputGrad = link ? () => undefined : inputGradOf(ctx, input);
    return {
      output,
      forward: (x) => {
        // The convolution in front already wrote output and indices (conv2dForwardPooled).
        if (link) return;
        if (!relu) {
          ctx.backend.maxPool2dForward({ x, y: output, indices, kernel, stride });
          return;
        }
        const pooled = ctx.pool.take(shape);
        ctx.backend.maxPool2dForward({ x, y: pooled, indices, kernel, stride });
        ctx.backend.reluForward({ x: pooled, y: output });
        ctx.pool.give(pooled);
      },
      backward: (dy) => {
        if (link) {
          if (!relu) return dy;
          const g = ctx.pool.take(shape);
          ctx.backend.reluBackward({ x: output, dy, dx: g });
          ctx.pool.give(dy);
          return g;
        }
        const dx = takeInputGrad();
        if (dx && !relu) ctx.backend.maxPool2dBackward({ dy, indices, dx });
        if (dx && relu) {
          // ReLU's gradient masks dy where the pooled maximum was not > 0, then the pool routes it.
          const dPooled = ctx.pool.take(shape);
          ctx.backend.reluBackward({ x: output, dy, dx: dPooled });
          ctx.backend.maxPool2dBackward({ dy: dPooled, indices, dx });
          ctx.pool.give(dPooled);
        }
        ctx.pool.give(dy);
        return dx;
      },
      release: () => own.release(),
    };
  }
}

/**
 * Binds a sequence of layers for one input shape, layer i with ctxFor(i). A ReLU directly followed
 * by a max-pool runs after the pool instead: max and ReLU commute exactly (max(relu a, relu b) =
 * relu(max(a, b)), and the gradient reaches the same element or none), so it touches a quarter of
 * the elements behind a 2×2 pool, forward and backward. The ReLU then passes its input on as it is
 * and gives its activation only when asked for it (BoundLayer.activation). A convolution followed
 * by a max-pool (a ReLU between them or not) runs the three as one call and takes its weight
 * gradient from the pool's side (Conv2d.bindFeedingPool): the pool hands back the gradient at its
 * output and its indices, and no dense dy is built unless the convolution's input gradient needs one.
 */
export function bindSequence(layers: readonly Layer[], input: readonly number[], ctxFor: (i: number) => BindContext): BoundLayer[] {
  const bound: BoundLayer[] = [];
  try {
    let shape = input;
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i]!;
      const next = layers[i + 1];
      const relu = next instanceof ReLU;
      const pool = layers[relu ? i + 2 : i + 1];
      if (layer instanceof Conv2d && pool instanceof MaxPool2d) {
        const link: PoolLink = {};
        bound.push(layer.bindFeedingPool(ctxFor(i), shape, link));
        shape = layer.outputShape(shape);
        if (relu) bound.push(next.bindBeforePool(ctxFor(i + 1), shape, link));
        const at = relu ? i + 2 : i + 1;
        bound.push(pool.bindAfterConv(ctxFor(at), shape, relu, link));
        shape = pool.outputShape(shape);
        i = at;
        continue;
      }
      if (layer instanceof ReLU && next instanceof MaxPool2d) {
        const ctx = ctxFor(i);
        bound.push(layer.bindBeforePool(ctx, shape));
        bound.push(next.bindWithRelu(ctxFor(i + 1), shape));
        shape = next.outputShape(shape);
        i++;
        continue;
      }
      bound.push(layer.bind(ctxFor(i), shape));
      shape = layer.outputShape(shape);
    }
  } catch (error) {
    for (const l of bound) l.release();
    throw error;
  }
  return bound;
}

/** Flattens [C, H, W] to [C·H·W] (C-major, like torch.flatten(x, 1)). */
export class Flatten extends Layer {
  outputShape(input: readonly number[]): number[] {
    return [input.reduce((a, b) => a * b, 1)];
  }

  bind(ctx: BindContext, input: readonly number[]): BoundLayer {
    const own = new Owned(ctx.backend);
    const output = own.f32([ctx.batch, ...this.outputShape(input)]);
    const takeInputGrad = inputGradOf(ctx, input);
    return {
      output,
      forward: (x) => ctx.backend.copy({ x, y: output }),
      backward: (dy) => {
        const dx = takeInputGrad();
        if (dx) ctx.backend.copy({ x: dy, y: dx });
        ctx.pool.give(dy);
        return dx;
      },
      release: () => own.release(),
    };
  }
}

/**
 * torch.nn.BatchNorm2d (affine, with running statistics). `weight`/`bias` are trained and never
 * pruned; `running_mean`/`running_var` are buffers: a training pass normalises with the batch
 * statistics and folds them into the buffers (momentum 0.1, unbiased variance), an evaluation pass
 * normalises with the buffers and leaves them as they are.
 */
export class BatchNorm2d extends Layer {
  readonly eps: number;
  readonly momentum: number;

  constructor(readonly name: string, readonly channels: number, options: { eps?: number; momentum?: number } = {}) {
    super();
    positiveInt(`${name}: channels`, channels);
    this.eps = options.eps ?? BATCH_NORM_EPS;
    this.momentum = options.momentum ?? BATCH_NORM_MOMENTUM;
    if (!(this.eps > 0) || !Number.isFinite(this.eps)) throw new InvalidArgumentError(`${name}: eps must be a positive number, got ${this.eps}`);
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new InvalidArgumentError(`${name}: momentum must lie in [0, 1], got ${this.momentum}`);
  }

  override params(): ParamSpec[] {
    const c = [this.channels];
    return [
      { name: `${this.name}.weight`, shape: c, prunable: false, role: 'bn-weight' },
      { name: `${this.name}.bias`, shape: c, prunable: false, role: 'bn-bias' },
      { name: `${this.name}.running_mean`, shape: c, prunable: false, role: 'running-mean' },
      { name: `${this.name}.running_var`, shape: c, prunable: false, role: 'running-var' },
    ];
  }

  outputShape(input: readonly number[]): number[] {
    const [c] = chw(this.name, input);
    if (c !== this.channels) throw new InvalidArgumentError(`${this.name}: expects ${this.channels} channels, got input [${input.join(', ')}]`);
    return [...input];
  }

  bind(ctx: BindContext, input: readonly number[]): BoundLayer {
    const shape = [ctx.batch, ...this.outputShape(input)];
    const gamma = ctx.param(`${this.name}.weight`);
    const beta = ctx.param(`${this.name}.bias`);
    const dgamma = once(() => ctx.grad(`${this.name}.weight`));
    const dbeta = once(() => ctx.grad(`${this.name}.bias`));
    const runningMean = ctx.buffer(`${this.name}.running_mean`);
    const runningVar = ctx.buffer(`${this.name}.running_var`);
    const own = new Owned(ctx.backend);
    // The backward pass reads x, not y: a container that consumes y at once may have it pooled.
    const transient = ctx.transientOutput === true;
    let output = transient ? undefined : own.f32(shape);
    const saveMean = own.f32([this.channels]);
    const saveInvStd = own.f32([this.channels]);
    const { eps, momentum, name } = this;
    let x: Tensor | undefined;
    let trained = false;
    return {
      get output(): Tensor {
        if (!output) throw new InvalidArgumentError(`${name}: no output before the first forward pass`);
        return output;
      },
      forward: (input, training) => {
        x = input;
        trained = training;
        if (transient) output = ctx.pool.take(shape);
        ctx.backend.batchNorm2dForward({ x: input, gamma, beta, runningMean, runningVar, y: output!, training, momentum, eps, saveMean, saveInvStd });
      },
      backward: (dy) => {
        // The gradient formula differentiates through the batch statistics; after an evaluation
        // pass the saved statistics are the running ones and the result would be silently wrong.
        if (!trained) throw new InvalidArgumentError(`${this.name}: backward needs a training-mode forward pass first`);
        // The kernel always writes dx; without a caller for it, it goes straight back to the pool.
        const dx = ctx.pool.take(shape);
        ctx.backend.batchNorm2dBackward({ x: x!, gamma, dy, saveMean, saveInvStd, dx, dgamma: dgamma(), dbeta: dbeta() });
        ctx.pool.give(dy);
        if (ctx.needInputGrad) return dx;
        ctx.pool.give(dx);
        return undefined;
      },
      release: () => own.release(),
    };
  }
}

/**
 * Inverted dropout (torch.nn.Dropout): in training each element is kept with probability 1 − p and
 * scaled by 1/(1 − p); in evaluation it is the identity. The keep-mask is drawn on the host from the
 * network's seeded generator (one 32-bit draw per element) and uploaded, so a run is reproducible
 * from its seed on every backend alike.
 */
export class Dropout extends Layer {
  constructor(readonly p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new InvalidArgumentError(`Dropout: p must lie in [0, 1], got ${p}`);
  }

  outputShape(input: readonly number[]): number[] {
    return [...input];
  }

  bind(ctx: BindContext, input: readonly number[]): BoundLayer {
    const own = new Owned(ctx.backend);
    const shape = [ctx.batch, ...input];
    const output = own.f32(shape);
    const takeInputGrad = inputGradOf(ctx, input);
    const mask = own.f32(shape);
    const keep = new Float32Array(mask.size);
    const p = this.p;
    // P(u < t) for u uniform on the 2^32 integers is ⌈t⌉/2^32: within 2^−32 of 1 − p.
    const threshold = (1 - p) * 4294967296;
    let dropped = false;
    return {
      output,
      forward: (x, training) => {
        dropped = training && p > 0;
        if (!dropped) {
          ctx.backend.copy({ x, y: output });
          return;
        }
        const rng = ctx.rng();
        for (let i = 0; i < keep.length; i++) keep[i] = rng.nextU32() < threshold ? 1 : 0;
        ctx.backend.write(mask, keep);
        ctx.backend.dropoutForward({ x, mask, y: output, p });
      },
      backward: (dy) => {
        const dx = takeInputGrad();
        if (dx && dropped) ctx.backend.dropoutBackward({ dy, mask, dx, p });
        else if (dx) ctx.backend.copy({ x: dy, y: dx });
        ctx.pool.give(dy);
        return dx;
      },
      release: () => own.release(),
    };
  }
}

/** torch.nn.AvgPool2d: floor mode, padding counted in the average (count_include_pad). */
export class AvgPool2d extends Layer {
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];

  constructor(kernel: number | Pair, stride?: number | Pair, padding: number | Pair = 0) {
    super();
    this.kernel = pair(kernel);
    this.stride = pair(stride ?? kernel);
    this.padding = pair(padding);
    for (const [what, v, min] of [['kernel', this.kernel, 1], ['stride', this.stride, 1], ['padding', this.padding, 0]] as const) {
      if (v.some((d) => !Number.isSafeInteger(d) || d < min)) throw new InvalidArgumentError(`AvgPool2d: ${what} must be integers ≥ ${min}, got [${v.join(', ')}]`);
    }
    if (2 * this.padding[0] > this.kernel[0] || 2 * this.padding[1] > this.kernel[1]) {
      throw new InvalidArgumentError(`AvgPool2d: padding [${this.padding.join(', ')}] must be at most half the kernel [${this.kernel.join(', ')}]`);
    }
  }

  outputShape(input: readonly number[]): number[] {
    const [c, h, w] = chw('AvgPool2d', input);
    const ho = Math.floor((h + 2 * this.padding[0] - this.kernel[0]) / this.stride[0]) + 1;
    const wo = Math.floor((w + 2 * this.padding[1] - this.kernel[1]) / this.stride[1]) + 1;
    if (ho < 1 || wo < 1) throw new InvalidArgumentError(`AvgPool2d: a ${h}×${w} input is smaller than the ${this.kernel.join('×')} kernel`);
    return [c, ho, wo];
  }

  bind(ctx: BindContext, input: readonly number[]): BoundLayer {
    const own = new Owned(ctx.backend);
    const output = own.f32([ctx.batch, ...this.outputShape(input)]);
    const takeInputGrad = inputGradOf(ctx, input);
    const window = { kernel: this.kernel, stride: this.stride, padding: this.padding };
    return {
      output,
      forward: (x) => ctx.backend.avgPool2dForward({ x, y: output, ...window }),
      backward: (dy) => {
        const dx = takeInputGrad();
        if (dx) ctx.backend.avgPool2dBackward({ dy, dx, ...window });
        ctx.pool.give(dy);
        return dx;
      },
      release: () => own.release(),
    };
  }
}

/** torch.nn.AdaptiveAvgPool2d: torch's (possibly overlapping) bins onto a fixed output size. */
export class AdaptiveAvgPool2d extends Layer {
  readonly outputSize: [number, number];

  constructor(outputSize: number | Pair) {
    super();
    this.outputSize = pair(outputSize);
    for (const d of this.outputSize) positiveInt('AdaptiveAvgPool2d: output size', d);
  }

  outputShape(input: readonly number[]): number[] {
    const [c] = chw('AdaptiveAvgPool2d', input);
    return [c, ...this.outputSize];
  }

  bind(ctx: BindContext, input: readonly number[]): BoundLayer {
    const own = new Owned(ctx.backend);
    const output = own.f32([ctx.batch, ...this.outputShape(input)]);
    const takeInputGrad = inputGradOf(ctx, input);
    return {
      output,
      forward: (x) => ctx.backend.adaptiveAvgPool2dForward({ x, y: output }),
      backward: (dy) => {
        const dx = takeInputGrad();
        if (dx) ctx.backend.adaptiveAvgPool2dBackward({ dy, dx });
        ctx.pool.give(dy);
        return dx;
      },
      release: () => own.release(),
    };
  }
}
