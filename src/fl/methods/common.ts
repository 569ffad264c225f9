// What the baselines share: their options (FedDIP's, plus the few knobs only one method has), the
// round's local configuration from the common schedules, and small helpers on flat vectors.
import { InvalidArgumentError } from '../../errors.ts';
import type { ParamLayout } from '../../nn/layout.ts';
import { learningRate } from '../../sparse/schedules.ts';
import { checkFedDipOptions, FEDDIP_DEFAULTS, type FedDipOptions } from '../feddip.ts';
import type { ClientResult, LocalConfig } from '../types.ts';

export { exportedState, StateReader } from '../state.ts';

export interface MethodOptions extends FedDipOptions {
  /** FedDST: the drop fraction at round t is α/2·(1+cos(πt/T)). */
  alpha: number;
  /** PruneTrain: group-lasso coefficient on the layers between the first and the last. */
  groupLasso: number;
  /** PruneFL: local trainings of one client that prune the model before the first round. */
  initialRounds: number;
  /**
   * FedDST: scale each layer's initial weights by 1/√density when the random mask is drawn, so a
   * layer's output variance is that of the dense initialisation (sparse-aware initialisation, as in
   * Evci et al., "Gradient flow in sparse neural networks"). Without it LeNet-5 at 95 % random
   * sparsity keeps, to first order, the product of its layer densities (≈ 2·10⁻⁵) of the dense logits' variance
   * and does not leave chance level.
   */
  rescaleInit: boolean;
}

export const METHOD_DEFAULTS: MethodOptions = { ...FEDDIP_DEFAULTS, alpha: 0.5, groupLasso: 0.01, initialRounds: 3, rescaleInit: true };

/** The options with `defaults` under what the caller gave (undefined entries do not override). */
export function methodOptions(given: Partial<MethodOptions>, defaults: Partial<MethodOptions> = {}): MethodOptions {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const o: MethodOptions = { ...METHOD_DEFAULTS, ...defaults, ...defined };
  checkFedDipOptions(o);
  if (!(o.alpha >= 0 && o.alpha <= 1)) throw new InvalidArgumentError(`alpha must be in [0, 1], got ${o.alpha}`);
  if (!(o.groupLasso >= 0 && Number.isFinite(o.groupLasso))) throw new InvalidArgumentError(`group-lasso coefficient must be a finite number ≥ 0, got ${o.groupLasso}`);
  if (!Number.isSafeInteger(o.initialRounds) || o.initialRounds < 0) throw new InvalidArgumentError(`initial rounds must be a non-negative integer, got ${o.initialRounds}`);
  return o;
}

/** The round's local SGD under the shared schedules (spec §2): no penalty, dense uplink. */
export function baseConfig(o: MethodOptions, round: number): LocalConfig {
  return {
    round, lr: learningRate(round, o.lr, o.lrDecay), weightDecay: o.weightDecay, lambda: 0,
    localEpochs: o.localEpochs, batch: o.batch, uplink: 'dense', uplinkDensity: 1,
  };
}

/** w ⊙ mask, a new vector (entries outside prunable segments are 1 in every mask). */
export function masked(weights: Float32Array, mask: Uint8Array | null): Float32Array {
  return mask ? weights.map((w, i) => (mask[i] ? w : 0)) : weights.slice();
}

/** In place: w ← w ⊙ mask. */
export function applyMaskInPlace(weights: Float32Array, mask: Uint8Array): void {
  for (let i = 0; i < weights.length; i++) if (!mask[i]) weights[i] = 0;
}

/**
 * Σ_k p_k·v_k / Σ_k p_k (p_k = samples) of one reported statistic over the clients that reported
 * it; null when none did.
 */
export function weightedMean(results: readonly ClientResult[], pick: (r: ClientResult) => Float32Array | undefined, layout: ParamLayout): Float32Array | null {
  const reporting = results.filter((r) => pick(r) !== undefined);
  const total = reporting.reduce((n, r) => n + r.samples, 0);
  if (!reporting.length || total <= 0) return null;
  const out = new Float32Array(layout.size);
  for (const r of reporting) {
    const v = pick(r)!;
    layout.checkVector(v, `statistic from client ${r.clientId}`);
    const p = r.samples / total;
    for (let i = 0; i < v.length; i++) out[i] = out[i]! + p * v[i]!;
  }
  return out;
}

/** Throws the error a strategy gives when used before initialize(). */
export function requireLayout(name: string, layout: ParamLayout | undefined): ParamLayout {
  if (!layout) throw new InvalidArgumentError(`${name}: initialize() must be called before the first round`);
  return layout;
}

