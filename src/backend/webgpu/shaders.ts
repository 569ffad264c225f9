// The WGSL sources, bundled as strings (a build-time transform turns each .wgsl import into one).
import matmul from '../../../shaders/matmul.wgsl';
import colSum from '../../../shaders/col_sum.wgsl';
import reluForward from '../../../shaders/relu_forward.wgsl';
import reluBackward from '../../../shaders/relu_backward.wgsl';
import softmaxCrossEntropy from '../../../shaders/softmax_cross_entropy.wgsl';
import sgdStep from '../../../shaders/sgd_step.wgsl';
import axpy from '../../../shaders/axpy.wgsl';
import fill from '../../../shaders/fill.wgsl';
import copy from '../../../shaders/copy.wgsl';
import sumSquares from '../../../shaders/sum_squares.wgsl';
import addScaledByInvNorm from '../../../shaders/add_scaled_by_inv_norm.wgsl';
import conv2dForward from '../../../shaders/conv2d_forward.wgsl';
import conv2dBackwardData from '../../../shaders/conv2d_backward_data.wgsl';
import conv2dBackwardFilter from '../../../shaders/conv2d_backward_filter.wgsl';
import conv2dBackwardBias from '../../../shaders/conv2d_backward_bias.wgsl';

export const SHADERS = {
  matmul, colSum, reluForward, reluBackward, softmaxCrossEntropy, sgdStep, axpy, fill,
  copy, sumSquares, addScaledByInvNorm,
  conv2dForward, conv2dBackwardData, conv2dBackwardFilter, conv2dBackwardBias,
} as const;

export type ShaderName = keyof typeof SHADERS;
