// Every method's server state survives a checkpoint: a federation whose strategy is saved after
// round 1 (through the checkpoint's binary format), thrown away, and restored into a fresh instance
// runs on exactly as if nothing had happened. And the methods an aggregator may fold for
// (aggregateMean) get the same model from the mean alone as from the results one by one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, fl, InvalidArgumentError, mlp, Rng, type Backend } from '../../src/index.ts';
import type { ParamLayout } from '../../src/nn/layout.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/transport/checkpoint.ts';
import { seededWeights, split, synthetic } from './fl-helpers.ts';

const METHODS = Object.keys(fl.METHODS);
// Small and quick, with reconfigurations (R = 2) on both sides of the restart.
const OPTIONS = { rounds: 4, fraction: 0.5, localEpochs: 1, batch: 32, sparsity: 0.8, lr: 0.05, reconfig: 2, initialRounds: 1 };

/** The state as an aggregator persists it: binary checkpoint bytes, then decoded again. */
function throughCheckpoint(state: fl.StrategyState): fl.StrategyState {
  const arrays: Record<string, Float32Array | Uint8Array> = {};
  for (const [k, a] of Object.entries(state.arrays)) arrays[`strategy.${k}`] = a;
  const back = decodeCheckpoint(encodeCheckpoint({ strategy: { name: state.name, json: state.json } }, arrays));
  const strategy = back.json.strategy as { name: string; json: Record<string, unknown> };
  const restored: fl.StrategyState['arrays'] = {};
  for (const [k, a] of Object.entries(back.arrays)) restored[k.slice('strategy.'.length)] = a;
  return { name: strategy.name, json: strategy.json, arrays: restored };
}

/**
 * Delegates to a strategy; after round `restartAfter` it replaces it with a fresh instance that
 * knows nothing but the saved state (initialized with zeros, so every weight must come from it).
 */
