// The plain reference of every kernel, on host arrays in float32 or float64.
export { linearForwardRef, linearBackwardRef } from './linear.ts';
export { reluForwardRef, reluBackwardRef } from './activation.ts';
export { softmaxCrossEntropyRef } from './loss.ts';
export { sgdStepRef, axpyRef } from './optim.ts';
export { applyMaskRef } from './mask.ts';
export type { FloatArray } from './reference-types.ts';
