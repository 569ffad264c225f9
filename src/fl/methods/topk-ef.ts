// FedAvg with top-k sparsified updates and error feedback (the classic compression baseline,
// spec §5; Stich et al. 2018, Lin et al. "Deep Gradient Compression").
//
// The model stays dense. Each client sends only the largest-|v| prunable entries of
// v = Δ + e at density 1 − s_p (biases and other small tensors always), and keeps what it did not
// send, e ← v − sent, adding it to its next update: nothing is lost, only delayed. The residual is
// client memory; the strategy keeps one full-length vector per client that has taken part (N·n
// floats in one process — the price of simulating stateful clients) and hands it back with the
// client's next task. The server averages the sparse updates as FedAvg does.
import type { ParamLayout } from '../../nn/layout.ts';
import type { Rng } from '../../util/rng.ts';
import {
  applyMeanUpdate, applyWeightedUpdates, type FoldedUpdates, type RoundPlan, selectClients, type Strategy, type StrategyState,
} from '../strategy.ts';
import type { ClientFailure, ClientResult, ClientState } from '../types.ts';
import { baseConfig, exportedState, methodOptions, type MethodOptions, requireLayout, StateReader } from './common.ts';

export class TopkEf implements Strategy {
  readonly name = 'topk-ef';
  readonly options: MethodOptions;
  #layout: ParamLayout | undefined;
  #weights = new Float32Array(0);
  readonly #residuals = new Map<number, Float32Array>();

  constructor(options: Partial<MethodOptions> = {}) {
    this.options = methodOptions(options);
  }

  initialize(layout: ParamLayout, initial: Float32Array): void {
    layout.checkVector(initial, 'initial weights');
    this.#layout = layout;
    this.#weights = initial.slice();
    this.#residuals.clear();
  }

  configureRound(round: number, clientCount: number, rng: Rng): RoundPlan {
    requireLayout(this.name, this.#layout);
    const config = { ...baseConfig(this.options, round), uplink: 'topk' as const, uplinkDensity: 1 - this.options.sparsity, uplinkResidual: true };
    const clients = selectClients(clientCount, this.options.fraction, rng);
    const states = new Map<number, ClientState>();
    for (const id of clients) {
      const residual = this.#residuals.get(id);
      if (residual) states.set(id, { residual });
    }
    // The model is dense: the sparsity is the uplink's, not the model's.
    return { clients, task: { config, weights: this.#weights.slice(), mask: null }, targetSparsity: 0, states };
  }

  aggregate(_round: number, results: readonly ClientResult[], _failures: readonly ClientFailure[] = []): void {
    const layout = requireLayout(this.name, this.#layout);
    applyWeightedUpdates(this.#weights, results);
    for (const r of results) {
      if (!r.state?.residual) continue;
      layout.checkVector(r.state.residual, `residual of client ${r.clientId}`);
      this.#residuals.set(r.clientId, r.state.residual);
    }
  }

  /**
   * Results from remote clients carry no state (each keeps its own residual), so over the network
   * the mean is all aggregate() would use.
   */
  aggregateMean(_round: number, folded: FoldedUpdates, _failures: readonly ClientFailure[] = []): void {
    applyMeanUpdate(this.#weights, folded);
  }

  deployed(): { weights: Float32Array; mask: Uint8Array | null } {
    return { weights: this.#weights.slice(), mask: null };
  }

  /** The weights and the residuals this process keeps for its clients (one vector per client that took part). */
  exportState(): StrategyState {
    const arrays: Record<string, Float32Array> = { weights: this.#weights };
    for (const [id, residual] of this.#residuals) arrays[`residual.${id}`] = residual;
    return exportedState(this.name, requireLayout(this.name, this.#layout), {}, arrays);
  }

  importState(state: StrategyState): void {
    const r = new StateReader(this.name, requireLayout(this.name, this.#layout), state);
    const weights = r.vector('weights');
    const residuals = r.perClient('residual.', (key) => r.vector(key));
    this.#weights = weights;
    this.#residuals.clear();
    for (const [id, residual] of residuals) this.#residuals.set(id, residual);
  }

  /** What client `id` has not sent yet (a copy), or null if it has not taken part. */
  residual(id: number): Float32Array | null {
    return this.#residuals.get(id)?.slice() ?? null;
  }
}

export const topkEf = (o: Partial<MethodOptions> = {}) => new TopkEf(o);
