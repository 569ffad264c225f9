// FedDIP as the public PyTorch code runs it (spec §4), so results can be set beside the reference's.
//
// Round 0 has no global mask: every selected client draws its own random ERK mask at density
// 1 − s_0, trains with error feedback against it and uploads its dense weights; the server averages
// them unmasked. From round 1 clients train under the server mask (error feedback again) and upload
// dense weights; the server averages, multiplies by the mask the round used, and at t % R == 0
// computes the next mask from that already-masked average. A pruned weight is therefore zero in
// every later average and can never re-enter: the masks are nested. λ follows the reference's
// off-by-one ramp. Besides the measured frame bytes it reports the reference's own accounting.
import type { ParamLayout } from '../../nn/layout.ts';
import { globalMagnitudeMask } from '../../sparse/masks.ts';
import { cubicSparsity, incrementalLambda, isReconfigRound } from '../../sparse/schedules.ts';
import type { Rng } from '../../util/rng.ts';
import { applyWeightedUpdates, type ReferenceBits, type RoundPlan, selectClients, type Strategy, type StrategyState } from '../strategy.ts';
import type { ClientFailure, ClientResult } from '../types.ts';
import { applyMaskInPlace, baseConfig, exportedState, masked, methodOptions, type MethodOptions, requireLayout, StateReader } from './common.ts';

/** Bits the reference charges for one model at sparsity s: int(32·(1−s)·n), n = parameters. */
export function referenceModelBits(sparsity: number, parameters: number): number {
  return Math.floor(32 * (1 - sparsity) * parameters);
}

export class FedDipReference implements Strategy {
  readonly name = 'feddip-reference';
  readonly options: MethodOptions;
  #layout: ParamLayout | undefined;
  /** The global weights: after round 0 always the average masked by the mask its round used. */
  #weights = new Float32Array(0);
  #mask: Uint8Array | null = null;
  /** What the current round sent, its clients and scheduled sparsity (for aggregate and accounting). */
  #round: { sent: Float32Array; clients: number; sparsity: number } | undefined;
  #bits: ReferenceBits | undefined;

  constructor(options: Partial<MethodOptions> = {}) {
    this.options = methodOptions({ ...options, prune: true, lambdaMode: 'reference', uplink: 'dense' });
  }

  initialize(layout: ParamLayout, initial: Float32Array): void {
    layout.checkVector(initial, 'initial weights');
    this.#layout = layout;
    this.#weights = initial.slice();
    this.#mask = null;
    this.#round = undefined;
    this.#bits = undefined;
  }

  targetSparsity(round: number): number {
    return cubicSparsity(round, this.options.rounds, this.options.initSparsity, this.options.sparsity);
  }

  configureRound(round: number, clientCount: number, rng: Rng): RoundPlan {
    requireLayout(this.name, this.#layout);
    const o = this.options;
    const s = this.targetSparsity(round);
    const config = baseConfig(o, round);
    if (o.regularize) config.lambda = incrementalLambda(round, o.rounds, { lambda0: o.lambda0, lambdaMax: o.lambdaMax, Q: o.lambdaSegments, mode: 'reference' });
    // Before the first server mask each client prunes with a random ERK mask of its own.
    if (!this.#mask) config.randomMaskDensity = 1 - o.initSparsity;
    const clients = selectClients(clientCount, o.fraction, rng);
    const { weights, mask } = this.deployed();
    this.#round = { sent: weights, clients: clients.length, sparsity: s };
    return { clients, task: { config, weights, mask }, targetSparsity: s };
  }

  aggregate(round: number, results: readonly ClientResult[], _failures: readonly ClientFailure[] = []): void {
    const layout = requireLayout(this.name, this.#layout);
    const sent = this.#round?.sent ?? this.deployed().weights;
    // Uploads are dense models W_k; sent + Σ p_k·Δ_k is their weighted average.
    const average = sent.slice();
    applyWeightedUpdates(average, results);
    if (this.#mask) applyMaskInPlace(average, this.#mask);
    this.#weights = average;
    if (isReconfigRound(round, this.options.reconfig)) {
      const next = globalMagnitudeMask(average, layout.segments, this.#round?.sparsity ?? this.targetSparsity(round));
      // The average is already zero outside the old mask, so the new mask lies inside it unless a
      // tie among zeros kept an outside entry; intersecting makes the nesting exact.
      if (this.#mask) for (let i = 0; i < next.length; i++) next[i] = next[i]! & this.#mask[i]!;
      this.#mask = next;
    }
    this.#bits = this.#accounting(sent, results);
  }

  /**
   * The reference charges each selected client a download at the scheduled s_t and each upload at
   * the mean sparsity of the uploaded models (measured over all parameters, as its
   * compute_sparsity); with error feedback those are dense, so uploads cost about 32·n bits.
   */
  #accounting(sent: Float32Array, results: readonly ClientResult[]): ReferenceBits {
    const layout = this.#layout!;
    const n = layout.parameterCount;
    const down = (this.#round?.clients ?? 0) * referenceModelBits(this.#round?.sparsity ?? 0, n);
    if (!results.length) return { down, up: 0 };
    let sparsitySum = 0;
    for (const r of results) {
      let zeros = 0;
      for (const seg of layout.trainable) {
        for (let i = seg.offset; i < seg.offset + seg.size; i++) if (sent[i]! + r.update[i]! === 0) zeros++;
      }
      sparsitySum += zeros / n;
    }
    return { down, up: results.length * referenceModelBits(sparsitySum / results.length, n) };
  }

  referenceBits(_round: number): ReferenceBits {
    return this.#bits ?? { down: 0, up: 0 };
  }

  deployed(): { weights: Float32Array; mask: Uint8Array | null } {
    return { weights: masked(this.#weights, this.#mask), mask: this.#mask?.slice() ?? null };
  }

  /**
   * The averaged weights and the nested mask. What a round sent and its accounting are left out:
   * an aggregator resumes at a round boundary and configureRound() sets them afresh. (No
   * aggregateMean: the reference's accounting needs every upload's own sparsity.)
   */
  exportState(): StrategyState {
    return exportedState(this.name, requireLayout(this.name, this.#layout), {}, { weights: this.#weights, mask: this.#mask });
  }

  importState(state: StrategyState): void {
    const r = new StateReader(this.name, requireLayout(this.name, this.#layout), state);
    const weights = r.vector('weights');
    const mask = r.mask('mask', true);
    this.#weights = weights;
    this.#mask = mask;
    this.#round = undefined;
    this.#bits = undefined;
  }

  /** The current global mask (a copy), or null before the first one. */
  mask(): Uint8Array | null {
    return this.#mask?.slice() ?? null;
  }
}

export const feddipReference = (o: Partial<MethodOptions> = {}) => new FedDipReference(o);
