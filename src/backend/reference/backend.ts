// Plain-TypeScript backend over host arrays. It is the executable specification the fast backends
// are compared with in tests; it is not meant to be fast.
import { Backend } from '../backend.ts';
import { type DType, type HostArray, Tensor } from '../tensor.ts';
import { linearBackwardRef, linearForwardRef, type LinearBackwardArgs, type LinearDims, type LinearForwardArgs } from '../../kernels/linear.ts';
import { reluBackwardRef, reluForwardRef, type ReluBackwardArgs, type ReluForwardArgs } from '../../kernels/activation.ts';
import { softmaxCrossEntropyRef, type CrossEntropyDims, type SoftmaxCrossEntropyArgs } from '../../kernels/loss.ts';
import { axpyRef, sgdStepRef, type AxpyArgs, type FillArgs, type SgdStepArgs } from '../../kernels/optim.ts';
import { applyMaskRef, type ApplyMaskArgs } from '../../kernels/mask.ts';

class HostTensor<D extends DType = DType> extends Tensor<D> {
  readonly data: HostArray;
  constructor(dtype: D, shape: readonly number[]) {
    super('reference', dtype, shape);
    this.data = dtype === 'f32' ? new Float32Array(this.size) : new Int32Array(this.size);
  }
}

const f = (t: Tensor): Float32Array => (t as HostTensor).data as Float32Array;
const fo = (t: Tensor | undefined): Float32Array | undefined => (t ? f(t) : undefined);

export class ReferenceBackend extends Backend {
  readonly name = 'reference' as const;
  readonly description = 'reference (plain TypeScript, float32)';

  protected allocate<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
    return new HostTensor(dtype, shape);
  }
  protected upload(t: Tensor, data: HostArray): void {
    (t as HostTensor).data.set(data);
  }
  protected async download(t: Tensor): Promise<HostArray> {
    return (t as HostTensor).data.slice();
  }
  protected free(): void {}
  protected destroy(): void {}

  protected runLinearForward(a: LinearForwardArgs, d: LinearDims): void {
    linearForwardRef(f(a.x), f(a.w), fo(a.b), f(a.y), d);
  }
  protected runLinearBackward(a: LinearBackwardArgs, d: LinearDims): void {
    linearBackwardRef(f(a.x), f(a.w), f(a.dy), fo(a.dx), fo(a.dw), fo(a.db), d);
  }
  protected runReluForward(a: ReluForwardArgs): void {
    reluForwardRef(f(a.x), f(a.y));
  }
  protected runReluBackward(a: ReluBackwardArgs): void {
    reluBackwardRef(f(a.x), f(a.dy), f(a.dx));
  }
  protected runSoftmaxCrossEntropy(a: SoftmaxCrossEntropyArgs, d: CrossEntropyDims): void {
    softmaxCrossEntropyRef(f(a.logits), (a.labels as HostTensor).data as Int32Array, f(a.loss), fo(a.dlogits), d);
  }
  protected runSgdStep(a: Required<SgdStepArgs>): void {
    sgdStepRef(f(a.param), f(a.grad), a.lr, a.weightDecay);
  }
  protected runAxpy(a: AxpyArgs): void {
    axpyRef(a.alpha, f(a.x), f(a.y));
  }
  protected runFill(a: FillArgs): void {
    f(a.y).fill(a.value);
  }
  protected runApplyMask(a: ApplyMaskArgs): void {
    applyMaskRef(f(a.w), f(a.mask), f(a.y));
  }
}
