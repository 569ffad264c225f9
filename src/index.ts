// Public API of feddip.
export { createBackend, backends, BACKEND_NAMES, type BackendReport } from './backend/registry.ts';
export { Backend, type BackendName } from './backend/backend.ts';
export { Tensor, type DType, type HostArray } from './backend/tensor.ts';
export { FeddipError, BackendUnavailableError, InvalidArgumentError, type FeddipErrorCode } from './errors.ts';
export { runtimeName, runtimeDescription, type RuntimeName } from './platform/runtime.ts';
export type { LinearForwardArgs, LinearBackwardArgs } from './kernels/linear.ts';
export type { ReluForwardArgs, ReluBackwardArgs } from './kernels/activation.ts';
export type { SoftmaxCrossEntropyArgs } from './kernels/loss.ts';
export type { SgdStepArgs, AxpyArgs, FillArgs } from './kernels/optim.ts';
export type { ApplyMaskArgs } from './kernels/mask.ts';
export * as reference from './kernels/reference.ts';
export * as sparse from './sparse/index.ts';
export { Rng, type RngState } from './util/rng.ts';
export { VERSION } from './version.ts';
