// PruneTrain, federated (Lym et al.; spec §5), as the reference script means it (the script itself
// stops after round 0).
//
// Local training adds a group-lasso penalty 0.01·‖W_l‖₂ (unsquared, per layer) on every prunable
// layer but the first and the last, on top of weight decay. The first and last layers are never
// pruned; the others are pruned together by global magnitude at s_t — so s_t is the sparsity of
// those layers, and the target over all of P is lower — twice a round: by each client after its
// local training, and by the server after averaging. Clients train under the mask they receive
// with pruned weights held at 0: PruneTrain removes what it prunes from the model, it does not
// let it grow back (the reference script's local loop did not mask, one of the reasons it is
// broken). Masks are nested: the server's new mask lies inside the old one.
import type { ParamLayout } from '../../nn/layout.ts';
import { globalMagnitudeMask } from '../../sparse/masks.ts';
import { prunedCount } from '../../sparse/round.ts';
import { cubicSparsity } from '../../sparse/schedules.ts';
import type { Rng } from '../../util/rng.ts';
import {
  applyMeanUpdate, applyWeightedUpdates, type FoldedUpdates, type RoundPlan, selectClients, type Strategy, type StrategyState,
} from '../strategy.ts';
import type { ClientFailure, ClientResult, LocalConfig } from '../types.ts';
import { applyMaskInPlace, baseConfig, exportedState, methodOptions, type MethodOptions, requireLayout, StateReader } from './common.ts';

export class PruneTrain implements Strategy {
  readonly name = 'prunetrain';
  readonly options: MethodOptions;
  #layout: ParamLayout | undefined;
  /** Names of the first and last prunable segments (kept dense, not penalised). */
  #keepDense: string[] = [];
  /** The group-lasso coefficient of each prunable segment. */
  #lambdas: number[] = [];
  /** Elements of the prunable segments between the first and the last (those that are pruned). */
  #prunedSize = 0;
  /** Global weights, zero outside the mask. */
  #weights = new Float32Array(0);
  #mask: Uint8Array | null = null;

  constructor(options: Partial<MethodOptions> = {}) {
    this.options = methodOptions(options);
  }

  initialize(layout: ParamLayout, initial: Float32Array): void {
    layout.checkVector(initial, 'initial weights');
    this.#layout = layout;
    const prunable = layout.prunable;
    const last = prunable.length - 1;
    this.#keepDense = [...new Set([prunable[0]?.name, prunable[last]?.name].filter((n): n is string => n !== undefined))];
    this.#lambdas = prunable.map((_, l) => (l === 0 || l === last ? 0 : this.options.groupLasso));
    this.#prunedSize = prunable.filter((_, l) => l !== 0 && l !== last).reduce((n, s) => n + s.size, 0);
    this.#weights = initial.slice();
    this.#mask = null;
  }

  /** s_t of the cubic schedule: the sparsity of the layers that are pruned. */
  targetSparsity(round: number): number {
    return cubicSparsity(round, this.options.rounds, this.options.initSparsity, this.options.sparsity);
  }

  configureRound(round: number, clientCount: number, rng: Rng): RoundPlan {
    const layout = requireLayout(this.name, this.#layout);
    const s = this.targetSparsity(round);
    const config: LocalConfig = {
      ...baseConfig(this.options, round),
      lambda: this.options.groupLasso, layerLambdas: [...this.#lambdas],
      hardMask: true, uplink: 'masked',
      pruneAfter: { sparsity: s, keepDense: [...this.#keepDense] },
    };
    // Reported over all of P (what the measured `sparsity` is): only the middle layers are pruned.
    const overP = layout.prunableSize ? prunedCount(s, this.#prunedSize) / layout.prunableSize : 0;
    return { clients: selectClients(clientCount, this.options.fraction, rng), task: { config, ...this.deployed() }, targetSparsity: overP };
  }

  aggregate(round: number, results: readonly ClientResult[], _failures: readonly ClientFailure[] = []): void {
    applyWeightedUpdates(this.#weights, results);
    this.#prune(round);
  }

  aggregateMean(round: number, folded: FoldedUpdates, _failures: readonly ClientFailure[] = []): void {
    applyMeanUpdate(this.#weights, folded);
    this.#prune(round);
  }

  /** The server's pruning after averaging: s_t over the middle layers, inside the old mask. */
  #prune(round: number): void {
    const layout = requireLayout(this.name, this.#layout);
    const dense = new Set(this.#keepDense);
    const segments = layout.segments.map((s) => (dense.has(s.name) ? { ...s, prunable: false } : s));
    const next = globalMagnitudeMask(this.#weights, segments, this.targetSparsity(round));
    if (this.#mask) for (let i = 0; i < next.length; i++) next[i] = next[i]! & this.#mask[i]!;
    this.#mask = next;
    applyMaskInPlace(this.#weights, next);
  }

  deployed(): { weights: Float32Array; mask: Uint8Array | null } {
    return { weights: this.#weights.slice(), mask: this.#mask?.slice() ?? null };
  }

  exportState(): StrategyState {
    return exportedState(this.name, requireLayout(this.name, this.#layout), {}, { weights: this.#weights, mask: this.#mask });
  }

  importState(state: StrategyState): void {
    const r = new StateReader(this.name, requireLayout(this.name, this.#layout), state);
    const weights = r.vector('weights');
    const mask = r.mask('mask', true);
    this.#weights = weights;
    this.#mask = mask;
  }

  /** The prunable layers that are never pruned nor penalised (the first and the last). */
  denseLayers(): string[] {
    return [...this.#keepDense];
  }
}

export const prunetrain = (o: Partial<MethodOptions> = {}) => new PruneTrain(o);
