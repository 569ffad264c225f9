// FedDIP in its default, "dynamic" mode (spec §3), and the methods that are FedDIP with parts
// switched off: FedDIP without incremental regularisation, and FedAvg (no pruning at all).
//
// The aggregator keeps the DENSE global weights W and never zeroes them: pruned coordinates keep
// their value plus whatever updates reach them, so a weight whose dense value grows back above the
// cut re-enters the mask at the next reconfiguration. Clients get M⊙W and train with error
// feedback (compute at M⊙W, update the dense copy).
//
// What a re-entering weight starts from (option `reentry`): a pruned weight's dense value is the
// sum of gradients taken while it contributed nothing, an open-loop estimate with no curvature
// behind it; over R rounds it can overshoot the cut several times over. Put back at full size,
// a few hundred such weights at once shock the network (our LeNet-5 runs lost ~2 points at every
// reconfiguration at 95 %, and diverged at 99 %, the swapped-in weights growing each time). With
// 'cut' (the default) the error feedback still decides WHICH weights come back, but each starts no
// larger than the smallest weight that stayed in the mask; 'memory' puts back the full value.
import { InvalidArgumentError } from '../errors.ts';
import type { ParamLayout, Segment } from '../nn/layout.ts';
import { globalMagnitudeMask } from '../sparse/masks.ts';
import { cosineAnneal, cubicSparsity, incrementalLambda, isReconfigRound, learningRate } from '../sparse/schedules.ts';
import type { Rng } from '../util/rng.ts';
import {
  applyMeanUpdate, applyWeightedUpdates, type FoldedUpdates, type RoundPlan, selectClients, type Strategy, type StrategyState,
} from './strategy.ts';
import { exportedState, StateReader } from './state.ts';
import type { ClientFailure, ClientResult, LocalConfig } from './types.ts';

export interface FedDipOptions {
  rounds: number;
  fraction: number;
  lr: number;
  lrDecay: number;
  weightDecay: number;
  localEpochs: number;
  batch: number;
  /** Final sparsity s_p of the schedule. */
  sparsity: number;
  /** Initial sparsity s_0. */
  initSparsity: number;
  /** Mask reconfiguration period R. */
  reconfig: number;
  lambda0: number;
  lambdaMax: number;
  /** 'default' reaches λmax; 'reference' stops at 18/19 of the way, like the public code. */
  lambdaMode: 'default' | 'reference';
  lambdaSegments: number;
  /** Prune at all (false: FedAvg). */
  prune: boolean;
  /** Incremental regularisation (false: the no-IR ablation). */
  regularize: boolean;
  uplink: LocalConfig['uplink'];
  /** What a weight re-entering the mask starts from: its dense value clipped to the cut ('cut'), or all of it ('memory'). */
  reentry: 'cut' | 'memory';
  /**
   * At most ⌈f_t·K⌉ weights may re-enter a mask of K at a reconfiguration, with
   * f_t = regrowth/2·(1 + cos(πt/T)) (the annealed drop fraction of RigL and FedDST); 0 makes the
   * masks nested (nothing re-enters); Infinity puts no cap (with reentry 'memory': spec §3 as written).
   */
  regrowth: number;
}

export const FEDDIP_DEFAULTS: FedDipOptions = {
  rounds: 1000, fraction: 0.1, lr: 0.1, lrDecay: 0.998, weightDecay: 5e-4, localEpochs: 5, batch: 128,
  sparsity: 0.9, initSparsity: 0.5, reconfig: 5, lambda0: 5e-4, lambdaMax: 1e-3, lambdaMode: 'default',
  lambdaSegments: 20, prune: true, regularize: true, uplink: 'topk', reentry: 'cut', regrowth: 0.1,
};

