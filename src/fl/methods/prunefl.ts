// PruneFL (Jiang et al.; spec §5): adaptive pruning from gradient importance, sparse both ways.
//
// Initial pruning: before round 0's federated training, one client (the first of round 0's
// selection) trains on its own for `initialRounds` local trainings (default 3 — the spec's "a
// few"; the reference stops its initial phase by an accuracy test instead), and after each the
// server prunes to density ≥ 1 − s_0 by that client's importance. Then every round is FedAvg with
// the mask enforced after every local step and the update sent inside the mask; every R rounds
// (R = 20) the mask is recomputed from importance = mean over local steps of g², averaged over the
// clients with weights p_k, reported by the clients of the round just before. Importance is
// measured at the pruned point for every coordinate, pruned ones included, so pruned weights can
// come back; the server keeps their last value (it never zeroes its own copy, only what it sends).
// Selection is PruneFL's greedy one with every parameter costing the same: the most important
// first, until the density reaches at least 1 − s_t (⌊s_t·|P|⌋ weights pruned).
import { FeddipError, InvalidArgumentError } from '../../errors.ts';
import type { ParamLayout } from '../../nn/layout.ts';
import { globalMagnitudeMask } from '../../sparse/masks.ts';
import { cubicSparsity, isReconfigRound } from '../../sparse/schedules.ts';
import type { Rng } from '../../util/rng.ts';
import { applyWeightedUpdates, type RoundPlan, selectClients, type Strategy, type StrategyState } from '../strategy.ts';
import type { ClientFailure, ClientResult, ClientTask, LocalConfig } from '../types.ts';
import { baseConfig, exportedState, masked, methodOptions, type MethodOptions, requireLayout, StateReader, weightedMean } from './common.ts';

/** The most important prunable entries, at least a fraction 1 − s of them (⌊s·|P|⌋ pruned). */
export function importanceMask(importance: Float32Array, layout: ParamLayout, sparsity: number): Uint8Array {
  const n = layout.prunableSize;
  // globalMagnitudeMask prunes round(s'·n); s' = ⌊s·n⌋/n makes that exactly ⌊s·n⌋.
  return globalMagnitudeMask(importance, layout.segments, n ? Math.floor(sparsity * n) / n : 0);
}

export class PruneFl implements Strategy {
  readonly name = 'prunefl';
  readonly options: MethodOptions;
  #layout: ParamLayout | undefined;
  /** The server's dense copy: pruned entries keep their last value (never sent while pruned). */
  #weights = new Float32Array(0);
  #mask: Uint8Array | null = null;
  /** Importance reported in the round before a reconfiguration, not yet used. */
  #importance: Float32Array | null = null;
  /** The initial phase: round 0's selection, the clients that may still do it, steps done. */
  #initial: { clients: number[]; candidates: number[]; done: number } | undefined;

  constructor(options: Partial<MethodOptions> = {}) {
    this.options = methodOptions(options, { reconfig: 20 });
  }

  initialize(layout: ParamLayout, initial: Float32Array): void {
    layout.checkVector(initial, 'initial weights');
    this.#layout = layout;
    this.#weights = initial.slice();
    this.#mask = null;
    this.#importance = null;
    this.#initial = undefined;
  }

  targetSparsity(round: number): number {
    return cubicSparsity(round, this.options.rounds, this.options.initSparsity, this.options.sparsity);
  }

