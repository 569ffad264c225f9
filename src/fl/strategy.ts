// What an aggregator decides each round — the strategy — in the shape Flower made familiar:
// configure a round, aggregate its results *and its failures*, say which model to evaluate. A new
// method is one class implementing this interface.
import { InvalidArgumentError } from '../errors.ts';
import type { ParamLayout } from '../nn/layout.ts';
import type { Rng } from '../util/rng.ts';
import type { ClientFailure, ClientResult, ClientState, ClientTask } from './types.ts';

export interface RoundPlan {
  /** Clients chosen for this round (ids in 0 … clients−1). */
  clients: number[];
  /** The task each of them gets. */
  task: ClientTask;
  /** The sparsity the schedule asks for this round (0 for dense methods). */
  targetSparsity: number;
  /** Per-client memory handed over with the task (`task.state`), by client id; never on the wire. */
  states?: ReadonlyMap<number, ClientState>;
  /**
   * An exchange to run before this round's training: `task` is sent to `clients`, their results go
   * to the strategy's afterSetup, which returns the plan that replaces this one (and may ask for
   * another exchange). E.g. SNIP's one-batch sensitivity or PruneFL's initial pruning on one client.
   */
  setup?: { clients: number[]; task: ClientTask };
}

/** What one round cost as the public FedDIP code counts it (spec §4), in bits. */
export interface ReferenceBits {
  down: number;
  up: number;
}

export interface Strategy {
  readonly name: string;
  /** Called once with the model's layout and its initial weights. */
  initialize(layout: ParamLayout, initial: Float32Array): void;
  /** Chooses the clients of round `round` and what they are sent. */
  configureRound(round: number, clientCount: number, rng: Rng): RoundPlan;
  /** Folds the round's results into the global state; failed clients are only reported. */
  aggregate(round: number, results: readonly ClientResult[], failures: readonly ClientFailure[]): void;
  /**
   * aggregate() for methods that need nothing of the results but their weighted mean: no client
   * statistics, states or per-upload accounting. Its effect must equal aggregate()'s on the same
   * results. An aggregator that sees it folds each update into one accumulator as it arrives and
   * keeps none of them, so its memory does not grow with the number of clients.
   */
  aggregateMean?(round: number, folded: FoldedUpdates, failures: readonly ClientFailure[]): void;
  /** The model a user would deploy now (M⊙W for pruned methods), and its mask. */
  deployed(): { weights: Float32Array; mask: Uint8Array | null };
  /** Called with the results of a plan's `setup` exchange; returns the plan that replaces it. */
  afterSetup?(round: number, results: readonly ClientResult[], failures: readonly ClientFailure[]): RoundPlan;
  /** The communication of the round just aggregated as the reference code accounts it, if the method reports it. */
  referenceBits?(round: number): ReferenceBits;
  /**
   * Everything aggregate() has accumulated, for a checkpoint (arrays are copies). Methods that
   * implement it (and importState) can run behind a resumable HTTP aggregator.
   */
  exportState?(): StrategyState;
  /** Restores exportState()'s result; initialize() must have run (it fixes the layout). */
  importState?(state: StrategyState): void;
}

/** A round's updates folded into one: what aggregateMean() receives. */
export interface FoldedUpdates {
  /** Σ_k p_k·Δ_k / Σ_k p_k over the contributors (p_k = samples), full length. */
  mean: Float32Array;
  /** Σ_k p_k. */
  samples: number;
  /** The clients folded in, ascending. */
  contributors: readonly number[];
}

/**
 * A strategy's state as a checkpoint stores it: JSON-safe scalars, and the big vectors apart as
 * typed arrays so they are written as raw bytes rather than JSON numbers.
 */
export interface StrategyState {
  /** The strategy's name, so a checkpoint is never loaded into another method. */
  name: string;
  json: Record<string, unknown>;
  arrays: Record<string, Float32Array | Uint8Array>;
}

/** m = max(1, round(C·N)) clients drawn uniformly without replacement, in ascending order. */
export function selectClients(clientCount: number, fraction: number, rng: Rng): number[] {
  const m = Math.max(1, Math.min(clientCount, Math.round(fraction * clientCount)));
  return rng.sample(clientCount, m).sort((a, b) => a - b);
}

/** W ← W + mean, for aggregateMean(); nothing happens when no one contributed. */
export function applyMeanUpdate(weights: Float32Array, folded: FoldedUpdates): void {
  if (folded.samples <= 0 || folded.contributors.length === 0) return;
  const m = folded.mean;
  if (m.length !== weights.length) throw new InvalidArgumentError(`aggregateMean: the mean has ${m.length} entries, the model ${weights.length}`);
  for (let i = 0; i < m.length; i++) weights[i] = weights[i]! + m[i]!;
}

/** W ← W + Σ_k p_k·Δ_k / Σ_k p_k over the results (p_k = samples). Nothing happens without results. */
export function applyWeightedUpdates(weights: Float32Array, results: readonly ClientResult[]): void {
  const total = results.reduce((n, r) => n + r.samples, 0);
  if (total <= 0) return;
  for (const r of results) {
    const p = r.samples / total;
    const u = r.update;
    for (let i = 0; i < u.length; i++) weights[i] = weights[i]! + p * u[i]!;
  }
}
