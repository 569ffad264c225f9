// Plain-TypeScript backend over host arrays. It is the executable specification the fast backends
// are compared with in tests; it is not meant to be fast.
import { Backend } from '../backend.ts';
import { type DType, type HostArray, Tensor } from '../tensor.ts';
import { linearBackwardRef, linearForwardRef, type LinearBackwardArgs, type LinearDims, type LinearForwardArgs } from '../../kernels/linear.ts';
import { reluBackwardRef, reluForwardRef, type ReluBackwardArgs, type ReluForwardArgs } from '../../kernels/activation.ts';
import { softmaxCrossEntropyRef, type CrossEntropyDims, type SoftmaxCrossEntropyArgs } from '../../kernels/loss.ts';
import { axpyRef, sgdStepRef, type AxpyArgs, type FillArgs, type SgdStepArgs } from '../../kernels/optim.ts';
import { addScaledByInvNormRef, sumSquaresRef, type AddScaledByInvNormArgs, type CopyArgs, type SumSquaresArgs } from '../../kernels/vector.ts';
import {
  conv2dBackwardRef, conv2dForwardRef, conv2dInputGradPooledRef, conv2dWeightGradPooledRef,
  type Conv2dBackwardArgs, type Conv2dDims, type Conv2dForwardArgs, type Conv2dInputGradPooledArgs, type Conv2dWeightGradPooledArgs,
} from '../../kernels/conv.ts';
import {
  adaptiveAvgPool2dBackwardRef, adaptiveAvgPool2dForwardRef, avgPool2dBackwardRef, avgPool2dForwardRef,
  maxPool2dBackwardRef, maxPool2dForwardRef,
  type AdaptiveAvgPool2dBackwardArgs, type AdaptiveAvgPool2dForwardArgs, type AvgPool2dBackwardArgs, type AvgPool2dForwardArgs,
  type MaxPool2dBackwardArgs, type MaxPool2dForwardArgs, type PlaneDims, type Pool2dDims,
} from '../../kernels/pool.ts';
import {
  batchNorm2dBackwardRef, batchNorm2dForwardRef, type BatchNorm2dBackwardArgs, type BatchNorm2dForwardArgs, type BatchNormDims,
} from '../../kernels/batchnorm.ts';
import { addRef, dropoutRef, type AddArgs, type DropoutDims } from '../../kernels/elementwise.ts';
import { applyMaskRef, type ApplyMaskArgs } from '../../kernels/mask.ts';
import {
  csrAddScaledByInvNormRef, csrGatherRef, sparseConv2dBackwardDataRef, sparseConv2dForwardRef, sparseConv2dInputGradPooledRef, sparseLinearForwardRef,
  type CsrAddScaledByInvNormArgs, type CsrGatherArgs, type CsrMatrix, type SparseConv2dBackwardDataArgs, type SparseConv2dForwardArgs,
  type SparseConv2dInputGradPooledArgs,
  type SparseLinearDims, type SparseLinearForwardArgs,
} from '../../kernels/sparse.ts';

class HostTensor<D extends DType = DType> extends Tensor<D> {
  readonly data: HostArray;
  constructor(dtype: D, shape: readonly number[]) {
    super('reference', dtype, shape);
    this.data = dtype === 'f32' ? new Float32Array(this.size) : new Int32Array(this.size);
  }
}