/** Validates the options every method shares; messages name the option. */
export function checkFedDipOptions(o: FedDipOptions): void {
  const bad = (what: string) => { throw new InvalidArgumentError(what); };
  if (!Number.isSafeInteger(o.rounds) || o.rounds < 1) bad(`rounds must be a positive integer, got ${o.rounds}`);
  if (!(o.fraction > 0 && o.fraction <= 1)) bad(`fraction must be in (0, 1], got ${o.fraction}`);
  if (!(o.lr > 0)) bad(`lr must be positive, got ${o.lr}`);
  if (!(o.lrDecay > 0 && o.lrDecay <= 1)) bad(`lr decay must be in (0, 1], got ${o.lrDecay}`);
  if (!(o.weightDecay >= 0)) bad(`weight decay must be ≥ 0, got ${o.weightDecay}`);
  if (!Number.isSafeInteger(o.localEpochs) || o.localEpochs < 1) bad(`local epochs must be a positive integer, got ${o.localEpochs}`);
  if (!Number.isSafeInteger(o.batch) || o.batch < 1) bad(`batch must be a positive integer, got ${o.batch}`);
  if (!(o.sparsity >= 0 && o.sparsity < 1)) bad(`sparsity must be in [0, 1), got ${o.sparsity}`);
  if (!(o.initSparsity >= 0 && o.initSparsity <= o.sparsity)) bad(`initial sparsity must be in [0, sparsity], got ${o.initSparsity}`);
  if (!Number.isSafeInteger(o.reconfig) || o.reconfig < 1) bad(`reconfig must be a positive integer, got ${o.reconfig}`);
  if (!(o.lambdaMax >= 0 && o.lambda0 >= 0)) bad('lambda0 and lambda-max must be ≥ 0');
  if (o.reentry !== 'cut' && o.reentry !== 'memory') bad(`reentry must be 'cut' or 'memory', got '${String(o.reentry)}'`);
  if (!(o.regrowth >= 0)) bad(`regrowth must be a number ≥ 0 (Infinity: no cap), got ${o.regrowth}`);
}

export class FedDip implements Strategy {
  readonly name: string;
  readonly options: FedDipOptions;
  #layout: ParamLayout | undefined;
  #weights = new Float32Array(0);
  #mask: Uint8Array | null = null;

  constructor(name: string, options: Partial<FedDipOptions> = {}) {
    this.name = name;
    this.options = { ...FEDDIP_DEFAULTS, ...options };
    checkFedDipOptions(this.options);
  }

  initialize(layout: ParamLayout, initial: Float32Array): void {
    layout.checkVector(initial, 'initial weights');
    this.#layout = layout;
    this.#weights = initial.slice();
    this.#mask = null;
  }

  /** s_t of the cubic schedule (0 for FedAvg). */
  targetSparsity(round: number): number {
    const o = this.options;
    return o.prune ? cubicSparsity(round, o.rounds, o.initSparsity, o.sparsity) : 0;
  }

  /** f_t: the most weights that may re-enter at round t's reconfiguration, as a fraction of the mask. */
  regrowthFraction(round: number): number {
    if (this.options.regrowth === Infinity) return Infinity;
    return cosineAnneal(round, this.options.rounds, this.options.regrowth);
  }

