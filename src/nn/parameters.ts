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
import type { ParamLayout, ParamSegment } from './layout.ts';
import type { TensorPool } from './pool.ts';
import { csrFromMask, csrTranspose } from '../sparse/csr.ts';
import {
  type LayerPath, pathFor, releaseCsr, resolveCrossover, type SparseCrossover, type SparseLayerKind, sparseKindOf,
  type SparseWeights, uploadCsr,
} from './sparse-weights.ts';

export interface ParameterStoreOptions {
  /**
   * Per layer type, the sparsity at and above which a prunable weight computes from its CSR form
   * (sparse forward and input gradient); default DEFAULT_SPARSE_CROSSOVER, false = always dense.
   */
  sparseCrossover?: Partial<SparseCrossover> | false;
}

/** Where a prunable weight stands: its mask's count, and its CSR form while it runs sparse. */
interface SparseSlot {
  segment: ParamSegment;
  kind: SparseLayerKind | undefined;
  nonzero: number;
  weights: SparseWeights | undefined;
}

/** Whether a weight's mask keeps every entry (M⊙W = W). */
function isFull(slot: SparseSlot): boolean {
  return slot.nonzero === slot.segment.size;
}

export class ParameterStore {
  readonly layout: ParamLayout;
  readonly backend: Backend;
  /** Whose parameters these are, for error messages. */
  readonly owner: string;
  /** Dense values W of every segment, buffers included. */
  readonly dense = new Map<string, Tensor>();
  /** Pruned point M⊙W, per prunable weight; left stale while the mask keeps every weight (layers then read W). */
  readonly effective = new Map<string, Tensor>();
  readonly masks = new Map<string, Tensor>();
  /** Gradients, per trainable segment. */
  readonly grads = new Map<string, Tensor>();
  /** The crossover in force, or null when every layer stays dense. */
  readonly crossover: Readonly<SparseCrossover> | null;
  readonly #slots = new Map<string, SparseSlot>();

  constructor(layout: ParamLayout, backend: Backend, owner: string, options: ParameterStoreOptions = {}) {
    this.layout = layout;
    this.backend = backend;
    this.owner = owner;
    this.crossover = resolveCrossover(options.sparseCrossover);
    for (const s of layout.prunable) this.#slots.set(s.name, { segment: s, kind: sparseKindOf(s.shape), nonzero: s.size, weights: undefined });
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

  /**
   * A 0/1 vector over the whole layout (non-prunable entries ignored); null means all ones. Also
   * picks each prunable weight's path and, for those that run sparse, rebuilds the CSR structure
   * of the mask (and of its transpose) — the only place it is built, since the mask is what fixes it.
   */
  setMask(mask: Uint8Array | null): void {
    if (mask) this.layout.checkVector(mask, 'mask');
    for (const s of this.layout.prunable) {
      const t = this.masks.get(s.name)!;
      const part = mask?.subarray(s.offset, s.offset + s.size);
      if (!part) this.backend.fill({ y: t, value: 1 });
      else this.backend.write(t, Float32Array.from(part));
      this.#restructure(this.#slots.get(s.name)!, part);
    }
  }

  /**
   * Refreshes what compute reads from the current W and M: the kept values of weights on the
   * sparse path (gathered from W: cost ∝ kept weights), M⊙W for the others. Call before a pass;
   * `backward: false` (a forward pass only) skips the CSR of Wᵀ, which only input gradients read
   * and whose gather, strided through W, costs more than the forward pass itself on big layers.
   */
  applyMasks(backward = true): void {
    for (const [name, eff] of this.effective) {
      const slot = this.#slots.get(name)!;
      const sparse = slot.weights;
      const w = this.dense.get(name)!;
      if (sparse) {
        this.backend.csrGather({ w, a: sparse.w });
        if (backward) this.backend.csrGather({ w, a: sparse.wt!, transposed: true });
      } else if (!isFull(slot)) {
        this.backend.applyMask({ w, mask: this.masks.get(name)!, y: eff });
      }
    }
  }

  /**
   * The tensor a layer computes with: M⊙W, or W itself under a mask that keeps every weight (the
   * same values, without a pass over the weights before every step: FedAvg, dense rounds).
   */
  #computeTensor(name: string): Tensor {
    const slot = this.#slots.get(name);
    if (!slot || isFull(slot)) return this.dense.get(name)!;
    return this.effective.get(name)!;
  }

