// Batch normalisation over the channels of an NCHW tensor, as torch.nn.BatchNorm2d (affine, with
// running statistics). Training normalises with the batch mean and the biased variance over
// N·H·W and folds the unbiased variance into the running estimate; evaluation uses the running
// statistics. Federated clients depend on the running statistics being updated exactly like
// torch's, since they are aggregated alongside the weights.
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import { expectDistinct, expectDType, expectFinite, expectRank, expectShape, fail } from './checks.ts';
import type { FloatArray } from './reference-types.ts';

export interface BatchNorm2dForwardArgs {
  x: Tensor; gamma: Tensor; beta: Tensor;
  /** [C], updated in place when training, read when not. */
  runningMean: Tensor; runningVar: Tensor;
  y: Tensor;
  training: boolean;
  /** Weight of the new batch statistic in the running ones; defaults to 0.1. */
  momentum?: number;
  /** Defaults to 1e-5. */
  eps?: number;
  /**
   * [C] outputs for the backward pass: the mean and 1/√(var + eps) used to normalise (the batch
   * statistics when training, the running ones otherwise).
   */
  saveMean?: Tensor; saveInvStd?: Tensor;
}
/** The gradient of a training-mode forward pass, given its saved statistics. */
export interface BatchNorm2dBackwardArgs {
  x: Tensor; gamma: Tensor; dy: Tensor; saveMean: Tensor; saveInvStd: Tensor;
  dx: Tensor; dgamma: Tensor; dbeta: Tensor;
}
/** x is [batch, channels, ·, ·] with `spatial` = H·W elements per plane. */
export interface BatchNormDims { batch: number; channels: number; spatial: number }

export const BATCH_NORM_MOMENTUM = 0.1;
export const BATCH_NORM_EPS = 1e-5;

function dims(k: string, x: Tensor): BatchNormDims {
  expectRank(k, 'x', x, 4);
  const [batch, channels, h, w] = x.shape as [number, number, number, number];
  return { batch, channels, spatial: h * w };
}

export function checkBatchNorm2dForward(a: BatchNorm2dForwardArgs): BatchNormDims {
  const k = 'batchNorm2dForward';
  const tensors = {
    x: a.x, gamma: a.gamma, beta: a.beta, runningMean: a.runningMean, runningVar: a.runningVar, y: a.y,
    saveMean: a.saveMean, saveInvStd: a.saveInvStd,
  };
  for (const [n, t] of Object.entries(tensors)) if (t) expectDType(k, n, t, 'f32');
  const d = dims(k, a.x);
  for (const n of ['gamma', 'beta', 'runningMean', 'runningVar', 'saveMean', 'saveInvStd'] as const) {
    const t = tensors[n];
    if (t) expectShape(k, n, t, [d.channels]);
  }
  expectShape(k, 'y', a.y, a.x.shape);
  expectDistinct(k, tensors);
  if (typeof a.training !== 'boolean') throw new InvalidArgumentError(`${k}: 'training' must be true or false, got ${String(a.training)}`);
  const momentum = a.momentum ?? BATCH_NORM_MOMENTUM;
  const eps = a.eps ?? BATCH_NORM_EPS;
  expectFinite(k, 'momentum', momentum);
  expectFinite(k, 'eps', eps);
  if (momentum < 0 || momentum > 1) throw new InvalidArgumentError(`${k}: 'momentum' must lie in [0, 1], got ${momentum}`);
  if (!(eps > 0)) throw new InvalidArgumentError(`${k}: 'eps' must be positive, got ${eps}`);
  // The unbiased variance divides by count − 1; torch refuses this case for the same reason.
  if (a.training && d.batch * d.spatial < 2) {
    fail(k, `training needs more than one value per channel, got x [${a.x.shape.join(', ')}]`);
  }
  return d;
}