  configureRound(round: number, clientCount: number, rng: Rng): RoundPlan {
    const layout = this.#requireLayout();
    const o = this.options;
    const s = this.targetSparsity(round);
    if (o.prune && (this.#mask === null || isReconfigRound(round, o.reconfig))) {
      const previous = this.#mask;
      this.#mask = globalMagnitudeMask(this.#weights, layout.segments, s);
      if (previous) {
        capReentering(this.#weights, previous, this.#mask, layout.prunable, this.regrowthFraction(round));
        if (o.reentry === 'cut') clipReentering(this.#weights, previous, this.#mask, layout.prunable);
      }
    }
    const config: LocalConfig = {
      round,
      lr: learningRate(round, o.lr, o.lrDecay),
      weightDecay: o.weightDecay,
      lambda: o.regularize ? incrementalLambda(round, o.rounds, { lambda0: o.lambda0, lambdaMax: o.lambdaMax, Q: o.lambdaSegments, mode: o.lambdaMode }) : 0,
      localEpochs: o.localEpochs,
      batch: o.batch,
      uplink: o.prune ? o.uplink : 'dense',
      uplinkDensity: 1 - s,
    };
    return { clients: selectClients(clientCount, o.fraction, rng), task: { config, ...this.deployed() }, targetSparsity: s };
  }

  /** Failed clients contribute nothing; the average is over the clients that reported. */
  aggregate(_round: number, results: readonly ClientResult[], _failures: readonly ClientFailure[] = []): void {
    applyWeightedUpdates(this.#weights, results);
  }

  aggregateMean(_round: number, folded: FoldedUpdates, _failures: readonly ClientFailure[] = []): void {
    applyMeanUpdate(this.#weights, folded);
  }

  deployed(): { weights: Float32Array; mask: Uint8Array | null } {
    const mask = this.#mask;
    if (!mask) return { weights: this.#weights.slice(), mask: null };
    return { weights: this.#weights.map((w, i) => (mask[i] ? w : 0)), mask: mask.slice() };
  }

  /** The dense server weights W (the error-feedback memory); a copy. */
  denseWeights(): Float32Array {
    return this.#weights.slice();
  }

  exportState(): StrategyState {
    return exportedState(this.name, this.#requireLayout(), { hasMask: this.#mask !== null }, { weights: this.#weights, mask: this.#mask });
  }

  importState(state: StrategyState): void {
    const r = new StateReader(this.name, this.#requireLayout(), state);
    const weights = r.vector('weights');
    const mask = r.mask('mask', true);
    if (r.json.hasMask !== undefined && r.json.hasMask !== (mask !== null)) r.fail(`the state says hasMask ${String(r.json.hasMask)} but ${mask ? 'has' : 'lacks'} a 'mask'`);
    this.#weights = weights;
    this.#mask = mask;
  }

  #requireLayout(): ParamLayout {
    if (!this.#layout) throw new InvalidArgumentError(`${this.name}: initialize() must be called before the first round`);
    return this.#layout;
  }
}

/**
 * In place on `next`: when more than ⌈fraction·K⌉ weights (K = kept entries of `next`) would
 * re-enter (inside `next`, outside `previous`), only that many of the largest |w| do; their places
 * go back to the largest-|w| weights that were leaving. Ties by lower index, like the masks.
 * Returns how many re-enter.
 */
export function capReentering(weights: Float32Array, previous: Uint8Array, next: Uint8Array, prunable: readonly Segment[], fraction: number): number {
  const entering: number[] = [];
  const leaving: number[] = [];
  let kept = 0;
  for (const s of prunable) {
    for (let i = s.offset; i < s.offset + s.size; i++) {
      if (next[i]) { kept++; if (!previous[i]) entering.push(i); } else if (previous[i]) leaving.push(i);
    }
  }
  const cap = Math.ceil(fraction * kept);
  if (entering.length <= cap) return entering.length;
  const byMagnitude = (a: number, b: number) => Math.abs(weights[b]!) - Math.abs(weights[a]!) || a - b;
  entering.sort(byMagnitude);
  leaving.sort(byMagnitude);
  for (let j = cap; j < entering.length; j++) next[entering[j]!] = 0;
  // There are always enough: the mask shrinks or keeps its size, so leaving ≥ entering.
  for (let j = 0; j < Math.min(entering.length - cap, leaving.length); j++) next[leaving[j]!] = 1;
  return cap;
}

/**
 * In place: every weight inside `next` but outside `previous` (re-entering the mask) gets its
 * magnitude clipped to τ, the smallest magnitude among the weights inside both masks; signs are
 * kept. Returns how many re-entered and τ (Infinity when no weight stayed, in which case nothing is
 * clipped). Clipping cannot push a re-entering weight below any staying one, so the mask is still
 * the magnitude mask of the clipped weights (ties aside).
 */
export function clipReentering(weights: Float32Array, previous: Uint8Array, next: Uint8Array, prunable: readonly Segment[]): { reentered: number; tau: number } {
  let tau = Infinity;
  for (const s of prunable) {
    for (let i = s.offset; i < s.offset + s.size; i++) if (previous[i] && next[i]) tau = Math.min(tau, Math.abs(weights[i]!));
  }
  let reentered = 0;
  for (const s of prunable) {
    for (let i = s.offset; i < s.offset + s.size; i++) {
      if (!next[i] || previous[i]) continue;
      reentered++;
      const w = weights[i]!;
      if (Math.abs(w) > tau) weights[i] = w < 0 ? -tau : tau;
    }
  }
  return { reentered, tau };
}

export const feddip = (o: Partial<FedDipOptions> = {}) => new FedDip('feddip', o);
export const feddipNoIr = (o: Partial<FedDipOptions> = {}) => new FedDip('feddip-noir', { ...o, regularize: false });
export const fedavg = (o: Partial<FedDipOptions> = {}) => new FedDip('fedavg', { ...o, prune: false, regularize: false, uplink: 'dense' });
