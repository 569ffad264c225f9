// The WGSL sources, bundled as strings (a build-time transform turns each .wgsl import into one).
// WGSL has no includes: shaders of one family declare their shared uniform block once, in
// shaders/include/, and it is prepended here.
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
import conv2dParams from '../../../shaders/include/conv2d_params.wgsl';
import pool2dParams from '../../../shaders/include/pool2d_params.wgsl';
import conv2dForward from '../../../shaders/conv2d_forward.wgsl';
import conv2dBackwardData from '../../../shaders/conv2d_backward_data.wgsl';
import conv2dBackwardFilter from '../../../shaders/conv2d_backward_filter.wgsl';
import conv2dBackwardBias from '../../../shaders/conv2d_backward_bias.wgsl';

import maxPool2dForward from '../../../shaders/max_pool2d_forward.wgsl';
import maxPool2dBackward from '../../../shaders/max_pool2d_backward.wgsl';
import avgPool2dForward from '../../../shaders/avg_pool2d_forward.wgsl';
import avgPool2dBackward from '../../../shaders/avg_pool2d_backward.wgsl';
import adaptiveAvgPool2dForward from '../../../shaders/adaptive_avg_pool2d_forward.wgsl';
import adaptiveAvgPool2dBackward from '../../../shaders/adaptive_avg_pool2d_backward.wgsl';
import batchNormForward from '../../../shaders/batchnorm_forward.wgsl';
import batchNormBackward from '../../../shaders/batchnorm_backward.wgsl';
import dropout from '../../../shaders/dropout.wgsl';
import add from '../../../shaders/add.wgsl';
import applyMask from '../../../shaders/apply_mask.wgsl';
import csrGather from '../../../shaders/csr_gather.wgsl';
import csrAddScaledByInvNorm from '../../../shaders/csr_add_scaled_by_inv_norm.wgsl';
import sparseLinearForward from '../../../shaders/sparse_linear_forward.wgsl';
import sparseConv2dForward from '../../../shaders/sparse_conv2d_forward.wgsl';
import sparseConv2dBackwardData from '../../../shaders/sparse_conv2d_backward_data.wgsl';

const withPrelude = (prelude: string, body: string): string => `${prelude}\n${body}`;

export const SHADERS = {
  matmul, colSum, reluForward, reluBackward, softmaxCrossEntropy, sgdStep, axpy, fill,
  copy, sumSquares, addScaledByInvNorm,
  conv2dForward: withPrelude(conv2dParams, conv2dForward),
  conv2dBackwardData: withPrelude(conv2dParams, conv2dBackwardData),
  conv2dBackwardFilter: withPrelude(conv2dParams, conv2dBackwardFilter),
  conv2dBackwardBias: withPrelude(conv2dParams, conv2dBackwardBias),
  maxPool2dForward: withPrelude(pool2dParams, maxPool2dForward),
  maxPool2dBackward,
  avgPool2dForward: withPrelude(pool2dParams, avgPool2dForward),
  avgPool2dBackward: withPrelude(pool2dParams, avgPool2dBackward),
  adaptiveAvgPool2dForward, adaptiveAvgPool2dBackward, batchNormForward, batchNormBackward, dropout, add,
  applyMask,
  csrGather, csrAddScaledByInvNorm, sparseLinearForward,
  sparseConv2dForward: withPrelude(conv2dParams, sparseConv2dForward),
  sparseConv2dBackwardData: withPrelude(conv2dParams, sparseConv2dBackwardData),
} as const;

export type ShaderName = keyof typeof SHADERS;
