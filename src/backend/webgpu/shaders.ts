// The WGSL sources, bundled as strings (a build-time transform turns each .wgsl import into one).
import matmul from '../../../shaders/matmul.wgsl';
import colSum from '../../../shaders/col_sum.wgsl';
import reluForward from '../../../shaders/relu_forward.wgsl';
import reluBackward from '../../../shaders/relu_backward.wgsl';
import softmaxCrossEntropy from '../../../shaders/softmax_cross_entropy.wgsl';
import sgdStep from '../../../shaders/sgd_step.wgsl';
import axpy from '../../../shaders/axpy.wgsl';
import fill from '../../../shaders/fill.wgsl';
import applyMask from '../../../shaders/apply_mask.wgsl';

export const SHADERS = {
  matmul, colSum, reluForward, reluBackward, softmaxCrossEntropy, sgdStep, axpy, fill,
  applyMask,
} as const;

export type ShaderName = keyof typeof SHADERS;
