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

  it('dynamic FedDIP lets a pruned weight come back when its dense value grows', () => {
    const model = lenet5();
    const rng = new Rng(1);
    const w = initParameters(model.layout, () => rng.uniform());
    const s = fl.feddip({ rounds: 10, reconfig: 5, sparsity: 0.9, initSparsity: 0.5 });
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
    expect(next.task.weights[pruned]).toBeGreaterThan(40);
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
