// A pruned model compiled for inference: every prunable weight at or above its layer type's
// crossover is held only as CSR (row pointers, column indices, kept values), everything else as
// the small dense tensors it is (biases, batch-norm parameters and statistics, weights that stay
// dense). No dense copy of a pruned weight, no mask, no gradients: the memory a deployed model
// takes scales with its kept weights. Evaluation runs the same layers as training, on the sparse
// forward kernels.
import type { Backend } from '../backend/backend.ts';
import type { Tensor } from '../backend/tensor.ts';
import { decodeFrame, type DecodeOptions } from '../codec/frame.ts';
import { InvalidArgumentError } from '../errors.ts';
import { csrFromMask, csrGatherValues } from '../sparse/csr.ts';
import { Rng } from '../util/rng.ts';
import { bindSequence, type BindContext, type BoundLayer } from './layers.ts';
import type { ModelDef } from './models.ts';
import { TensorPool } from './pool.ts';
import {
  type LayerPath, pathFor, releaseCsr, resolveCrossover, type SparseCrossover, sparseKindOf, type SparseWeights,
  uploadCsr,
} from './sparse-weights.ts';

export interface SparseModelOptions {
  /**
   * 1 where a prunable weight is kept (a vector over the whole layout). Default: the non-zero
   * entries of the weights, which is the mask of a deployed FedDIP model (pruned weights are 0).
   */
  mask?: Uint8Array;
  /** As NetworkOptions.sparseCrossover; weights below it stay dense. */
  sparseCrossover?: Partial<SparseCrossover> | false;
}

interface Binding { x: Tensor; layers: BoundLayer[]; pool: TensorPool }

export class SparseModel {
  readonly model: ModelDef;
  readonly backend: Backend;
  readonly #dense = new Map<string, Tensor>();
  readonly #sparse = new Map<string, SparseWeights>();
  readonly #paths: LayerPath[] = [];
  readonly #bindings = new Map<number, Binding>();
  #parameterBytes = 0;

  private constructor(model: ModelDef, backend: Backend) {
    this.model = model;
    this.backend = backend;
  }

  /** Compiles a flat weight vector (layout order, buffers included) onto a backend. */
  static compile(model: ModelDef, backend: Backend, weights: Float32Array, options: SparseModelOptions = {}): SparseModel {
    const { layout } = model;
    layout.checkVector(weights);
    if (options.mask) layout.checkVector(options.mask, 'mask');
    const crossover = resolveCrossover(options.sparseCrossover);
    const m = new SparseModel(model, backend);
    try {
      for (const s of layout.segments) {
        const values = weights.subarray(s.offset, s.offset + s.size);
        const kind = s.prunable ? sparseKindOf(s.shape) : undefined;
        if (!kind) {
          m.#addDense(s.name, s.shape, values);
          continue;
        }
        const keep = options.mask ? options.mask.subarray(s.offset, s.offset + s.size) : values;
        let nonzero = 0;
        for (let i = 0; i < keep.length; i++) if (keep[i] !== 0) nonzero++;
        const sparsity = s.size ? 1 - nonzero / s.size : 0;
        const path = pathFor(crossover, kind, sparsity);
        m.#paths.push({ name: s.name, kind, nonzero, size: s.size, sparsity, path });
        if (path === 'dense') {
          // Kept as M⊙W: what the network computes with, whatever the vector holds at pruned places.
          m.#addDense(s.name, s.shape, Float32Array.from(values, (v, i) => (keep[i] !== 0 ? v : 0)));
          continue;
        }
        const rows = s.shape[0]!;
        const structure = csrFromMask(keep, rows, s.size / rows);
        const w = uploadCsr(backend, structure, csrGatherValues(structure, values));
        m.#sparse.set(s.name, { kind, w });
        m.#parameterBytes += 4 * (w.rowPtr.size + w.colIdx.size + w.values.size);
      }
    } catch (error) {
      m.dispose();
      throw error;
    }
    return m;
  }