export function checkBatchNorm2dBackward(a: BatchNorm2dBackwardArgs): BatchNormDims {
  const k = 'batchNorm2dBackward';
  const tensors = {
    x: a.x, gamma: a.gamma, dy: a.dy, saveMean: a.saveMean, saveInvStd: a.saveInvStd, dx: a.dx, dgamma: a.dgamma, dbeta: a.dbeta,
  };
  for (const [n, t] of Object.entries(tensors)) expectDType(k, n, t, 'f32');
  const d = dims(k, a.x);
  expectShape(k, 'dy', a.dy, a.x.shape);
  expectShape(k, 'dx', a.dx, a.x.shape);
  for (const n of ['gamma', 'saveMean', 'saveInvStd', 'dgamma', 'dbeta'] as const) expectShape(k, n, tensors[n], [d.channels]);
  expectDistinct(k, tensors);
  return d;
}

// ---- plain references (statistics accumulated in float64 whatever the array type) ----

export function batchNorm2dForwardRef(
  x: FloatArray, gamma: FloatArray, beta: FloatArray, runningMean: FloatArray, runningVar: FloatArray, y: FloatArray,
  saveMean: FloatArray | undefined, saveInvStd: FloatArray | undefined,
  training: boolean, momentum: number, eps: number, d: BatchNormDims,
): void {
  const { batch, channels: C, spatial: S } = d;
  const count = batch * S;
  for (let c = 0; c < C; c++) {
    let mean: number;
    let variance: number;
    if (training) {
      let s = 0;
      for (let n = 0; n < batch; n++) for (let i = 0; i < S; i++) s += x[(n * C + c) * S + i]!;
      mean = s / count;
      let q = 0;
      for (let n = 0; n < batch; n++) {
        for (let i = 0; i < S; i++) {
          const dev = x[(n * C + c) * S + i]! - mean;
          q += dev * dev;
        }
      }
      variance = q / count;
      runningMean[c] = (1 - momentum) * runningMean[c]! + momentum * mean;
      runningVar[c] = (1 - momentum) * runningVar[c]! + momentum * (q / (count - 1));
    } else {
      mean = runningMean[c]!;
      variance = runningVar[c]!;
    }
    const invStd = 1 / Math.sqrt(variance + eps);
    if (saveMean) saveMean[c] = mean;
    if (saveInvStd) saveInvStd[c] = invStd;
    const scale = gamma[c]! * invStd;
    for (let n = 0; n < batch; n++) {
      for (let i = 0; i < S; i++) {
        const j = (n * C + c) * S + i;
        y[j] = (x[j]! - mean) * scale + beta[c]!;
      }
    }
  }
}

export function batchNorm2dBackwardRef(
  x: FloatArray, gamma: FloatArray, dy: FloatArray, saveMean: FloatArray, saveInvStd: FloatArray,
  dx: FloatArray, dgamma: FloatArray, dbeta: FloatArray, d: BatchNormDims,
): void {
  const { batch, channels: C, spatial: S } = d;
  const count = batch * S;
  for (let c = 0; c < C; c++) {
    const mean = saveMean[c]!;
    const invStd = saveInvStd[c]!;
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let n = 0; n < batch; n++) {
      for (let i = 0; i < S; i++) {
        const j = (n * C + c) * S + i;
        sumDy += dy[j]!;
        sumDyXhat += dy[j]! * (x[j]! - mean) * invStd;
      }
    }
    dgamma[c] = sumDyXhat;
    dbeta[c] = sumDy;
    // dx = γ·σ⁻¹·(dy − mean(dy) − x̂·mean(dy·x̂)): the batch statistics depend on every x.
    const k = gamma[c]! * invStd;
    for (let n = 0; n < batch; n++) {
      for (let i = 0; i < S; i++) {
        const j = (n * C + c) * S + i;
        const xhat = (x[j]! - mean) * invStd;
        dx[j] = k * (dy[j]! - sumDy / count - xhat * (sumDyXhat / count));
      }
    }
  }
}
