// A model bound to a backend: parameter, mask and gradient tensors, and the training step of
// FedDIP/DPF — forward and backward at the pruned point M⊙W, the incremental penalty
// λ·Σ_l‖M_l⊙W_l‖₂ added to the gradient, and the update applied to the dense weights W.
// Plain SGD is the same step with an all-ones mask and λ = 0.
//
// Training and evaluation differ where layers say so: trainStep/computeGradients run the layers in
// training mode (batch-norm uses batch statistics and updates its running statistics, dropout
// draws a fresh keep-mask from `rng`), predict runs them in evaluation mode (running statistics,
// no dropout). The running statistics are buffers of the layout (see layout.ts): they are part of
// get/setParameters, but have no gradient and the optimiser leaves them alone.
import type { Backend } from '../backend/backend.ts';
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import { Rng } from '../util/rng.ts';
import { bindSequence, type BoundLayer } from './layers.ts';
import type { ParamLayout } from './layout.ts';
import type { ModelDef } from './models.ts';
import { ParameterStore } from './parameters.ts';
import { TensorPool } from './pool.ts';
import type { LayerPath, SparseCrossover } from './sparse-weights.ts';

export interface StepOptions {
  lr: number;
  weightDecay?: number;
  /**
   * Penalty coefficient: one λ_t for every prunable layer (FedDIP's incremental regularisation,
   * 0 = none), or one per prunable segment in flat order (e.g. a group lasso on some layers only).
   */
  lambda?: Lambda;
}

/** λ for all prunable layers, or one per prunable segment (flat order). */
export type Lambda = number | readonly number[];

export interface NetworkOptions {
  /**
   * The generator of training-time randomness (dropout keep-masks). Defaults to a fixed seed, so a
   * run is reproducible even when none is given; federated code passes one forked from its run seed.
   */
  rng?: Rng;
  /**
   * Per layer type ('linear', 'conv'), the mask sparsity at and above which a pruned layer runs its
   * forward pass and input gradient on the CSR form of its weight (the weight gradient stays dense).
   * Missing types take DEFAULT_SPARSE_CROSSOVER (measured by the sparse bench); false keeps every
   * layer dense. Network.paths() says what each layer does under the current mask.
   */
  sparseCrossover?: Partial<SparseCrossover> | false;
}

export interface LossParts {
  /** ce + λ·reg (per-layer λ: ce + Σ_l λ_l·‖M_l⊙W_l‖₂) */
  loss: number;
  ce: number;
  /** Σ_l ‖M_l⊙W_l‖₂ over the penalised prunable layers (those with λ_l ≠ 0; 0 without a penalty). */
  reg: number;
}

interface Binding {
  batch: number;
  x: Tensor;
  labels: Tensor;
  loss: Tensor;
  dlogits: Tensor;
  layers: BoundLayer[];
  /** Activation gradients and block-internal activations of this batch size's passes. */
  pool: TensorPool;
}

export class Network {
  readonly model: ModelDef;
  readonly backend: Backend;
  readonly layout: ParamLayout;
  /**
   * Draws of the training passes (dropout). Replace it to reseed, e.g. per client and round; each
   * training forward pass draws from whatever generator is here at that moment.
   */
  rng: Rng;
  /** W (what the optimiser updates), M, M⊙W (what compute uses) and the gradients. */
  readonly #params: ParameterStore;
  readonly #sumSquares = new Map<string, Tensor>();
  readonly #bindings = new Map<number, Binding>();
  #lastLambda: Lambda = 0;
  #lastBinding: Binding | undefined;
  #lastTrainBinding: Binding | undefined;

  constructor(model: ModelDef, backend: Backend, options: NetworkOptions = {}) {
    this.model = model;
    this.backend = backend;
    this.layout = model.layout;
    this.rng = options.rng ?? new Rng(0);
    this.#params = new ParameterStore(model.layout, backend, model.name, { sparseCrossover: options.sparseCrossover });
    for (const s of this.layout.prunable) this.#sumSquares.set(s.name, backend.tensor('f32', [1]));
  }

  /** Loads a flat vector (layout order, BN running statistics included) as the dense weights. */
  setParameters(flat: Float32Array): void {
    this.#params.write(flat);
  }

