// A tensor is a typed, shaped handle to memory owned by one backend (wasm linear memory, a GPU
// buffer, or a host array). Kernels take tensors of their own backend only.
export type DType = 'f32' | 'i32';
export type HostArrayOf<D extends DType> = D extends 'f32' ? Float32Array : Int32Array;
export type HostArray = Float32Array | Int32Array;

export abstract class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly size: number;
  /** Name of the owning backend, for error messages. */
  readonly backendName: string;
  #released = false;

  protected constructor(backendName: string, dtype: D, shape: readonly number[]) {
    this.backendName = backendName;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  get released(): boolean {
    return this.#released;
  }

  /** Marks the handle dead; the owning backend frees the memory. */
  markReleased(): void {
    this.#released = true;
  }

  toString(): string {
    return `${this.backendName} tensor ${this.dtype}[${this.shape.join('×')}]`;
  }
}

export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