const f = (t: Tensor): Float32Array => (t as HostTensor).data as Float32Array;
const fo = (t: Tensor | undefined): Float32Array | undefined => (t ? f(t) : undefined);
const i32 = (t: Tensor): Int32Array => (t as HostTensor).data as Int32Array;
const csr = (m: CsrMatrix): [Int32Array, Int32Array, Float32Array] => [i32(m.rowPtr), i32(m.colIdx), f(m.values)];

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
  protected runCopy(a: CopyArgs): void {
    f(a.y).set(f(a.x));
  }
  protected runSumSquares(a: SumSquaresArgs): void {
    f(a.out)[0] = sumSquaresRef(f(a.x));
  }
  protected runAddScaledByInvNorm(a: AddScaledByInvNormArgs): void {
    addScaledByInvNormRef(f(a.x), f(a.sumSquares)[0]!, f(a.grad), a.lambda);
  }
  protected runConv2dForward(a: Conv2dForwardArgs, d: Conv2dDims): void {
    conv2dForwardRef(f(a.x), f(a.w), fo(a.b), f(a.y), d);
  }
  protected runConv2dBackward(a: Conv2dBackwardArgs, d: Conv2dDims): void {
    conv2dBackwardRef(f(a.x), f(a.w), f(a.dy), fo(a.dx), fo(a.dw), fo(a.db), d);
  }

  protected runConv2dWeightGradPooled(a: Conv2dWeightGradPooledArgs, d: Conv2dDims, pooled: number): void {
    conv2dWeightGradPooledRef(f(a.x), f(a.g), i32(a.indices), f(a.dw), fo(a.db), d, pooled);
  }
  protected runConv2dInputGradPooled(a: Conv2dInputGradPooledArgs, d: Conv2dDims, pooled: number): void {
    conv2dInputGradPooledRef(f(a.g), i32(a.indices), f(a.w), f(a.dx), d, pooled);
  }
  protected runMaxPool2dForward(a: MaxPool2dForwardArgs, d: Pool2dDims): void {
    maxPool2dForwardRef(f(a.x), f(a.y), i32(a.indices), d);
  }
  protected runMaxPool2dBackward(a: MaxPool2dBackwardArgs, d: PlaneDims): void {
    maxPool2dBackwardRef(f(a.dy), i32(a.indices), f(a.dx), d);
  }
  protected runAvgPool2dForward(a: AvgPool2dForwardArgs, d: Pool2dDims): void {
    avgPool2dForwardRef(f(a.x), f(a.y), d);
  }
  protected runAvgPool2dBackward(a: AvgPool2dBackwardArgs, d: Pool2dDims): void {
    avgPool2dBackwardRef(f(a.dy), f(a.dx), d);
  }
  protected runAdaptiveAvgPool2dForward(a: AdaptiveAvgPool2dForwardArgs, d: PlaneDims): void {
    adaptiveAvgPool2dForwardRef(f(a.x), f(a.y), d);
  }
  protected runAdaptiveAvgPool2dBackward(a: AdaptiveAvgPool2dBackwardArgs, d: PlaneDims): void {
    adaptiveAvgPool2dBackwardRef(f(a.dy), f(a.dx), d);
  }
  protected runBatchNorm2dForward(a: BatchNorm2dForwardArgs & { momentum: number; eps: number }, d: BatchNormDims): void {
    batchNorm2dForwardRef(f(a.x), f(a.gamma), f(a.beta), f(a.runningMean), f(a.runningVar), f(a.y),
      fo(a.saveMean), fo(a.saveInvStd), a.training, a.momentum, a.eps, d);
  }
  protected runBatchNorm2dBackward(a: BatchNorm2dBackwardArgs, d: BatchNormDims): void {
    batchNorm2dBackwardRef(f(a.x), f(a.gamma), f(a.dy), f(a.saveMean), f(a.saveInvStd), f(a.dx), f(a.dgamma), f(a.dbeta), d);
  }
  protected runDropout(input: Tensor, mask: Tensor, out: Tensor, d: DropoutDims): void {
    dropoutRef(f(input), f(mask), f(out), d.scale);
  }
  protected runAdd(a: AddArgs): void {
    addRef(f(a.a), f(a.b), f(a.y));
  }

  protected runApplyMask(a: ApplyMaskArgs): void {
    applyMaskRef(f(a.w), f(a.mask), f(a.y));
  }

  protected runCsrGather(a: CsrGatherArgs): void {
    csrGatherRef(f(a.w), i32(a.a.rowPtr), i32(a.a.colIdx), f(a.a.values), a.a.rows, a.a.cols, a.transposed ?? false);
  }

  protected runCsrAddScaledByInvNorm(a: CsrAddScaledByInvNormArgs): void {
    csrAddScaledByInvNormRef(...csr(a.a), a.a.rows, a.a.cols, f(a.sumSquares)[0]!, f(a.grad), a.lambda);
  }

  protected runSparseLinearForward(a: SparseLinearForwardArgs, d: SparseLinearDims): void {
    sparseLinearForwardRef(f(a.x), ...csr(a.w), fo(a.b), f(a.y), d);
  }

  protected runSparseConv2dForward(a: SparseConv2dForwardArgs, d: Conv2dDims): void {
    sparseConv2dForwardRef(f(a.x), ...csr(a.w), fo(a.b), f(a.y), d);
  }

  protected runSparseConv2dBackwardData(a: SparseConv2dBackwardDataArgs, d: Conv2dDims): void {
    sparseConv2dBackwardDataRef(f(a.dy), ...csr(a.wt), f(a.dx), d);
  }
  protected runSparseConv2dInputGradPooled(a: SparseConv2dInputGradPooledArgs, d: Conv2dDims, pooled: number): void {
    sparseConv2dInputGradPooledRef(f(a.g), i32(a.indices), ...csr(a.wt), f(a.dx), d, pooled);
  }
}
