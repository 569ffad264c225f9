// What the baselines share: their options (FedDIP's, plus the few knobs only one method has), the
// round's local configuration from the common schedules, and small helpers on flat vectors.
import { InvalidArgumentError } from '../../errors.ts';
import type { ParamLayout } from '../../nn/layout.ts';
import { learningRate } from '../../sparse/schedules.ts';
import { checkFedDipOptions, FEDDIP_DEFAULTS, type FedDipOptions } from '../feddip.ts';
import type { StrategyState } from '../strategy.ts';
import type { ClientResult, LocalConfig } from '../types.ts';

export interface MethodOptions extends FedDipOptions {
  /** FedDST: the drop fraction at round t is α/2·(1+cos(πt/T)). */
  alpha: number;
  /** PruneTrain: group-lasso coefficient on the layers between the first and the last. */
  groupLasso: number;
  /** PruneFL: local trainings of one client that prune the model before the first round. */
  initialRounds: number;
}

export const METHOD_DEFAULTS: MethodOptions = { ...FEDDIP_DEFAULTS, alpha: 0.5, groupLasso: 0.01, initialRounds: 3 };

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

/**
 * Reads a checkpointed StrategyState back for one method and layout, checking every part before
 * anything is used: a checkpoint from another method or model, or a damaged one, is refused with a
 * message naming the part, never half-loaded.
 */
export class StateReader {
  readonly json: Record<string, unknown>;
  readonly #arrays: StrategyState['arrays'];
  readonly #where: string;
  readonly #size: number;

  constructor(method: string, readonly layout: ParamLayout, state: StrategyState) {
    this.#where = `${method}.importState`;
    this.#size = layout.size;
    if (state?.name !== method) this.fail(`the state is of method '${String(state?.name)}'`);
    if (state.json?.layoutHash !== layout.hash()) this.fail(`the state is for model layout ${String(state.json?.layoutHash)}, this model's is ${layout.hash()}`);
    this.json = state.json;
    this.#arrays = state.arrays ?? {};
  }

  fail(what: string): never {
    throw new InvalidArgumentError(`${this.#where}: ${what}`);
  }

  /** A full-length finite Float32Array (non-finite values would spread to every client). */
  vector(key: string): Float32Array<ArrayBuffer>;
  vector(key: string, optional: true): Float32Array<ArrayBuffer> | null;
  vector(key: string, optional = false): Float32Array<ArrayBuffer> | null {
    const a = this.#arrays[key];
    if (a === undefined && optional) return null;
    if (!(a instanceof Float32Array) || a.length !== this.#size) this.fail(`'${key}' must be a Float32Array of ${this.#size} entries`);
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) this.fail(`entry ${i} of '${key}' is not finite`);
    return a.slice();
  }

  /** A full-length 0/1 mask. */
  mask(key: string): Uint8Array<ArrayBuffer>;
  mask(key: string, optional: true): Uint8Array<ArrayBuffer> | null;
  mask(key: string, optional = false): Uint8Array<ArrayBuffer> | null {
    const a = this.#arrays[key];
    if (a === undefined && optional) return null;
    if (!(a instanceof Uint8Array) || a.length !== this.#size) this.fail(`'${key}' must be a Uint8Array of ${this.#size} entries`);
    for (let i = 0; i < a.length; i++) if (a[i]! > 1) this.fail(`entry ${i} of mask '${key}' is ${a[i]}, not 0 or 1`);
    return a.slice();
  }

  /** Arrays stored per client as `${prefix}<id>`, by id. */
  perClient<T>(prefix: string, read: (key: string) => T): Map<number, T> {
    const out = new Map<number, T>();
    for (const key of Object.keys(this.#arrays)) {
      if (!key.startsWith(prefix)) continue;
      const id = key.slice(prefix.length);
      if (!/^\d{1,9}$/.test(id)) this.fail(`'${key}' does not name a client id`);
      out.set(Number(id), read(key));
    }
    return out;
  }

  /** A list of client ids (or undefined when absent). */
  ids(key: string): number[] | undefined {
    const v = this.json[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => !Number.isSafeInteger(x) || x < 0)) this.fail(`'${key}' must be a list of client ids`);
    return [...v] as number[];
  }
}

/** The StrategyState of a method: its name, the layout it belongs to, scalars, and copies of its vectors. */
export function exportedState(name: string, layout: ParamLayout, json: Record<string, unknown>, arrays: Record<string, Float32Array | Uint8Array | null | undefined>): StrategyState {
  const kept: StrategyState['arrays'] = {};
  for (const [k, a] of Object.entries(arrays)) if (a) kept[k] = a.slice();
  return { name, json: { layoutHash: layout.hash(), ...json }, arrays: kept };
}
