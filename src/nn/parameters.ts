// The device-side tensors behind a ParamLayout: dense values W for every segment, gradients for the
// trainable ones, and for prunable weights the mask M and the pruned point M⊙W that compute uses.
// Shared by Network (a whole model) and LayerHarness (one layer on its own), so both bind layers
// to exactly the same tensors and rules: layers compute from M⊙W, the optimiser updates W, and
// buffers are read and written by their layer only.
import type { Backend } from '../backend/backend.ts';
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { Rng } from '../util/rng.ts';
import type { BindContext } from './layers.ts';
import type { ParamLayout } from './layout.ts';

export class ParameterStore {
  readonly layout: ParamLayout;
  readonly backend: Backend;
  /** Whose parameters these are, for error messages. */
  readonly owner: string;
  /** Dense values W of every segment, buffers included. */
  readonly dense = new Map<string, Tensor>();
  /** Pruned point M⊙W, per prunable weight. */
  readonly effective = new Map<string, Tensor>();
  readonly masks = new Map<string, Tensor>();
  /** Gradients, per trainable segment. */
  readonly grads = new Map<string, Tensor>();

  constructor(layout: ParamLayout, backend: Backend, owner: string) {
    this.layout = layout;
    this.backend = backend;
    this.owner = owner;
    try {
      for (const s of layout.segments) {
        this.dense.set(s.name, backend.tensor('f32', s.shape));
        if (s.trainable) this.grads.set(s.name, backend.tensor('f32', s.shape));
        if (s.prunable) {
          this.effective.set(s.name, backend.tensor('f32', s.shape));
          const mask = backend.tensor('f32', s.shape);
          backend.fill({ y: mask, value: 1 });
          this.masks.set(s.name, mask);
        }
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Loads a flat vector (layout order, buffers included) as the dense values. */
  write(flat: Float32Array): void {
    this.layout.checkVector(flat);
    for (const s of this.layout.segments) this.backend.write(this.dense.get(s.name)!, flat.subarray(s.offset, s.offset + s.size));
  }

  /** The dense values, buffers included, as one flat vector. */
  async read(): Promise<Float32Array> {
    return this.#gather(this.dense);
  }

  /** The gradients as one flat vector; buffers have none and read as 0. */
  async readGradients(): Promise<Float32Array> {
    return this.#gather(this.grads);
  }

  /** A 0/1 vector over the whole layout (non-prunable entries ignored); null means all ones. */
  setMask(mask: Uint8Array | null): void {
    if (mask) this.layout.checkVector(mask, 'mask');
    for (const s of this.layout.prunable) {
      const t = this.masks.get(s.name)!;
      if (!mask) this.backend.fill({ y: t, value: 1 });
      else this.backend.write(t, Float32Array.from(mask.subarray(s.offset, s.offset + s.size)));
    }
  }

  /** Refreshes M⊙W from the current W and M; call before a pass that computes with them. */
  applyMasks(): void {
    for (const [name, eff] of this.effective) {
      this.backend.applyMask({ w: this.dense.get(name)!, mask: this.masks.get(name)!, y: eff });
    }
  }

  /**
   * W ← M⊙W for the prunable weights. The product goes through M⊙W (applyMask may not write in
   * place), which is then also up to date.
   */
  zeroMasked(): void {
    for (const [name, eff] of this.effective) {
      const w = this.dense.get(name)!;
      this.backend.applyMask({ w, mask: this.masks.get(name)!, y: eff });
      this.backend.copy({ x: eff, y: w });
    }
  }

  /** W ← W − lr·(g + wd·W) for every trainable segment; buffers are not the optimiser's. */
  sgdStep(lr: number, weightDecay: number): void {
    for (const [name, grad] of this.grads) this.backend.sgdStep({ param: this.dense.get(name)!, grad, lr, weightDecay });
  }

  /** What a layer bound at this batch size sees of these tensors. */
  context(batch: number, needInputGrad: boolean, rng: () => Rng): BindContext {
    return {
      backend: this.backend, batch, needInputGrad, rng,
      param: (name) => {
        const s = this.layout.segment(name);
        if (!s.trainable) throw new InvalidArgumentError(`${this.owner}: '${name}' is a buffer (${s.role}); bind it with buffer(), not param()`);
        return this.effective.get(name) ?? this.dense.get(name)!;
      },
      grad: (name) => this.grads.get(name)
        ?? this.#missing(name, 'has no gradient (it is a buffer)'),
      buffer: (name) => {
        const s = this.layout.segment(name);
        if (s.trainable) throw new InvalidArgumentError(`${this.owner}: '${name}' is a trainable parameter, not a buffer`);
        return this.dense.get(name)!;
      },
    };
  }

  dispose(): void {
    for (const map of [this.dense, this.effective, this.masks, this.grads]) {
      for (const t of map.values()) this.backend.release(t);
      map.clear();
    }
  }

  #missing(name: string, why: string): never {
    this.layout.segment(name); // names the known parameters when `name` is not one of them
    throw new InvalidArgumentError(`${this.owner}: parameter '${name}' ${why}`);
  }

  async #gather(map: Map<string, Tensor>): Promise<Float32Array> {
    const flat = new Float32Array(this.layout.size);
    for (const s of this.layout.segments) {
      const t = map.get(s.name);
      if (t) flat.set(await this.backend.read(t) as Float32Array, s.offset);
    }
    return flat;
  }
}