class Restarting implements fl.Strategy {
  #inner: fl.Strategy;
  #layout: ParamLayout | undefined;
  restarts = 0;
  constructor(readonly make: () => fl.Strategy, readonly restartAfter: number) {
    this.#inner = make();
  }
  get name() { return this.#inner.name; }
  initialize(layout: ParamLayout, initial: Float32Array) { this.#layout = layout; this.#inner.initialize(layout, initial); }
  configureRound(round: number, n: number, rng: Rng) {
    // Between rounds, where an aggregator checkpoints: after the round's aggregation and its report.
    if (round === this.restartAfter + 1) this.#restart();
    return this.#inner.configureRound(round, n, rng);
  }
  afterSetup(round: number, results: readonly fl.ClientResult[], failures: readonly fl.ClientFailure[]) { return this.#inner.afterSetup!(round, results, failures); }
  referenceBits(round: number) { return this.#inner.referenceBits?.(round) ?? { down: 0, up: 0 }; }
  deployed() { return this.#inner.deployed(); }
  aggregate(round: number, results: readonly fl.ClientResult[], failures: readonly fl.ClientFailure[]) {
    this.#inner.aggregate(round, results, failures);
  }
  #restart() {
    const saved = throughCheckpoint(this.#inner.exportState!());
    const fresh = this.make();
    fresh.initialize(this.#layout!, new Float32Array(this.#layout!.size));
    fresh.importState!(saved);
    this.#inner = fresh;
    this.restarts++;
  }
}

let backend: Backend;
beforeAll(async () => { backend = await createBackend('wasm'); });
afterAll(() => backend.dispose());

describe('strategy state across a restart', () => {
  const model = mlp();
  const train = synthetic(320, 1);
  const test = { ...synthetic(100, 2), sampleSize: 784 };
  const partitions = split(320, 4);
  const initial = seededWeights(model.layout, 7);
  const strip = (m: fl.RoundMetrics) => ({ ...m, seconds: 0, seconds_train: 0, seconds_codec: 0, seconds_aggregate: 0, seconds_eval: 0 });

  async function run(strategy: fl.Strategy) {
    const out = [];
    for await (const m of fl.simulate({ model, backend, strategy, initial, train, test, partitions, rounds: OPTIONS.rounds, rng: new Rng(3) })) out.push(strip(m));
    return { metrics: out, weights: strategy.deployed().weights };
  }

  for (const method of METHODS) {
    it(`${method}: restored after round 1, it continues exactly as without the restart`, async () => {
      const make = () => fl.createStrategy(method, OPTIONS);
      const straight = new Restarting(make, -1);
      const restarted = new Restarting(make, 1);
      const a = await run(straight);
      const b = await run(restarted);
      expect(restarted.restarts).toBe(1);
      expect(b.metrics).toEqual(a.metrics);
      expect(b.weights).toEqual(a.weights);
    }, 30_000);
  }

  it('refuses a state of another method, another model, or with damaged vectors', () => {
    const layout = model.layout;
    for (const method of METHODS) {
      const s = fl.createStrategy(method, OPTIONS);
      s.initialize(layout, initial);
      s.configureRound(0, 4, new Rng(1));
      const state = s.exportState!();
      const fresh = () => { const f = fl.createStrategy(method, OPTIONS); f.initialize(layout, initial); return f; };
      const other = METHODS.find((m) => m !== method)!;
      expect(() => fresh().importState!({ ...state, name: other }), method).toThrow(InvalidArgumentError);
      expect(() => fresh().importState!({ ...state, json: { ...state.json, layoutHash: '00000000' } }), method).toThrow(/layout 00000000/);
      const nan = state.arrays.weights!.slice() as Float32Array;
      nan[5] = NaN;
      expect(() => fresh().importState!({ ...state, arrays: { ...state.arrays, weights: nan } }), method).toThrow(/entry 5 of 'weights' is not finite/);
      expect(() => fresh().importState!({ ...state, arrays: { ...state.arrays, weights: new Float32Array(3) } }), method).toThrow(/'weights' must be a Float32Array/);
      if (state.arrays.mask) {
        const mask = state.arrays.mask.slice() as Uint8Array;
        mask[0] = 7;
        expect(() => fresh().importState!({ ...state, arrays: { ...state.arrays, mask } }), method).toThrow(/not 0 or 1/);
      }
    }
  });
});

describe('aggregateMean', () => {
  it('gives the model aggregate() gives from the results one by one, for every method that has it', () => {
    const layout = mlp().layout;
    const r = new Rng(11);
    const initial = Float32Array.from({ length: layout.size }, () => r.normal() * 0.1);
    const folding = METHODS.filter((m) => typeof fl.createStrategy(m).aggregateMean === 'function');
    expect(folding).toEqual(expect.arrayContaining(['feddip', 'feddip-noir', 'fedavg', 'snip', 'prunetrain', 'topk-ef']));
    for (const method of folding) {
      const [a, b] = [fl.createStrategy(method, OPTIONS), fl.createStrategy(method, OPTIONS)];
      a.initialize(layout, initial);
      b.initialize(layout, initial);
      a.configureRound(0, 4, new Rng(1));
      b.configureRound(0, 4, new Rng(1));
      const results: fl.ClientResult[] = [10, 30, 60].map((samples, k) => {
        const update = Float32Array.from({ length: layout.size }, () => (r.uniform() < 0.1 ? 0.01 * r.normal() : 0));
        return { clientId: k, samples, update, sent: Uint8Array.from(update, (u) => (u ? 1 : 0)), trainLoss: 1 };
      });
      const mean = new Float32Array(layout.size);
      for (let i = 0; i < mean.length; i++) mean[i] = (10 * results[0]!.update[i]! + 30 * results[1]!.update[i]! + 60 * results[2]!.update[i]!) / 100;
      a.aggregate(0, results, []);
      b.aggregateMean!(0, { mean, samples: 100, contributors: [0, 1, 2] }, []);
      const [wa, wb] = [a.deployed().weights, b.deployed().weights];
      let worst = 0;
      for (let i = 0; i < wa.length; i++) worst = Math.max(worst, Math.abs(wa[i]! - wb[i]!));
      expect(worst, method).toBeLessThan(1e-6);
      expect(a.deployed().mask, method).toEqual(b.deployed().mask);
    }
  });
});
