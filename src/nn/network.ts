// A model bound to a backend: parameter, mask and gradient tensors, and the training step of
// FedDIP/DPF — forward and backward at the pruned point M⊙W, the incremental penalty
// λ·Σ_l‖M_l⊙W_l‖₂ added to the gradient, and the update applied to the dense weights W.
// Plain SGD is the same step with an all-ones mask and λ = 0.
import type { Backend } from '../backend/backend.ts';
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { BoundLayer } from './layers.ts';
import type { ParamLayout, ParamSegment } from './layout.ts';
import type { ModelDef } from './models.ts';

export interface StepOptions {
  lr: number;
  weightDecay?: number;
  /** Incremental regularisation coefficient λ_t (0 = none). */
  lambda?: number;
}

export interface LossParts {
  /** ce + λ·reg */
  loss: number;
  ce: number;
  /** Σ_l ‖M_l⊙W_l‖₂ over the prunable layers (computed when λ > 0). */
  reg: number;
}

interface Binding {
  batch: number;
  x: Tensor;
  labels: Tensor;
  loss: Tensor;
  dlogits: Tensor;
  layers: BoundLayer[];
}

export class Network {
  readonly model: ModelDef;
  readonly backend: Backend;
  readonly layout: ParamLayout;
  /** Dense weights W (what the optimiser updates). */
  readonly #dense = new Map<string, Tensor>();
  /** Pruned point M⊙W used in compute, for prunable weights; other parameters compute from W. */
  readonly #effective = new Map<string, Tensor>();
  readonly #mask = new Map<string, Tensor>();
  readonly #sumSquares = new Map<string, Tensor>();
  readonly #grads = new Map<string, Tensor>();
  readonly #bindings = new Map<number, Binding>();
  #lastLambda = 0;
  #lastBinding: Binding | undefined;
  #lastTrainBinding: Binding | undefined;

  constructor(model: ModelDef, backend: Backend) {
    this.model = model;
    this.backend = backend;
    this.layout = model.layout;
    for (const s of this.layout.segments) {
      this.#dense.set(s.name, backend.tensor('f32', s.shape));
      this.#grads.set(s.name, backend.tensor('f32', s.shape));
      if (s.prunable) {
        this.#effective.set(s.name, backend.tensor('f32', s.shape));
        const mask = backend.tensor('f32', s.shape);
        backend.fill({ y: mask, value: 1 });
        this.#mask.set(s.name, mask);
        this.#sumSquares.set(s.name, backend.tensor('f32', [1]));
      }
    }
  }