  configureRound(round: number, clientCount: number, rng: Rng): RoundPlan {
    const layout = requireLayout(this.name, this.#layout);
    const clients = selectClients(clientCount, this.options.fraction, rng);
    if (round === 0 && this.options.initialRounds > 0) {
      this.#initial = { clients, candidates: [...clients], done: 0 };
      return this.#initialPlan(round);
    }
    if (this.#importance && isReconfigRound(round, this.options.reconfig)) {
      this.#mask = importanceMask(this.#importance, layout, this.targetSparsity(round));
      this.#importance = null;
    }
    return this.#plan(round, clients);
  }

  afterSetup(round: number, results: readonly ClientResult[], failures: readonly ClientFailure[]): RoundPlan {
    const layout = requireLayout(this.name, this.#layout);
    const initial = this.#initial;
    if (!initial) throw new InvalidArgumentError(`${this.name}: afterSetup() outside the initial pruning`);
    const result = results[0];
    const importance = result?.extras?.gradSquares;
    if (!result || !importance) {
      // The pruning client dropped out: the next one of the selection carries on from here.
      initial.candidates.shift();
      if (!initial.candidates.length) {
        throw new FeddipError('CLIENT_ERROR', `${this.name}: no client of round ${round} could do the initial pruning (last: ${failures.map((f) => `client ${f.clientId}: ${f.reason}`).join('; ') || 'no importance reported'})`);
      }
      return this.#initialPlan(round);
    }
    applyWeightedUpdates(this.#weights, [result]);
    layout.checkVector(importance, 'importance');
    this.#mask = importanceMask(importance, layout, this.targetSparsity(round));
    if (++initial.done < this.options.initialRounds) return this.#initialPlan(round);
    this.#initial = undefined;
    return this.#plan(round, initial.clients);
  }

  #config(round: number, reportImportance: boolean): LocalConfig {
    return { ...baseConfig(this.options, round), hardMask: true, uplink: 'masked', gradSquares: reportImportance };
  }

  #initialPlan(round: number): RoundPlan {
    const initial = this.#initial!;
    const task: ClientTask = { config: this.#config(round, true), ...this.deployed() };
    // `task` stands in until the initial pruning is over and afterSetup returns the round's plan.
    return { clients: initial.clients, task, targetSparsity: this.targetSparsity(round), setup: { clients: [initial.candidates[0]!], task } };
  }

  #plan(round: number, clients: number[]): RoundPlan {
    // Importance is only needed from the round right before a reconfiguration.
    const report = isReconfigRound(round + 1, this.options.reconfig);
    return { clients, task: { config: this.#config(round, report), ...this.deployed() }, targetSparsity: this.targetSparsity(round) };
  }

  aggregate(_round: number, results: readonly ClientResult[], _failures: readonly ClientFailure[] = []): void {
    const layout = requireLayout(this.name, this.#layout);
    applyWeightedUpdates(this.#weights, results);
    const importance = weightedMean(results, (r) => r.extras?.gradSquares, layout);
    if (importance) this.#importance = importance;
  }

  deployed(): { weights: Float32Array; mask: Uint8Array | null } {
    return { weights: masked(this.#weights, this.#mask), mask: this.#mask?.slice() ?? null };
  }

  /**
   * The dense weights, the mask, importance waiting for the next reconfiguration, and an initial
   * pruning still under way. (No aggregateMean: the importance is a per-client statistic.)
   */
  exportState(): StrategyState {
    return exportedState(this.name, requireLayout(this.name, this.#layout), { initial: this.#initial ?? null },
      { weights: this.#weights, mask: this.#mask, importance: this.#importance });
  }

  importState(state: StrategyState): void {
    const r = new StateReader(this.name, requireLayout(this.name, this.#layout), state);
    const weights = r.vector('weights');
    const mask = r.mask('mask', true);
    const importance = r.vector('importance', true);
    const initial = r.json.initial as { clients?: unknown; candidates?: unknown; done?: unknown } | null | undefined;
    let pending: { clients: number[]; candidates: number[]; done: number } | undefined;
    if (initial) {
      const check = (v: unknown) => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0);
      if (!check(initial.clients) || !check(initial.candidates) || !Number.isSafeInteger(initial.done)) r.fail("'initial' must hold two lists of client ids and a count");
      pending = { clients: [...initial.clients as number[]], candidates: [...initial.candidates as number[]], done: initial.done as number };
    }
    this.#weights = weights;
    this.#mask = mask;
    this.#importance = importance;
    this.#initial = pending;
  }

  mask(): Uint8Array | null {
    return this.#mask?.slice() ?? null;
  }
}

export const prunefl = (o: Partial<MethodOptions> = {}) => new PruneFl(o);
