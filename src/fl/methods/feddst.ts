// FedDST (Bibikar et al.; spec §5): dynamic sparse training at a fixed budget, each client with a
// mask of its own.
//
// From the start the model is sparse at the final density: one random mask with ERK layer budgets
// (the same for every client at first), each layer's surviving weights scaled up by 1/√density so
// the signal keeps its dense-initialisation variance (option rescaleInit). A client trains under *its* mask with the mask enforced
// after every step. In rounds with (t+1) % R == 0 (R = 20; the reference's timing, the last round
// of each period) it then readjusts that mask per layer: it drops ⌈f_t·active⌉ active weights of
// smallest magnitude and grows as many inactive ones of largest gradient magnitude, with
// f_t = α/2·(1+cos(πt/T)), α = 0.5, and keeps the new mask for its next round. The server averages
// the sparse client models and re-imposes the per-layer ERK budgets by magnitude, which gives the
// global (deployed) mask. Client masks are client memory: a real client keeps its own; here the
// strategy keeps them bit-packed per client id and hands each to its client with the task.
import { InvalidArgumentError } from '../../errors.ts';
import type { ParamLayout } from '../../nn/layout.ts';
import { packBits, unpackBits } from '../../sparse/bitmask.ts';
import { erkDensities, keepLargestPerLayer, randomMask } from '../../sparse/masks.ts';
import { cosineAnneal } from '../../sparse/schedules.ts';
import type { Rng } from '../../util/rng.ts';
import { applyWeightedUpdates, type RoundPlan, selectClients, type Strategy, type StrategyState } from '../strategy.ts';
import type { ClientFailure, ClientResult, ClientState, LocalConfig } from '../types.ts';
import { applyMaskInPlace, baseConfig, exportedState, methodOptions, type MethodOptions, requireLayout, StateReader } from './common.ts';

export class FedDst implements Strategy {
  readonly name = 'feddst';
  readonly options: MethodOptions;
  #layout: ParamLayout | undefined;
  /** Per-layer ERK budgets: kept entries of each prunable segment, flat order. */
  #budgets: number[] = [];
  #densities: number[] = [];
  /** Global weights, zero outside the global mask. */
  #weights = new Float32Array(0);
  #mask: Uint8Array | null = null;
  /** The mask every client starts from, packed. */
  #initialMask: Uint32Array | null = null;
  /** Each client's own mask once it has readjusted one, packed. */
  readonly #clientMasks = new Map<number, Uint32Array>();

  constructor(options: Partial<MethodOptions> = {}) {
    this.options = methodOptions(options, { reconfig: 20 });
  }

  initialize(layout: ParamLayout, initial: Float32Array): void {
    layout.checkVector(initial, 'initial weights');
    this.#layout = layout;
    const erk = erkDensities(layout.prunable.map((s) => s.shape), 1 - this.options.sparsity);
    this.#budgets = erk.keptCounts;
    this.#densities = erk.layerDensities;
    this.#weights = initial.slice();
    this.#mask = null;
    this.#initialMask = null;
    this.#clientMasks.clear();
  }

  /** Fraction of each layer's active weights a client drops and regrows at a readjustment in round t. */
  dropFraction(round: number): number {
    return cosineAnneal(round, this.options.rounds, this.options.alpha);
  }

  /** Whether clients readjust their masks after training in round t: the last round of every R. */
  isReadjustRound(round: number): boolean {
    return (round + 1) % this.options.reconfig === 0;
  }

  configureRound(round: number, clientCount: number, rng: Rng): RoundPlan {
    const layout = requireLayout(this.name, this.#layout);
    if (!this.#mask) {
      // A stream forked off the selection generator: drawing from it leaves the selections alone.
      this.#mask = randomMask(layout.segments, this.#densities, rng.fork('feddst-initial-mask'), layout.size);
      this.#initialMask = packBits(this.#mask);
      applyMaskInPlace(this.#weights, this.#mask);
      if (this.options.rescaleInit) {
        layout.prunable.forEach((s, l) => {
          const scale = 1 / Math.sqrt(this.#densities[l]!);
          for (let i = s.offset; i < s.offset + s.size; i++) this.#weights[i] = this.#weights[i]! * scale;
        });
      }
    }
    const clients = selectClients(clientCount, this.options.fraction, rng);
    const config: LocalConfig = { ...baseConfig(this.options, round), hardMask: true, uplink: 'nonzero' };
    if (this.isReadjustRound(round)) config.readjust = { fraction: this.dropFraction(round) };
    const states = new Map<number, ClientState>(clients.map((id) => [id, { mask: this.clientMask(id) }]));
    return { clients, task: { config, ...this.deployed() }, targetSparsity: this.options.sparsity, states };
  }

  aggregate(_round: number, results: readonly ClientResult[], _failures: readonly ClientFailure[] = []): void {
    const layout = requireLayout(this.name, this.#layout);
    // Updates are lossless (every changed entry is sent), so this is Σ p_k·W_k of the sparse client models.
    applyWeightedUpdates(this.#weights, results);
    for (const r of results) {
      if (!r.state?.mask) continue;
      layout.checkVector(r.state.mask, `mask of client ${r.clientId}`);
      this.#clientMasks.set(r.clientId, packBits(r.state.mask));
    }
    this.#mask = keepLargestPerLayer(this.#weights, layout.segments, this.#budgets);
    applyMaskInPlace(this.#weights, this.#mask);
  }

  deployed(): { weights: Float32Array; mask: Uint8Array | null } {
    return { weights: this.#weights.slice(), mask: this.#mask?.slice() ?? null };
  }

  /** The mask client `id` trains under next (its own, or the initial one if it has not readjusted yet). */
  clientMask(id: number): Uint8Array {
    const layout = requireLayout(this.name, this.#layout);
    const packed = this.#clientMasks.get(id) ?? this.#initialMask;
    if (!packed) throw new InvalidArgumentError(`${this.name}: client masks exist from the first configureRound() on`);
    return unpackBits(packed, layout.size);
  }

  /**
   * The weights, the global mask, the initial mask and every client's own mask (unpacked: one byte
   * per entry, which the checkpoint stores raw). (No aggregateMean: client masks come back in the
   * results.)
   */
  exportState(): StrategyState {
    const layout = requireLayout(this.name, this.#layout);
    const arrays: Record<string, Float32Array | Uint8Array | null> = {
      weights: this.#weights, mask: this.#mask, initialMask: this.#initialMask && unpackBits(this.#initialMask, layout.size),
    };
    for (const [id, packed] of this.#clientMasks) arrays[`clientMask.${id}`] = unpackBits(packed, layout.size);
    return exportedState(this.name, layout, {}, arrays);
  }

  importState(state: StrategyState): void {
    const r = new StateReader(this.name, requireLayout(this.name, this.#layout), state);
    const weights = r.vector('weights');
    const mask = r.mask('mask', true);
    const initialMask = r.mask('initialMask', true);
    if ((mask === null) !== (initialMask === null)) r.fail("'mask' and 'initialMask' exist together (from the first round on) or not at all");
    const clientMasks = r.perClient('clientMask.', (key) => packBits(r.mask(key)));
    this.#weights = weights;
    this.#mask = mask;
    this.#initialMask = initialMask && packBits(initialMask);
    this.#clientMasks.clear();
    for (const [id, packed] of clientMasks) this.#clientMasks.set(id, packed);
  }

  /** Kept entries per prunable layer (ERK at the final density), flat order. */
  budgets(): number[] {
    return [...this.#budgets];
  }
}

export const feddst = (o: Partial<MethodOptions> = {}) => new FedDst(o);