  /**
   * Compiles a model frame (e.g. the model.fdip that `feddip simulate` writes): the entries the
   * frame carries are the kept weights, so its sent-mask is the model's mask.
   */
  static fromFrame(model: ModelDef, backend: Backend, frame: Uint8Array, options: Omit<SparseModelOptions, 'mask'> & DecodeOptions = {}): SparseModel {
    const { sparseCrossover, ...decode } = options;
    const f = decodeFrame(frame, { kind: 'model', layoutHash: model.layout.hash(), length: model.layout.size, ...decode });
    return SparseModel.compile(model, backend, f.values, { mask: f.sent, sparseCrossover });
  }

  /** Per prunable weight: its sparsity and whether it is stored (and computed) sparse. */
  paths(): LayerPath[] {
    return this.#paths.map((p) => ({ ...p }));
  }

  /** Bytes of device memory the parameters take (CSR index arrays included); activations excluded. */
  get parameterBytes(): number {
    return this.#parameterBytes;
  }

  /** Logits for a batch of inputs (N × inputShape, flattened); evaluation mode. */
  async predict(x: Float32Array, batch: number): Promise<Float32Array> {
    const per = this.model.inputShape.reduce((a, c) => a * c, 1);
    if (!Number.isSafeInteger(batch) || batch < 1) throw new InvalidArgumentError(`batch size must be a positive integer, got ${batch}`);
    if (x.length !== batch * per) {
      throw new InvalidArgumentError(`${this.model.name}: a batch of ${batch} needs ${batch * per} input values ([${batch}, ${this.model.inputShape.join(', ')}]), got ${x.length}`);
    }
    const b = this.#binding(batch);
    this.backend.write(b.x, x);
    b.pool.reclaim();
    let input = b.x;
    for (const layer of b.layers) {
      layer.forward(input, false);
      input = layer.output;
    }
    return this.backend.read(input) as Promise<Float32Array>;
  }

  dispose(): void {
    for (const b of this.#bindings.values()) {
      for (const l of b.layers) l.release();
      b.pool.release();
      this.backend.release(b.x);
    }
    this.#bindings.clear();
    for (const t of this.#dense.values()) this.backend.release(t);
    this.#dense.clear();
    for (const s of this.#sparse.values()) releaseCsr(this.backend, s.w);
    this.#sparse.clear();
  }

  #addDense(name: string, shape: readonly number[], values: Float32Array): void {
    this.#dense.set(name, this.backend.tensor('f32', shape, values));
    this.#parameterBytes += 4 * values.length;
  }

  #binding(batch: number): Binding {
    let b = this.#bindings.get(batch);
    if (b) return b;
    const noGradients = (name: string): never => {
      throw new InvalidArgumentError(`${this.model.name}: '${name}' has no gradient in a model compiled for inference; train with a Network`);
    };
    const pool = new TensorPool(this.backend);
    const ctx = (needInputGrad: boolean): BindContext => ({
      backend: this.backend, batch, needInputGrad, pool,
      param: (name) => this.#dense.get(name) ?? this.#missing(name),
      grad: noGradients,
      buffer: (name) => this.#dense.get(name) ?? this.#missing(name),
      // Evaluation mode draws nothing; a generator is still part of the binding contract.
      rng: () => inferenceRng,
      sparse: (name) => this.#sparse.get(name),
    });
    const x = this.backend.tensor('f32', [batch, ...this.model.inputShape]);
    let layers: BoundLayer[];
    try {
      layers = bindSequence(this.model.layers, this.model.inputShape, () => ctx(false));
    } catch (error) {
      pool.release();
      this.backend.release(x);
      throw error;
    }
    b = { x, layers, pool };
    this.#bindings.set(batch, b);
    return b;
  }

  #missing(name: string): never {
    if (this.#sparse.has(name)) {
      throw new InvalidArgumentError(`${this.model.name}: '${name}' is held only in sparse form in a model compiled for inference; it has no dense tensor`);
    }
    this.model.layout.segment(name); // names the known parameters when `name` is not one of them
    throw new InvalidArgumentError(`${this.model.name}: no tensor for '${name}' in the compiled model`);
  }
}

const inferenceRng = new Rng(0);