  /** The dense weights and the buffers (BN running statistics) as one flat vector. */
  async getParameters(): Promise<Float32Array> {
    return this.#params.read();
  }

  /**
   * Gradients of the last step w.r.t. the parameters used in compute (the pruned point), as a flat
   * vector over the layout; buffer entries are 0.
   */
  async getGradients(): Promise<Float32Array> {
    return this.#params.readGradients();
  }

  /**
   * Sets the pruning mask: a 0/1 vector over the whole layout (entries of non-prunable segments are
   * ignored); null means dense (all ones).
   */
  setMask(mask: Uint8Array | null): void {
    this.#params.setMask(mask);
  }

  /**
   * Per prunable weight, in layout order: its sparsity under the current mask and whether its layer
   * computes on the sparse or the dense path (chosen by setMask from the crossover table).
   */
  paths(): LayerPath[] {
    return this.#params.paths();
  }

  /** Logits for a batch of inputs (N × inputShape, flattened); evaluation mode. */
  async predict(x: Float32Array, batch: number): Promise<Float32Array> {
    const b = this.#binding(batch);
    this.#checkInput(x, batch);
    this.backend.write(b.x, x);
    this.#params.applyMasks(false);
    b.pool.reclaim();
    this.#forward(b, false);
    this.#lastBinding = b;
    return this.backend.read(b.layers[b.layers.length - 1]!.output) as Promise<Float32Array>;
  }

  /**
   * Hard pruning: W ← M⊙W, so the dense weights themselves lose what the mask prunes (methods
   * without error feedback call it after every step; pruned weights then stay exactly 0).
   */
  zeroMaskedWeights(): void {
    this.#params.zeroMasked();
  }

  /** One local step: loss and gradients at M⊙W, then W ← W − lr·(g + wd·W). */
  trainStep(x: Float32Array, labels: Int32Array, options: StepOptions): void {
    this.computeGradients(x, labels, options.lambda ?? 0);
    this.applyUpdate(options.lr, options.weightDecay ?? 0);
  }

  /**
   * Loss and gradients at the pruned point: ∂(CE + λ·Σ_l‖M_l⊙W_l‖₂)/∂(M⊙W), for every parameter
   * (masked coordinates get their CE gradient too: that is the error feedback).
   */
  computeGradients(x: Float32Array, labels: Int32Array, lambda: Lambda = 0): void {
    const perLayer = this.#checkLambda(lambda);
    const b = this.#binding(labels.length);
    this.#checkInput(x, labels.length);
    this.backend.write(b.x, x);
    this.backend.write(b.labels, labels);
    this.#params.applyMasks();
    b.pool.reclaim();
    this.#forward(b, true);
    const logits = b.layers[b.layers.length - 1]!.output;
    this.backend.softmaxCrossEntropy({ logits, labels: b.labels, loss: b.loss, dlogits: b.dlogits });
    // Each backward pass gives its dy back to the pool and hands on a pooled input gradient.
    let dy: Tensor | undefined = b.dlogits;
    for (let i = b.layers.length - 1; i >= 0 && dy; i--) dy = b.layers[i]!.backward(dy);
    b.pool.give(dy);
    if (perLayer || lambda !== 0) {
      let l = 0;
      for (const name of this.#params.effective.keys()) {
        const coefficient = perLayer ? perLayer[l++]! : lambda as number;
        if (coefficient === 0) continue;
        this.#params.addPenalty(name, coefficient, this.#sumSquares.get(name)!);
      }
    }
    this.#lastLambda = lambda;
    this.#lastBinding = b;
    this.#lastTrainBinding = b;
  }

  /**
   * W ← W − lr·(g + wd·W) on the dense weights with the gradients of the last computeGradients;
   * buffers (BN running statistics) are not touched, their training pass already updated them.
   */
  applyUpdate(lr: number, weightDecay = 0): void {
    this.#params.sgdStep(lr, weightDecay);
  }

  /** Output of layer `index` in the last pass (e.g. the flattened features). */
  async readActivation(index: number): Promise<Float32Array> {
    const b = this.#lastBinding;
    const layer = b?.layers[index];
    if (!layer) throw new InvalidArgumentError(`readActivation: no layer ${index} in the last pass`);
    return this.backend.read(layer.activation?.() ?? layer.output) as Promise<Float32Array>;
  }

