// SNIP, federated (spec §5): a one-shot mask before any training, then FedAvg under it.
//
// Before round 0's training the first selected client computes the connection sensitivity
// |∂L/∂m| = |g⊙w| of the initial weights on its first minibatch (its seeded shuffle) and reports
// it; the server keeps the global top-(1−s_p) as the mask for the whole run. Clients then train
// with the mask enforced after every local step (pruned weights are exactly 0, no error feedback)
// and upload the update inside the mask; the server averages. Should the probed client fail, the
// next selected client is asked instead.
import { FeddipError, InvalidArgumentError } from '../../errors.ts';
import type { ParamLayout } from '../../nn/layout.ts';
import { globalMagnitudeMask } from '../../sparse/masks.ts';
import type { Rng } from '../../util/rng.ts';
import {
  applyMeanUpdate, applyWeightedUpdates, type FoldedUpdates, type RoundPlan, selectClients, type Strategy, type StrategyState,
} from '../strategy.ts';
import type { ClientFailure, ClientResult, ClientTask } from '../types.ts';
import { applyMaskInPlace, baseConfig, exportedState, methodOptions, type MethodOptions, requireLayout, StateReader } from './common.ts';

export class Snip implements Strategy {
  readonly name = 'snip';
  readonly options: MethodOptions;
  #layout: ParamLayout | undefined;
  /** Global weights; zero outside the mask once it exists. */
  #weights = new Float32Array(0);
  #mask: Uint8Array | null = null;
  /** Round 0's selection while the mask is being computed: the clients still to ask, in order. */
  #probe: { clients: number[]; candidates: number[] } | undefined;

  constructor(options: Partial<MethodOptions> = {}) {
    this.options = methodOptions(options);
  }

  initialize(layout: ParamLayout, initial: Float32Array): void {
    layout.checkVector(initial, 'initial weights');
    this.#layout = layout;
    this.#weights = initial.slice();
    this.#mask = null;
    this.#probe = undefined;
  }

  configureRound(round: number, clientCount: number, rng: Rng): RoundPlan {
    requireLayout(this.name, this.#layout);
    const clients = selectClients(clientCount, this.options.fraction, rng);
    if (this.#mask) return this.#plan(round, clients);
    this.#probe = { clients, candidates: [...clients] };
    return this.#probePlan(round);
  }

  afterSetup(round: number, results: readonly ClientResult[], failures: readonly ClientFailure[]): RoundPlan {
    const layout = requireLayout(this.name, this.#layout);
    const probe = this.#probe;
    if (!probe) throw new InvalidArgumentError(`${this.name}: afterSetup() without a pending sensitivity probe`);
    const scores = results[0]?.extras?.sensitivity;
    if (!scores) {
      probe.candidates.shift();
      if (!probe.candidates.length) throw new FeddipError('CLIENT_ERROR', `${this.name}: none of round ${round}'s clients could report its sensitivity (last: ${failures.map((f) => `client ${f.clientId}: ${f.reason}`).join('; ') || 'no result'})`);
      return this.#probePlan(round);
    }
    layout.checkVector(scores, 'sensitivity');
    this.#mask = globalMagnitudeMask(scores, layout.segments, this.options.sparsity);
    applyMaskInPlace(this.#weights, this.#mask);
    this.#probe = undefined;
    return this.#plan(round, probe.clients);
  }

  #probePlan(round: number): RoundPlan {
    const task: ClientTask = { config: { ...baseConfig(this.options, round), mode: 'sensitivity' }, weights: this.#weights.slice(), mask: null };
    // `task` stands in until afterSetup returns the round's real plan.
    return { clients: this.#probe!.clients, task, targetSparsity: this.options.sparsity, setup: { clients: [this.#probe!.candidates[0]!], task } };
  }

  #plan(round: number, clients: number[]): RoundPlan {
    const config = { ...baseConfig(this.options, round), hardMask: true, uplink: 'masked' as const };
    return { clients, task: { config, ...this.deployed() }, targetSparsity: this.options.sparsity };
  }

  aggregate(_round: number, results: readonly ClientResult[], _failures: readonly ClientFailure[] = []): void {
    applyWeightedUpdates(this.#weights, results);
  }

  aggregateMean(_round: number, folded: FoldedUpdates, _failures: readonly ClientFailure[] = []): void {
    applyMeanUpdate(this.#weights, folded);
  }

  /** The weights and the one-shot mask; a probe still pending (between rounds there is none) too. */
  exportState(): StrategyState {
    return exportedState(this.name, requireLayout(this.name, this.#layout), { probe: this.#probe ?? null }, { weights: this.#weights, mask: this.#mask });
  }

  importState(state: StrategyState): void {
    const r = new StateReader(this.name, requireLayout(this.name, this.#layout), state);
    const weights = r.vector('weights');
    const mask = r.mask('mask', true);
    const probe = r.json.probe as { clients?: unknown; candidates?: unknown } | null | undefined;
    let pending: { clients: number[]; candidates: number[] } | undefined;
    if (probe) {
      const check = (v: unknown) => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0);
      if (!check(probe.clients) || !check(probe.candidates)) r.fail("'probe' must hold two lists of client ids");
      pending = { clients: [...probe.clients as number[]], candidates: [...probe.candidates as number[]] };
    }
    this.#weights = weights;
    this.#mask = mask;
    this.#probe = pending;
  }

  deployed(): { weights: Float32Array; mask: Uint8Array | null } {
    return { weights: this.#weights.slice(), mask: this.#mask?.slice() ?? null };
  }

  /** The one-shot mask (a copy), or null before it is computed. */
  mask(): Uint8Array | null {
    return this.#mask?.slice() ?? null;
  }
}

export const snip = (o: Partial<MethodOptions> = {}) => new Snip(o);
