// The federated algorithms, proven rather than only run: FedAvg with one client is centralised
// SGD; FedDIP's dynamic mask lets pruned weights come back; sparsity is what the schedule says;
// one seed gives identical runs.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createBackend, fl, initParameters, lenet5, mlp, Network, Rng, sparse, type Backend } from '../../src/index.ts';
import { seededWeights, split, synthetic } from './fl-helpers.ts';

let backend: Backend;
beforeAll(async () => { backend = await createBackend('wasm'); });
afterAll(() => backend.dispose());

async function run(strategy: fl.Strategy, seed: number, rounds: number, clients = 4, threads = 1) {
  const model = mlp();
  const train = synthetic(400, 1);
  const test = { ...synthetic(200, 2), sampleSize: 784 };
  const metrics: fl.RoundMetrics[] = [];
  for await (const m of fl.simulate({
    model, backend, strategy, initial: seededWeights(model.layout, seed),
    train, test, partitions: split(400, clients), rounds, rng: new Rng(seed), threads,
  })) metrics.push(m);
  return metrics;
}

describe('federated learning', () => {
  it('FedAvg with one client and full participation equals centralised SGD, step for step', async () => {
    const model = mlp();
    const rng = new Rng(5);
    const initial = initParameters(model.layout, () => rng.uniform());
    const train = synthetic(300, 3);
    const options = { rounds: 3, fraction: 1, localEpochs: 2, batch: 64, lr: 0.05, lrDecay: 0.9 };
    const strategy = fl.fedavg(options);
    const partitions = [Int32Array.from({ length: 300 }, (_, i) => i)];
    const root = new Rng(11);
    for await (const _ of fl.simulate({
      model, backend, strategy, initial, train, test: { ...train, sampleSize: 784 }, partitions, rounds: 3, rng: root,
    })) { /* run all rounds */ }
    // Centralised: the same epochs, shuffles and learning rates on one network.
    const net = new Network(model, backend);
    net.setParameters(initial);
    const buffers = new fl.BatchBuffers(64, 784);
    for (let round = 0; round < 3; round++) {
      const task = { config: { round, lr: 0.05 * 0.9 ** round, weightDecay: 5e-4, lambda: 0, localEpochs: 2, batch: 64, uplink: 'dense' as const, uplinkDensity: 1 }, weights: await net.getParameters(), mask: null };
      await fl.trainClient(task, { clientId: 0, net, data: { ...train, sampleSize: 784, indices: partitions[0]! }, rng: new Rng(11).fork(`client-0-round-${round}`), buffers });
    }
    const central = await net.getParameters();
    net.dispose();
    const federated = strategy.deployed().weights;
    let worst = 0;
    for (let i = 0; i < central.length; i++) worst = Math.max(worst, Math.abs(central[i]! - federated[i]!));
    expect(worst).toBeLessThan(1e-6);
  });

  for (const reentry of ['memory', 'cut'] as const) {
    it(`dynamic FedDIP lets a pruned weight come back when its dense value grows (reentry '${reentry}')`, () => {
      const model = lenet5();
      const rng = new Rng(1);
      const w = initParameters(model.layout, () => rng.uniform());
      const s = fl.feddip({ rounds: 10, reconfig: 5, sparsity: 0.9, initSparsity: 0.5, reentry });
      s.initialize(model.layout, w);
      const plan = s.configureRound(0, 10, new Rng(2));
      const mask = plan.task.mask!;
      const fc = model.layout.segment('classifier.0.weight');
      const pruned = [...mask.subarray(fc.offset, fc.offset + fc.size)].findIndex((m) => m === 0) + fc.offset;
      expect(plan.task.weights[pruned]).toBe(0);
      // A client pushes that coordinate far up (error feedback reaches pruned weights).
      const update = new Float32Array(model.layout.size);
      update[pruned] = 10;
      for (let round = 0; round < 5; round++) s.aggregate(round, [{ clientId: 0, samples: 1, update, sent: new Uint8Array(update.length).fill(1), trainLoss: 0 }], []);
      const next = s.configureRound(5, 10, new Rng(3));
      expect(next.task.mask![pruned]).toBe(1);
      if (reentry === 'memory') {
        expect(next.task.weights[pruned]).toBeGreaterThan(40);
      } else {
        // It comes back at the smallest magnitude among the weights that stayed, with its sign.
        let tau = Infinity;
        for (const seg of model.layout.prunable) {
          for (let i = seg.offset; i < seg.offset + seg.size; i++) if (mask[i] && next.task.mask![i]) tau = Math.min(tau, Math.abs(next.task.weights[i]!));
        }
        expect(tau).toBeGreaterThan(0);
        expect(tau).toBeLessThan(1);
        expect(next.task.weights[pruned]).toBe(Math.fround(tau));
        expect(s.denseWeights()[pruned]).toBe(Math.fround(tau));
      }
    });
  }

  it('clipReentering clips only the weights that re-enter, to the smallest staying magnitude, keeping signs', () => {
    const segments = [{ name: 'a', shape: [6], offset: 0, size: 6, prunable: true }, { name: 'b', shape: [2], offset: 6, size: 2, prunable: false }];
    const weights = Float32Array.from([0.5, -0.3, -4, 2, 0.01, 0.2, 9, 9]);
    const before = Uint8Array.from([1, 1, 0, 0, 1, 0, 1, 1]);
    const after = Uint8Array.from([1, 1, 1, 1, 0, 1, 1, 1]);
    // Staying: 0.5 and −0.3, so τ = 0.3; re-entering: −4 → −0.3, 2 → 0.3, 0.2 stays 0.2 (below τ).
    expect(fl.clipReentering(weights, before, after, segments)).toEqual({ reentered: 3, tau: Math.fround(0.3) });
    expect([...weights]).toEqual([0.5, -0.3, -0.3, 0.3, 0.01, 0.2, 9, 9].map(Math.fround));
    // No weight stayed: nothing to measure τ by, nothing clipped.
    const w2 = Float32Array.from([1, 5]);
    expect(fl.clipReentering(w2, Uint8Array.from([1, 0]), Uint8Array.from([0, 1]), [{ name: 'a', shape: [2], offset: 0, size: 2, prunable: true }])).toEqual({ reentered: 1, tau: Infinity });
    expect([...w2]).toEqual([1, 5]);
    expect(() => fl.feddip({ reentry: 'zero' as 'cut' })).toThrow(/reentry must be 'cut' or 'memory', got 'zero'/);
  });

  it('capReentering lets only the largest re-entering weights in and gives the other places back to the largest leaving ones', () => {
    const segments = [{ name: 'a', shape: [8], offset: 0, size: 8, prunable: true }];
    const weights = Float32Array.from([1, 0.9, 0.2, 0.1, 5, -4, 3, 0.05]);
    const before = Uint8Array.from([1, 1, 1, 1, 0, 0, 0, 0]);
    // The magnitude mask at K = 4 would swap in all three of 5, −4, 3 and keep only 1 of the old ones.
    const magnitude = () => Uint8Array.from([1, 0, 0, 0, 1, 1, 1, 0]);
    const next = magnitude();
    expect(fl.capReentering(weights, before, next, segments, 0.25)).toBe(1); // ⌈0.25·4⌉ = 1: only 5 comes in
    expect([...next]).toEqual([1, 1, 1, 0, 1, 0, 0, 0]); // 0.9 and 0.2 stay, 0.1 leaves
    // A cap as large as the swap changes nothing; 0 gives nested masks.
    const all = magnitude();
    expect(fl.capReentering(weights, before, all, segments, 0.75)).toBe(3);
    expect([...all]).toEqual([...magnitude()]);
    const none = magnitude();
    expect(fl.capReentering(weights, before, none, segments, 0)).toBe(0);
    expect([...none]).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
  });

  it('with regrowth 0 the dynamic masks are nested; the cap anneals as regrowth/2·(1+cos(πt/T))', () => {
    const model = lenet5();
    // Updates that would swap many weights in: large random moves on every coordinate. Uncapped
    // (regrowth 1) weights re-enter; with regrowth 0 none does.
    const reentered = [0, 1].map((regrowth) => {
      const rng = new Rng(11);
      const s = fl.feddip({ rounds: 10, reconfig: 5, sparsity: 0.95, initSparsity: 0.5, regrowth });
      s.initialize(model.layout, initParameters(model.layout, () => rng.uniform()));
      const noise = new Rng(12);
      let previous: Uint8Array | null = null;
      let outside = 0;
      for (let round = 0; round < 10; round++) {
        const mask = s.configureRound(round, 10, new Rng(round)).task.mask!;
        if (previous) for (let i = 0; i < previous.length; i++) if (mask[i] && !previous[i]) outside++;
        previous = mask;
        const update = Float32Array.from({ length: model.layout.size }, () => noise.normal() * 0.5);
        s.aggregate(round, [{ clientId: 0, samples: 1, update, sent: new Uint8Array(update.length).fill(1), trainLoss: 0 }], []);
      }
      return outside;
    });
    expect(reentered[0]).toBe(0);
    expect(reentered[1]).toBeGreaterThan(100);
    const annealed = fl.feddip({ rounds: 200, regrowth: 0.3 });
    expect(annealed.regrowthFraction(0)).toBeCloseTo(0.3, 12);
    expect(annealed.regrowthFraction(100)).toBeCloseTo(0.15, 12);
    expect(annealed.regrowthFraction(200)).toBeCloseTo(0, 12);
    expect(fl.feddip({ regrowth: Infinity }).regrowthFraction(199)).toBe(Infinity);
    expect(() => fl.feddip({ regrowth: -1 })).toThrow(/regrowth must be a number ≥ 0 \(Infinity: no cap\), got -1/);
    expect(() => fl.feddip({ regrowth: NaN })).toThrow(/regrowth must be a number ≥ 0/);
  });

  it('between reconfigurations the mask stays fixed, and measured sparsity equals the schedule to one weight', () => {
    const model = lenet5();
    const rng = new Rng(4);
    const s = fl.feddip({ rounds: 20, reconfig: 5, sparsity: 0.95, initSparsity: 0.5 });
    s.initialize(model.layout, initParameters(model.layout, () => rng.uniform()));
    for (let round = 0; round < 20; round++) {
      const plan = s.configureRound(round, 10, new Rng(round));
      const report = sparse.maskSparsity(plan.task.weights, model.layout.segments);
      const scheduled = sparse.cubicSparsity(round - (round % 5), 20, 0.5, 0.95);
      const expectedZeros = sparse.prunedCount(scheduled, model.layout.prunableSize);
      expect(Math.abs(report.prunable - report.nonzero - expectedZeros)).toBeLessThanOrEqual(1);
    }
  });

  it('learns, counts real frame bytes, and repeats bit for bit with the same seed', async () => {
    const a = await run(fl.feddip({ rounds: 3, fraction: 0.5, localEpochs: 1, batch: 32, sparsity: 0.8 }), 7, 3);
    const b = await run(fl.feddip({ rounds: 3, fraction: 0.5, localEpochs: 1, batch: 32, sparsity: 0.8 }), 7, 3);
    const strip = (m: fl.RoundMetrics) => ({ ...m, seconds: 0, seconds_train: 0, seconds_codec: 0, seconds_aggregate: 0, seconds_eval: 0 });
    expect(a.map(strip)).toEqual(b.map(strip));
    expect(a[2]!.test_acc).toBeGreaterThan(0.3); // chance is 0.1
    expect(a[0]!.clients_ok).toBe(2);
    // Two clients got the same model frame; at 50 % sparsity it is well under the dense 4 bytes/weight.
    const size = mlp().layout.size;
    expect(a[0]!.bytes_down).toBeLessThan(2 * 4 * size * 0.7);
    expect(a[0]!.bytes_up).toBeGreaterThan(0);
    const c = await run(fl.feddip({ rounds: 3, fraction: 0.5, localEpochs: 1, batch: 32, sparsity: 0.8 }), 8, 3);
    expect(c.map((m) => m.test_loss)).not.toEqual(a.map((m) => m.test_loss));
  });

  it('trains clients on two workers with exactly the numbers of one thread', async () => {
    const strip = (m: fl.RoundMetrics) => ({ ...m, seconds: 0, seconds_train: 0, seconds_codec: 0, seconds_aggregate: 0, seconds_eval: 0 });
    const one = await run(fl.feddip({ rounds: 2, fraction: 0.5, localEpochs: 1, batch: 32, sparsity: 0.8 }), 9, 2, 4, 1);
    const two = await run(fl.feddip({ rounds: 2, fraction: 0.5, localEpochs: 1, batch: 32, sparsity: 0.8 }), 9, 2, 4, 2);
    expect(two.map(strip)).toEqual(one.map(strip));
  });

  it('rejects impossible options with messages that name the option', () => {
    expect(() => fl.feddip({ sparsity: 1.2 })).toThrow(/sparsity must be in \[0, 1\)/);
    expect(() => fl.fedavg({ fraction: 0 })).toThrow(/fraction/);
    expect(() => fl.createStrategy('fedprox')).toThrow(/unknown method 'fedprox'; choose one of feddip, feddip-noir, fedavg/);
  });
});
