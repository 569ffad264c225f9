// Device tensors that live for only part of a pass, shared by every layer of one binding.
//
// A layer's input gradient is written by its backward pass and read once, by its predecessor's
// backward pass; an activation that a block only hands from one kernel to the next (batch norm →
// ReLU, the residual sum) is dead as soon as the next kernel has read it. Giving each of them a
// tensor of its own made ResNet-18-CIFAR hold ~17 MB per image; taking them from this pool and
// handing them back once read keeps only as many alive as are in use at the same moment (about
// three per activation shape). Which tensor a value lands in never changes the value: every kernel
// overwrites its whole output, so results are bit-identical to one tensor per value.
//
// The pool only grows when more tensors of a shape are in use at once than ever before, so after
// the first training step a binding allocates nothing (what the memory-stability test checks).
import type { Backend } from '../backend/backend.ts';
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';

/**
 * Reusable f32 tensors by shape, for values that live only part of a pass (input gradients,
 * activations read once by the next kernel). Layers take them from BindContext.pool and whoever
 * reads a value last gives it back.
 */
export class TensorPool {
  readonly #backend: Backend;
  /** Idle tensors by shape, reused last-in first-out (so a fixed pass reuses a fixed set). */
  readonly #idle = new Map<string, Tensor[]>();
  /** Tensors handed out, with the number of readers that have yet to give them back. */
  readonly #holders = new Map<Tensor, number>();
  readonly #all: Tensor[] = [];
  #bytes = 0;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** An f32 tensor of `shape` with undefined contents, held by the caller until it gives it back. */
  take(shape: readonly number[]): Tensor {
    const key = shape.join('x');
    let t = this.#idle.get(key)?.pop();
    if (!t) {
      t = this.#backend.tensor('f32', shape);
      this.#all.push(t);
      this.#bytes += 4 * t.size;
    }
    this.#holders.set(t, 1);
    return t;
  }

  /**
   * One more reader of a taken tensor (a gradient that flows into two branches): it returns to the
   * pool only after every holder has given it back.
   */
  hold(t: Tensor): void {
    const n = this.#holders.get(t);
    if (n === undefined) throw new InvalidArgumentError(`TensorPool: hold() on ${t}, which is not taken from this pool`);
    this.#holders.set(t, n + 1);
  }

  /**
   * Gives a tensor back once its reader is done with it. Tensors the pool did not hand out (the
   * network's input, its logits' gradient, a test harness's dy) are left alone, so a layer can
   * give back whatever gradient it was passed.
   */
  give(t: Tensor | undefined): void {
    if (!t) return;
    const n = this.#holders.get(t);
    if (n === undefined) return;
    if (n > 1) {
      this.#holders.set(t, n - 1);
      return;
    }
    this.#holders.delete(t);
    const key = t.shape.join('x');
    const idle = this.#idle.get(key);
    if (idle) idle.push(t);
    else this.#idle.set(key, [t]);
  }

  /**
   * Returns every handed-out tensor to the pool. For the start of a pass, when nothing of an
   * earlier one is still read: a pass cut short by an error would otherwise keep its tensors out
   * of the pool for good, and every later pass would allocate new ones.
   */
  reclaim(): void {
    for (const t of [...this.#holders.keys()]) {
      this.#holders.set(t, 1);
      this.give(t);
    }
  }

  /** Device bytes of every tensor the pool has allocated (its high-water mark). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Frees every tensor of the pool, handed out or not. */
  release(): void {
    for (const t of this.#all) this.#backend.release(t);
    this.#all.length = 0;
    this.#idle.clear();
    this.#holders.clear();
    this.#bytes = 0;
  }
}