  /** Loads a flat parameter vector (layout order) as the dense weights. */
  setParameters(flat: Float32Array): void {
    this.layout.checkVector(flat);
    for (const s of this.layout.segments) this.backend.write(this.#dense.get(s.name)!, flat.subarray(s.offset, s.offset + s.size));
  }

  async getParameters(): Promise<Float32Array> {
    return this.#gather(this.#dense);
  }

  /** Gradients of the last step w.r.t. the parameters used in compute (the pruned point). */
  async getGradients(): Promise<Float32Array> {
    return this.#gather(this.#grads);
  }

  /**
   * Sets the pruning mask: a 0/1 vector over the whole layout (entries of non-prunable segments are
   * ignored); null means dense (all ones).
   */
  setMask(mask: Uint8Array | null): void {
    if (mask) this.layout.checkVector(mask, 'mask');
    for (const s of this.layout.prunable) {
      const t = this.#mask.get(s.name)!;
      if (!mask) this.backend.fill({ y: t, value: 1 });
      else this.backend.write(t, Float32Array.from(mask.subarray(s.offset, s.offset + s.size)));
    }
  }

  /** Logits for a batch of inputs (N × inputShape, flattened); evaluation mode. */
  async predict(x: Float32Array, batch: number): Promise<Float32Array> {
    const b = this.#binding(batch);
    this.#checkInput(x, batch);
    this.backend.write(b.x, x);
    this.#applyMasks();
    this.#forward(b, false);
    this.#lastBinding = b;
    return this.backend.read(b.layers[b.layers.length - 1]!.output) as Promise<Float32Array>;
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
  computeGradients(x: Float32Array, labels: Int32Array, lambda = 0): void {
    const b = this.#binding(labels.length);
    this.#checkInput(x, labels.length);
    this.backend.write(b.x, x);
    this.backend.write(b.labels, labels);
    this.#applyMasks();
    this.#forward(b, true);
    const logits = b.layers[b.layers.length - 1]!.output;
    this.backend.softmaxCrossEntropy({ logits, labels: b.labels, loss: b.loss, dlogits: b.dlogits });
    let dy: Tensor | undefined = b.dlogits;
    for (let i = b.layers.length - 1; i >= 0 && dy; i--) {
      b.layers[i]!.backward(dy);
      dy = b.layers[i]!.inputGrad;
    }
    if (lambda !== 0) {
      for (const [name, w] of this.#effective) {
        const ss = this.#sumSquares.get(name)!;
        this.backend.sumSquares({ x: w, out: ss });
        this.backend.addScaledByInvNorm({ x: w, sumSquares: ss, grad: this.#grads.get(name)!, lambda });
      }
    }
    this.#lastLambda = lambda;
    this.#lastBinding = b;
    this.#lastTrainBinding = b;
  }

  /** W ← W − lr·(g + wd·W) on the dense weights with the gradients of the last computeGradients. */
  applyUpdate(lr: number, weightDecay = 0): void {
    for (const [name, w] of this.#dense) {
      this.backend.sgdStep({ param: w, grad: this.#grads.get(name)!, lr, weightDecay });
    }
  }

  /** Output of layer `index` in the last pass (e.g. the flattened features). */
  async readActivation(index: number): Promise<Float32Array> {
    const b = this.#lastBinding;
    const layer = b?.layers[index];
    if (!layer) throw new InvalidArgumentError(`readActivation: no layer ${index} in the last pass`);
    return this.backend.read(layer.output) as Promise<Float32Array>;
  }

  /** The loss of the last training step, split into its parts (reads back from the device). */
  async lastLoss(): Promise<LossParts> {
    const b = this.#lastTrainBinding;
    if (!b) throw new InvalidArgumentError('lastLoss: no training step has run yet');
    const ce = (await this.backend.read(b.loss))[0]!;
    let reg = 0;
    if (this.#lastLambda !== 0) {
      for (const ss of this.#sumSquares.values()) reg += Math.sqrt((await this.backend.read(ss))[0]!);
    }
    return { loss: ce + this.#lastLambda * reg, ce, reg };
  }

  dispose(): void {
    for (const b of this.#bindings.values()) this.#releaseBinding(b);
    this.#bindings.clear();
    for (const map of [this.#dense, this.#effective, this.#mask, this.#sumSquares, this.#grads]) {
      for (const t of map.values()) this.backend.release(t);
      map.clear();
    }
  }

  // ---- internals ----

  #applyMasks(): void {
    for (const [name, eff] of this.#effective) {
      this.backend.applyMask({ w: this.#dense.get(name)!, mask: this.#mask.get(name)!, y: eff });
    }
  }

  #forward(b: Binding, training: boolean): void {
    let x = b.x;
    for (const layer of b.layers) {
      layer.forward(x, training);
      x = layer.output;
    }
  }

  #checkInput(x: Float32Array, batch: number): void {
    const per = this.model.inputShape.reduce((a, c) => a * c, 1);
    if (x.length !== batch * per) {
      throw new InvalidArgumentError(`${this.model.name}: a batch of ${batch} needs ${batch * per} input values ([${batch}, ${this.model.inputShape.join(', ')}]), got ${x.length}`);
    }
  }

  /** Activations are allocated once per batch size (a data set has at most two: full and last). */
  #binding(batch: number): Binding {
    if (!Number.isSafeInteger(batch) || batch < 1) throw new InvalidArgumentError(`batch size must be a positive integer, got ${batch}`);
    let b = this.#bindings.get(batch);
    if (b) return b;
    const backend = this.backend;
    const layers: BoundLayer[] = [];
    let shape = this.model.inputShape;
    this.model.layers.forEach((layer, i) => {
      layers.push(layer.bind({
        backend, batch, needInputGrad: i > 0,
        param: (name) => this.#effective.get(name) ?? this.#dense.get(name) ?? this.#missing(name),
        grad: (name) => this.#grads.get(name) ?? this.#missing(name),
      }, shape));
      shape = layer.outputShape(shape);
    });
    b = {
      batch, layers,
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
    for (const t of [b.x, b.labels, b.loss, b.dlogits]) this.backend.release(t);
  }

  #missing(name: string): never {
    throw new InvalidArgumentError(`${this.model.name}: a layer asked for parameter '${name}', which is not in the layout`);
  }

  async #gather(map: Map<string, Tensor>): Promise<Float32Array> {
    const flat = new Float32Array(this.layout.size);
    for (const s of this.layout.segments as ParamSegment[]) flat.set(await this.backend.read(map.get(s.name)!) as Float32Array, s.offset);
    return flat;
  }
}
