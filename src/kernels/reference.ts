// The plain reference of every kernel, on host arrays in float32 or float64.
export { linearForwardRef, linearBackwardRef } from './linear.ts';
export { reluForwardRef, reluBackwardRef } from './activation.ts';
export { softmaxCrossEntropyRef } from './loss.ts';
export { sgdStepRef, axpyRef } from './optim.ts';
export { sumSquaresRef, addScaledByInvNormRef } from './vector.ts';
export { conv2dForwardRef, conv2dBackwardRef, conv2dWeightGradPooledRef, conv2dInputGradPooledRef } from './conv.ts';
export { applyMaskRef } from './mask.ts';
export { conv2dForwardPooledRef, sparseConv2dForwardPooledRef } from './conv-pooled.ts';
export { csrGatherRef, csrAddScaledByInvNormRef, sparseLinearForwardRef, sparseConv2dForwardRef, sparseConv2dBackwardDataRef, sparseConv2dInputGradPooledRef } from './sparse.ts';
export type { FloatArray } from './reference-types.ts';
export {
  maxPool2dForwardRef, maxPool2dBackwardRef, avgPool2dForwardRef, avgPool2dBackwardRef,
  adaptiveAvgPool2dForwardRef, adaptiveAvgPool2dBackwardRef, adaptiveBin,
} from './pool.ts';
export { batchNorm2dForwardRef, batchNorm2dBackwardRef } from './batchnorm.ts';
export { dropoutRef, dropoutScale, addRef } from './elementwise.ts';