  /** The loss of the last training step, split into its parts (reads back from the device). */
  async lastLoss(): Promise<LossParts> {
    const b = this.#lastTrainBinding;
    if (!b) throw new InvalidArgumentError('lastLoss: no training step has run yet');
    const ce = (await this.backend.read(b.loss))[0]!;
    const lambda = this.#lastLambda;
    let reg = 0;
    if (typeof lambda === 'number') {
      if (lambda !== 0) {
        for (const ss of this.#sumSquares.values()) reg += Math.sqrt((await this.backend.read(ss))[0]!);
      }
      return { loss: ce + lambda * reg, ce, reg };
    }
    // Layers without a penalty skipped sumSquares, so their slots hold stale values: read only the others.
    let penalty = 0;
    let l = 0;
    for (const ss of this.#sumSquares.values()) {
      const coefficient = lambda[l++]!;
      if (coefficient === 0) continue;
      const norm = Math.sqrt((await this.backend.read(ss))[0]!);
      reg += norm;
      penalty += coefficient * norm;
    }
    return { loss: ce + penalty, ce, reg };
  }

  dispose(): void {
    for (const b of this.#bindings.values()) this.#releaseBinding(b);
    this.#bindings.clear();
    for (const t of this.#sumSquares.values()) this.backend.release(t);
    this.#sumSquares.clear();
    this.#params.dispose();
  }

  // ---- internals ----

  #forward(b: Binding, training: boolean): void {
    let x = b.x;
    for (const layer of b.layers) {
      layer.forward(x, training);
      x = layer.output;
    }
  }

  /** Per-layer coefficients as an array (validated), or null for one λ for all layers. */
  #checkLambda(lambda: Lambda): readonly number[] | null {
    if (typeof lambda === 'number') {
      if (!Number.isFinite(lambda)) throw new InvalidArgumentError(`${this.model.name}: lambda must be finite, got ${lambda}`);
      return null;
    }
    const count = this.#sumSquares.size;
    if (!Array.isArray(lambda) || lambda.length !== count) {
      throw new InvalidArgumentError(`${this.model.name}: per-layer lambda needs one coefficient per prunable segment (${count}), got ${Array.isArray(lambda) ? `${lambda.length} entries` : String(lambda)}`);
    }
    lambda.forEach((c, l) => {
      if (typeof c !== 'number' || !Number.isFinite(c)) throw new InvalidArgumentError(`${this.model.name}: lambda[${l}] must be a finite number, got ${String(c)}`);
    });
    return lambda;
  }

  #checkInput(x: Float32Array, batch: number): void {
    const per = this.model.inputShape.reduce((a, c) => a * c, 1);
    if (x.length !== batch * per) {
      throw new InvalidArgumentError(`${this.model.name}: a batch of ${batch} needs ${batch * per} input values ([${batch}, ${this.model.inputShape.join(', ')}]), got ${x.length}`);
    }
  }

  /**
   * Activations are allocated once per batch size (a data set has at most two: full and last);
   * each binding's pool reaches its size in the first training step and keeps it.
   */
  #binding(batch: number): Binding {
    if (!Number.isSafeInteger(batch) || batch < 1) throw new InvalidArgumentError(`batch size must be a positive integer, got ${batch}`);
    let b = this.#bindings.get(batch);
    if (b) return b;
    const backend = this.backend;
    const rng = () => this.rng;
    const pool = new TensorPool(backend);
    const layers = bindSequence(this.model.layers, this.model.inputShape, (i) => this.#params.context(batch, i > 0, rng, pool));
    b = {
      batch, layers, pool,
      x: backend.tensor('f32', [batch, ...this.model.inputShape]),
      labels: backend.tensor('i32', [batch]),
      loss: backend.tensor('f32', [1]),
      dlogits: backend.tensor('f32', [batch, this.model.classes]),
    };
    this.#bindings.set(batch, b);
    return b;
  }

  #releaseBinding(b: Binding): void {
    for (const l of b.layers) l.release();
    b.pool.release();
    for (const t of [b.x, b.labels, b.loss, b.dlogits]) this.backend.release(t);
  }
}