  /**
   * Adds λ·(M⊙W)/‖M⊙W‖₂ of one prunable weight to its gradient and leaves ‖M⊙W‖₂² in `sumSquares`:
   * from the kept values for a weight on the sparse path (applyMasks leaves its dense M⊙W stale,
   * and the kept values alone have the same norm), from M⊙W for the others.
   */
  addPenalty(name: string, lambda: number, sumSquares: Tensor): void {
    const grad = this.grads.get(name)!;
    const sparse = this.#slots.get(name)?.weights;
    if (sparse) {
      this.backend.sumSquares({ x: sparse.w.values, out: sumSquares });
      this.backend.csrAddScaledByInvNorm({ a: sparse.w, sumSquares, grad, lambda });
      return;
    }
    if (!this.effective.has(name)) this.#missing(name, 'is not prunable');
    const x = this.#computeTensor(name);
    this.backend.sumSquares({ x, out: sumSquares });
    this.backend.addScaledByInvNorm({ x, sumSquares, grad, lambda });
  }

  /** Per prunable weight: its sparsity under the current mask and the path its layer computes with. */
  paths(): LayerPath[] {
    return [...this.#slots.values()].map(({ segment: s, kind, nonzero, weights }) => ({
      name: s.name, kind: kind ?? (s.shape.length === 4 ? 'conv' : 'linear'), nonzero, size: s.size,
      sparsity: s.size ? 1 - nonzero / s.size : 0, path: weights ? 'sparse' : 'dense',
    }));
  }

  #restructure(slot: SparseSlot, mask: Uint8Array | undefined): void {
    const s = slot.segment;
    let nonzero = s.size;
    if (mask) {
      nonzero = 0;
      for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) nonzero++;
    }
    slot.nonzero = nonzero;
    const old = slot.weights;
    slot.weights = undefined;
    if (old) {
      releaseCsr(this.backend, old.w);
      releaseCsr(this.backend, old.wt!);
    }
    const sparsity = s.size ? 1 - nonzero / s.size : 0;
    if (!slot.kind || pathFor(this.crossover, slot.kind, sparsity) === 'dense') return;
    const rows = s.shape[0]!;
    const cols = s.size / rows;
    const structure = csrFromMask(mask ?? new Uint8Array(s.size).fill(1), rows, cols);
    const w = uploadCsr(this.backend, structure);
    try {
      slot.weights = { kind: slot.kind, w, wt: uploadCsr(this.backend, csrTranspose(structure)) };
    } catch (error) {
      releaseCsr(this.backend, w);
      throw error;
    }
  }

  /**
   * W ← M⊙W for the prunable weights. The product goes through M⊙W (applyMask may not write in
   * place), which is then also up to date.
   */
  zeroMasked(): void {
    // The sparse values are gathered from W before every pass, so they follow W without more work.
    for (const [name, eff] of this.effective) {
      if (isFull(this.#slots.get(name)!)) continue;
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
  context(batch: number, needInputGrad: boolean, rng: () => Rng, pool: TensorPool): BindContext {
    return {
      backend: this.backend, batch, needInputGrad, rng, pool,
      param: (name) => {
        const s = this.layout.segment(name);
        if (!s.trainable) throw new InvalidArgumentError(`${this.owner}: '${name}' is a buffer (${s.role}); bind it with buffer(), not param()`);
        return this.#computeTensor(name);
      },
      grad: (name) => this.grads.get(name)
        ?? this.#missing(name, 'has no gradient (it is a buffer)'),
      sparse: (name) => this.#slots.get(name)?.weights,
      buffer: (name) => {
        const s = this.layout.segment(name);
        if (s.trainable) throw new InvalidArgumentError(`${this.owner}: '${name}' is a trainable parameter, not a buffer`);
        return this.dense.get(name)!;
      },
    };
  }

  dispose(): void {
    for (const slot of this.#slots.values()) {
      if (slot.weights) {
        releaseCsr(this.backend, slot.weights.w);
        releaseCsr(this.backend, slot.weights.wt!);
      }
      slot.weights = undefined;
    }
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
