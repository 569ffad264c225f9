// One layer (or block) on its own: its parameters and buffers, an input, and an upstream gradient
// chosen by the caller instead of a loss. Golden tests check a residual block this way against
// torch (forward, backward for a given dy, the updated running statistics), and unit tests compare
// layers with compositions of the reference kernels. It binds the layer exactly as Network does,
// through the same ParameterStore, so what it checks is what a model runs.
import type { Backend } from '../backend/backend.ts';
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import { Rng } from '../util/rng.ts';
import type { BoundLayer, Layer } from './layers.ts';
import { ParamLayout } from './layout.ts';
import { ParameterStore } from './parameters.ts';
import { TensorPool } from './pool.ts';
import type { LayerPath, SparseCrossover } from './sparse-weights.ts';

export interface LayerHarnessOptions {
  /** Whether backward produces the gradient of the input (default true). */
  needInputGrad?: boolean;
  /** The generator of training-time draws (dropout); defaults to a fixed seed. */
  rng?: Rng;
  /** As NetworkOptions.sparseCrossover: when the layer's pruned weights take the sparse path. */
  sparseCrossover?: Partial<SparseCrossover> | false;
}

export class LayerHarness {
  readonly layer: Layer;
  readonly backend: Backend;
  /** The layer's parameters and buffers, in torch's state_dict order. */
  readonly layout: ParamLayout;
  readonly batch: number;
  /** Per-sample shapes. */
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  rng: Rng;
  readonly #params: ParameterStore;
  readonly #bound: BoundLayer;
  readonly #x: Tensor;
  readonly #dy: Tensor;
  readonly #pool: TensorPool;
  readonly #needInputGrad: boolean;
  /** The input gradient of the last backward pass (pooled; given back before the next one). */
  #dx: Tensor | undefined;
  #forwarded = false;

  constructor(layer: Layer, backend: Backend, inputShape: readonly number[], batch: number, options: LayerHarnessOptions = {}) {
    if (!Number.isSafeInteger(batch) || batch < 1) throw new InvalidArgumentError(`LayerHarness: batch must be a positive integer, got ${batch}`);
    this.layer = layer;
    this.backend = backend;
    this.layout = new ParamLayout(layer.params());
    this.batch = batch;
    this.inputShape = Object.freeze([...inputShape]);
    this.outputShape = Object.freeze(layer.outputShape(inputShape));
    this.rng = options.rng ?? new Rng(0);
    this.#params = new ParameterStore(this.layout, backend, 'LayerHarness', { sparseCrossover: options.sparseCrossover });
    const made: Tensor[] = [];
    this.#pool = new TensorPool(backend);
    this.#needInputGrad = options.needInputGrad ?? true;
    try {
      this.#x = backend.tensor('f32', [batch, ...inputShape]);
      made.push(this.#x);
      this.#dy = backend.tensor('f32', [batch, ...this.outputShape]);
      made.push(this.#dy);
      this.#bound = layer.bind(this.#params.context(batch, this.#needInputGrad, () => this.rng, this.#pool), inputShape);
    } catch (error) {
      for (const t of made) backend.release(t);
      this.#pool.release();
      this.#params.dispose();
      throw error;
    }
  }

  /** Loads parameters and buffers (a flat vector in `layout` order). */
  setParameters(flat: Float32Array): void {
    this.#params.write(flat);
  }

  /** Parameters and buffers as they are now (after a training pass: the updated running statistics). */
  async getParameters(): Promise<Float32Array> {
    return this.#params.read();
  }

  /** Parameter gradients of the last backward pass (buffer entries are 0). */
  async getGradients(): Promise<Float32Array> {
    return this.#params.readGradients();
  }

  /** A 0/1 vector over `layout` for the prunable weights; null means dense. */
  setMask(mask: Uint8Array | null): void {
    this.#params.setMask(mask);
  }

  /** Per prunable weight: its sparsity and the path it computes on (see Network.paths). */
  paths(): LayerPath[] {
    return this.#params.paths();
  }

  /** Runs the layer on x ([batch, ...inputShape], flattened) in training or evaluation mode. */
  forward(x: Float32Array, training: boolean): void {
    this.backend.write(this.#x, x);
    this.#params.applyMasks();
    this.#bound.forward(this.#x, training);
    this.#forwarded = true;
  }

  /** Back-propagates dy ([batch, ...outputShape], flattened) through the last forward pass. */
  backward(dy: Float32Array): void {
    if (!this.#forwarded) throw new InvalidArgumentError('LayerHarness: backward needs a forward pass first');
    this.backend.write(this.#dy, dy);
    this.#pool.give(this.#dx);
    this.#dx = this.#bound.backward(this.#dy);
  }

  async readOutput(): Promise<Float32Array> {
    return this.backend.read(this.#bound.output) as Promise<Float32Array>;
  }

  async readInputGrad(): Promise<Float32Array> {
    const g = this.#dx;
    if (!g) {
      throw new InvalidArgumentError(this.#bound && this.#needInputGrad
        ? 'LayerHarness: no input gradient yet; run backward first'
        : 'LayerHarness: the input gradient was not requested (needInputGrad: false)');
    }
    return this.backend.read(g) as Promise<Float32Array>;
  }

  dispose(): void {
    this.#bound.release();
    this.#pool.release();
    this.backend.release(this.#x);
    this.backend.release(this.#dy);
    this.#params.dispose();
  }
}
