// Public API of feddip.
export { createBackend, backends, BACKEND_NAMES, type BackendReport, type BackendOptions } from './backend/registry.ts';
export { Backend, type BackendName, type Threading, type SimdBuild } from './backend/backend.ts';
export { DEFAULT_SPLIT, type WasmBackendOptions } from './backend/wasm/backend.ts';
export { SIMD_CHOICES, type SimdChoice } from './backend/wasm/module.ts';
export { DEFAULT_WORKER_TIMEOUT_MS } from './backend/wasm/threads.ts';
export { Tensor, type DType, type HostArray } from './backend/tensor.ts';
export { FeddipError, BackendUnavailableError, InvalidArgumentError, CodecError, type FeddipErrorCode } from './errors.ts';
export { runtimeName, runtimeDescription, type RuntimeName } from './platform/runtime.ts';
export type { LinearForwardArgs, LinearBackwardArgs } from './kernels/linear.ts';
export type { ReluForwardArgs, ReluBackwardArgs } from './kernels/activation.ts';
export type { SoftmaxCrossEntropyArgs } from './kernels/loss.ts';
export type { SgdStepArgs, AxpyArgs, FillArgs } from './kernels/optim.ts';
export type { CopyArgs, SumSquaresArgs, AddScaledByInvNormArgs } from './kernels/vector.ts';
export type { Conv2dForwardArgs, Conv2dBackwardArgs, Conv2dWeightGradPooledArgs, Conv2dInputGradPooledArgs, Conv2dDims } from './kernels/conv.ts';
export type { Conv2dForwardPooledArgs, SparseConv2dForwardPooledArgs, PoolBehindConv, PooledForwardDims } from './kernels/conv-pooled.ts';
export type {
  Pair, MaxPool2dForwardArgs, MaxPool2dBackwardArgs, AvgPool2dForwardArgs, AvgPool2dBackwardArgs,
  AdaptiveAvgPool2dForwardArgs, AdaptiveAvgPool2dBackwardArgs,
} from './kernels/pool.ts';
export type { BatchNorm2dForwardArgs, BatchNorm2dBackwardArgs } from './kernels/batchnorm.ts';
export type { DropoutForwardArgs, DropoutBackwardArgs, AddArgs } from './kernels/elementwise.ts';
export type { ApplyMaskArgs } from './kernels/mask.ts';
export type {
  CsrMatrix, CsrGatherArgs, CsrAddScaledByInvNormArgs, SparseLinearForwardArgs, SparseLinearBackwardDataArgs, SparseConv2dForwardArgs, SparseConv2dBackwardDataArgs,
  SparseConv2dInputGradPooledArgs,
} from './kernels/sparse.ts';
export * as reference from './kernels/reference.ts';
export * as sparse from './sparse/index.ts';
export * as data from './data/index.ts';
export { Rng, type RngState } from './util/rng.ts';
export * from './nn/index.ts';
export * as codec from './codec/index.ts';
export * as fl from './fl/index.ts';
export * as transport from './transport/index.ts';
export * as report from './report/index.ts';
export { VERSION } from './version.ts';
