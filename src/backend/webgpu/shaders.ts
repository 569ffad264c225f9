// The WGSL sources, bundled as strings (a build-time transform turns each .wgsl import into one).
// WGSL has no includes: what several shaders share (a family's uniform block, the 1-D invocation
// index) is written once in shaders/include/ and prepended here.
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
import grid1d from '../../../shaders/include/grid1d.wgsl';
import floatBits from '../../../shaders/include/float_bits.wgsl';
import conv2dForward from '../../../shaders/conv2d_forward.wgsl';
import conv2dBackwardData from '../../../shaders/conv2d_backward_data.wgsl';
import conv2dBackwardFilter from '../../../shaders/conv2d_backward_filter.wgsl';
import conv2dBackwardBias from '../../../shaders/conv2d_backward_bias.wgsl';
import conv2dWeightGradPooled from '../../../shaders/conv2d_weight_grad_pooled.wgsl';

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
import conv2dPooled from '../../../shaders/include/conv2d_pooled.wgsl';
import conv2dAt from '../../../shaders/include/conv2d_at.wgsl';
import sparseConv2dAt from '../../../shaders/include/sparse_conv2d_at.wgsl';
import conv2dForwardPooled from '../../../shaders/conv2d_forward_pooled.wgsl';
import sparseConv2dForwardPooled from '../../../shaders/sparse_conv2d_forward_pooled.wgsl';

/** 1-D shaders' workgroup size; shaders/include/grid1d.wgsl declares the same (a test checks). */
export const WORKGROUP_1D = 64;

/** A shader's source behind its includes. */
const withIncludes = (body: string, ...includes: string[]): string => [...includes, body].join('\n');
/** A shader that indexes its workload in 1-D (index_1d), behind its other includes. */
const grid = (body: string, ...includes: string[]): string => withIncludes(body, ...includes, grid1d);

export const SHADERS = {
  matmul, colSum: grid(colSum), reluForward: grid(reluForward, floatBits), reluBackward: grid(reluBackward),
  softmaxCrossEntropy, sgdStep: grid(sgdStep), axpy: grid(axpy), fill: grid(fill), copy: grid(copy), sumSquares,
  addScaledByInvNorm: grid(addScaledByInvNorm),
  conv2dForward: grid(conv2dForward, conv2dParams, conv2dAt),
  conv2dBackwardData: grid(conv2dBackwardData, conv2dParams),
  conv2dBackwardFilter: grid(conv2dBackwardFilter, conv2dParams),
  conv2dBackwardBias: grid(conv2dBackwardBias, conv2dParams),
  conv2dWeightGradPooled: grid(conv2dWeightGradPooled),
  maxPool2dForward: grid(maxPool2dForward, pool2dParams, floatBits),
  maxPool2dBackward: grid(maxPool2dBackward),
  avgPool2dForward: grid(avgPool2dForward, pool2dParams),
  avgPool2dBackward: grid(avgPool2dBackward, pool2dParams),
  adaptiveAvgPool2dForward: grid(adaptiveAvgPool2dForward), adaptiveAvgPool2dBackward: grid(adaptiveAvgPool2dBackward),
  batchNormForward, batchNormBackward, dropout: grid(dropout), add: grid(add), applyMask: grid(applyMask),
  csrGather: grid(csrGather), csrAddScaledByInvNorm: grid(csrAddScaledByInvNorm), sparseLinearForward: grid(sparseLinearForward),
  sparseConv2dForward: grid(sparseConv2dForward, conv2dParams, sparseConv2dAt),
  sparseConv2dBackwardData: grid(sparseConv2dBackwardData, conv2dParams),
  conv2dForwardPooled: grid(conv2dForwardPooled, conv2dPooled, conv2dAt, floatBits),
  sparseConv2dForwardPooled: grid(sparseConv2dForwardPooled, conv2dPooled, sparseConv2dAt, floatBits),
} as const;

export type ShaderName = keyof typeof SHADERS;
