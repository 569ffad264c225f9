// Layers: what parameters they own, what shape they produce, and — once bound to a backend and a
// batch size — their forward and backward passes on device tensors. A bound layer owns its output
// and the gradient of its input; the network chains them.
import type { Backend } from '../backend/backend.ts';
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { ParamSpec } from './layout.ts';

/** What a layer gets when it is bound: the backend, the batch size and its parameter tensors. */
export interface BindContext {
  backend: Backend;
  batch: number;
  /** The tensor used in compute for a parameter (the pruned point M⊙W for masked weights). */
  param(name: string): Tensor;
  /** Where the backward pass writes the gradient of a parameter. */
  grad(name: string): Tensor;
  /** Whether this layer must produce the gradient of its input (false for the first layer). */
  needInputGrad: boolean;
}

export interface BoundLayer {
  readonly output: Tensor;
  /** Gradient w.r.t. the input, filled by backward (absent when not needed). */
  readonly inputGrad: Tensor | undefined;
  forward(x: Tensor, training: boolean): void;
  backward(dy: Tensor): void;
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

/** Allocation helper: a bound layer's tensors, released together. */
class Owned {
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

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

function positiveInt(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidArgumentError(`${what} must be a positive integer, got ${v}`);
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
    const own = new Owned(ctx.backend);
    const output = own.f32([ctx.batch, ...this.outputShape(input)]);
    const inputGrad = ctx.needInputGrad ? own.f32([ctx.batch, ...input]) : undefined;
    const w = ctx.param(`${this.name}.weight`);
    const dw = ctx.grad(`${this.name}.weight`);
    const b = this.bias ? ctx.param(`${this.name}.bias`) : undefined;
    const db = this.bias ? ctx.grad(`${this.name}.bias`) : undefined;
    const { stride, padding } = this;
    let x: Tensor | undefined;
    return {
      output, inputGrad,
      forward: (input) => {
        x = input;
        ctx.backend.conv2dForward({ x: input, w, b, y: output, stride, padding });
      },
      backward: (dy) => {
        ctx.backend.conv2dBackward({ x: x!, w, dy, dx: inputGrad, dw, db, stride, padding });
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
    const inputGrad = ctx.needInputGrad ? own.f32([ctx.batch, ...input]) : undefined;
    const w = ctx.param(`${this.name}.weight`);
    const dw = ctx.grad(`${this.name}.weight`);
    const b = this.bias ? ctx.param(`${this.name}.bias`) : undefined;
    const db = this.bias ? ctx.grad(`${this.name}.bias`) : undefined;
    let x: Tensor | undefined;
    return {
      output, inputGrad,
      forward: (input) => {
        x = input;
        ctx.backend.linearForward({ x: input, w, b, y: output });
      },
      backward: (dy) => ctx.backend.linearBackward({ x: x!, w, dy, dx: inputGrad, dw, db }),
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
    const inputGrad = ctx.needInputGrad ? own.f32([ctx.batch, ...input]) : undefined;
    let x: Tensor | undefined;
    return {
      output, inputGrad,
      forward: (input) => {
        x = input;
        ctx.backend.reluForward({ x: input, y: output });
      },
      backward: (dy) => {
        if (inputGrad) ctx.backend.reluBackward({ x: x!, dy, dx: inputGrad });
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
    const own = new Owned(ctx.backend);
    const shape = [ctx.batch, ...this.outputShape(input)];
    const output = own.f32(shape);
    const indices = own.i32(shape);
    const inputGrad = ctx.needInputGrad ? own.f32([ctx.batch, ...input]) : undefined;
    const { kernel, stride } = this;
    return {
      output, inputGrad,
      forward: (x) => ctx.backend.maxPool2dForward({ x, y: output, indices, kernel, stride }),
      backward: (dy) => {
        if (inputGrad) ctx.backend.maxPool2dBackward({ dy, indices, dx: inputGrad });
      },
      release: () => own.release(),
    };
  }
}

/** Flattens [C, H, W] to [C·H·W] (C-major, like torch.flatten(x, 1)). */
export class Flatten extends Layer {
  outputShape(input: readonly number[]): number[] {
    return [input.reduce((a, b) => a * b, 1)];
  }

  bind(ctx: BindContext, input: readonly number[]): BoundLayer {
    const own = new Owned(ctx.backend);
    const output = own.f32([ctx.batch, ...this.outputShape(input)]);
    const inputGrad = ctx.needInputGrad ? own.f32([ctx.batch, ...input]) : undefined;
    return {
      output, inputGrad,
      forward: (x) => ctx.backend.copy({ x, y: output }),
      backward: (dy) => {
        if (inputGrad) ctx.backend.copy({ x: dy, y: inputGrad });
      },
      release: () => own.release(),
    };
  }
}
