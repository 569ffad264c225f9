// Saving and restoring a strategy's server state (exportState/importState), shared by every
// method so that each checks what it reads back the same way.
import { InvalidArgumentError } from '../errors.ts';
import type { ParamLayout } from '../nn/layout.ts';
import type { StrategyState } from './strategy.ts';

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
