// The baselines and the reference mode, each proven by the property that makes it that method:
// feddip-reference's nested masks and per-client random masks in round 0, SNIP's one mask from one
// batch, PruneFL's importance masks on R-rounds only, FedDST's per-client masks on exact ERK
// budgets, PruneTrain's untouched first and last layers, top-k's residual that loses nothing.
// Every method repeats bit for bit for a seed, on one thread or two, and runs from the CLI.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, fl, InvalidArgumentError, mlp, type ModelDef, Network, Rng, sparse, type Backend } from '../../src/index.ts';
import { main } from '../../src/cli/main.ts';
import { nodeFiles } from '../../src/cli/io.ts';
import { seededWeights, split, synthetic } from './fl-helpers.ts';

const NEW_METHODS = ['feddip-reference', 'snip', 'prunefl', 'feddst', 'prunetrain', 'topk-ef'] as const;
const SMALL = { fraction: 0.5, localEpochs: 1, batch: 32, sparsity: 0.8, lr: 0.05 };

let backend: Backend;
let model: ModelDef;
const train = synthetic(400, 1);
const test = { ...synthetic(200, 2), sampleSize: 784 };
const partitions = split(400, 4);
const initialWeights = (seed: number) => seededWeights(mlp().layout, seed);

beforeAll(async () => {
  backend = await createBackend('wasm');
  model = mlp();
});
afterAll(() => backend.dispose());

/** Runs `rounds` rounds; `after` sees the strategy after every round's aggregation. */
async function run(strategy: fl.Strategy, seed: number, rounds: number, options: { threads?: number; after?: (round: number) => void } = {}) {
  const metrics: fl.RoundMetrics[] = [];
  for await (const m of fl.simulate({
    model, backend, strategy, initial: initialWeights(seed), train, test, partitions, rounds, rng: new Rng(seed), threads: options.threads ?? 1,
  })) {
    metrics.push(m);
    options.after?.(m.round);
  }
  return metrics;
}

const strip = (m: fl.RoundMetrics) => ({ ...m, seconds: 0, seconds_train: 0, seconds_codec: 0, seconds_aggregate: 0, seconds_eval: 0 });

/** Kept entries of each prunable segment. */
const perLayer = (mask: Uint8Array) => mlp().layout.prunable.map((s) => mask.subarray(s.offset, s.offset + s.size).reduce((n, v) => n + v, 0));
const keptOverP = (mask: Uint8Array) => perLayer(mask).reduce((a, b) => a + b, 0);
const isSubset = (inner: Uint8Array, outer: Uint8Array) => inner.every((v, i) => !v || outer[i] === 1);

/** One client's task on the test network, trained from a fixed stream. */
async function trainOnce(net: Network, task: fl.ClientTask, label = 'client-0-round-0') {
  const buffers = new fl.BatchBuffers(task.config.batch, 784);
  return fl.trainClient(task, { clientId: 0, net, data: { ...train, sampleSize: 784, indices: partitions[0]! }, rng: new Rng(3).fork(label), buffers });
}

const baseConfig = (over: Partial<fl.LocalConfig> = {}): fl.LocalConfig => ({
  round: 0, lr: 0.05, weightDecay: 5e-4, lambda: 0, localEpochs: 1, batch: 32, uplink: 'dense', uplinkDensity: 1, ...over,
});

describe('method registry', () => {
  it('selects every method by name, with its own defaults under what the caller gives', () => {
    for (const name of NEW_METHODS) {
      expect(Object.keys(fl.METHODS)).toContain(name);
      expect(fl.createStrategy(name, { rounds: 10 }).name).toBe(name);
    }
    expect((fl.createStrategy('prunefl') as fl.PruneFl).options.reconfig).toBe(20);
    expect((fl.createStrategy('feddst', { reconfig: 3 }) as fl.FedDst).options.reconfig).toBe(3);
    expect((fl.createStrategy('feddip-reference', { lambdaMode: 'default' }) as fl.FedDipReference).options.lambdaMode).toBe('reference');
    expect(() => fl.createStrategy('feddst', { alpha: 2 })).toThrow(/alpha must be in \[0, 1\], got 2/);
    expect(() => fl.createStrategy('prunefl', { initialRounds: 1.5 })).toThrow(/initial rounds must be a non-negative integer/);
    expect(() => fl.createStrategy('snip', { sparsity: 1 })).toThrow(/sparsity must be in \[0, 1\)/);
    expect(() => fl.createStrategy('fedprox')).toThrow(/choose one of .*feddip-reference, snip, prunefl, feddst, prunetrain, topk-ef/);
  });

  it.each(NEW_METHODS)('%s trains over 3 rounds, repeats bit for bit for a seed, and gives the same numbers on two threads', async (name) => {
    const make = () => fl.createStrategy(name, { ...SMALL, rounds: 3, reconfig: 1, initialRounds: 1 });
    const a = await run(make(), 7, 3);
    const b = await run(make(), 7, 3);
    const two = await run(make(), 7, 3, { threads: 2 });
    expect(b.map(strip)).toEqual(a.map(strip));
    expect(two.map(strip)).toEqual(a.map(strip));
    expect(a.map((m) => m.clients_ok)).toEqual([2, 2, 2]);
    // Three rounds on 400 samples are too few to rank methods by accuracy, but the local loss falls.
    expect(a[2]!.train_loss).toBeLessThan(a[0]!.train_loss);
    const c = await run(make(), 8, 3);
    expect(c.map((m) => m.test_loss)).not.toEqual(a.map((m) => m.test_loss));
  }, 60_000);
});

describe('feddip-reference', () => {
  it('round 0 has no server mask: each client trains under its own random ERK mask, drawn from its stream', async () => {
    const s = fl.feddipReference({ ...SMALL, rounds: 4, initSparsity: 0.5 });
    s.initialize(model.layout, initialWeights(1));
    const plan = s.configureRound(0, 4, new Rng(2));
    expect(plan.task.mask).toBeNull();
    expect(plan.task.config.randomMaskDensity).toBe(0.5);
    expect(plan.task.config.uplink).toBe('dense');

    const layout = model.layout;
    const mine = fl.trainingMask(plan.task, layout, new Rng(3).fork('client-0-round-0'))!;
    const theirs = fl.trainingMask(plan.task, layout, new Rng(3).fork('client-1-round-0'))!;
    const budgets = sparse.erkDensities(layout.prunable.map((p) => p.shape), 0.5).keptCounts;
    expect(perLayer(mine)).toEqual(budgets);
    expect(perLayer(theirs)).toEqual(budgets);
    expect(mine).not.toEqual(theirs);

    // The client really trains under that mask: the same run with the mask given explicitly is
    // identical, and differs from dense training. Uploads are dense.
    const net = new Network(model, backend);
    const own = await trainOnce(net, plan.task);
    const explicit = await trainOnce(net, { ...plan.task, config: { ...plan.task.config, randomMaskDensity: undefined }, mask: mine });
    const dense = await trainOnce(net, { ...plan.task, config: { ...plan.task.config, randomMaskDensity: undefined } });
    net.dispose();
    expect(own.update).toEqual(explicit.update);
    expect(own.update).not.toEqual(dense.update);
    expect(own.sent.every((v) => v === 1)).toBe(true);
    // Error feedback: pruned coordinates moved too.
    const fc1 = layout.segment('fc1.weight');
    let movedPruned = 0;
    for (let i = fc1.offset; i < fc1.offset + fc1.size; i++) if (!mine[i] && own.update[i] !== 0) movedPruned++;
    expect(movedPruned).toBeGreaterThan(0);
  });

  it('masks are nested over rounds, follow the schedule, λ takes the reference ramp, and both accountings are reported', async () => {
    const T = 5;
    const s = fl.feddipReference({ ...SMALL, rounds: T, reconfig: 2, sparsity: 0.9, initSparsity: 0.5 });
    const masks: Uint8Array[] = [];
    const metrics = await run(s, 4, T, { after: () => masks.push(s.mask()!) });
    const layout = model.layout;
    for (let t = 0; t < T; t++) {
      const scheduledAt = t - (t % 2);
      expect(keptOverP(masks[t]!)).toBe(layout.prunableSize - sparse.prunedCount(sparse.cubicSparsity(scheduledAt, T, 0.5, 0.9), layout.prunableSize));
      if (t > 0) expect(isSubset(masks[t]!, masks[t - 1]!)).toBe(true);
      if (t % 2 === 1) expect(masks[t]).toEqual(masks[t - 1]);
      const m = metrics[t]!;
      expect(m.lambda).toBe(sparse.incrementalLambda(t, T, { mode: 'reference' }));
      // Dense uploads: every client's frame carries at least 4 bytes per entry.
      expect(m.bytes_up).toBeGreaterThanOrEqual(m.clients_ok * 4 * layout.size);
      const n = layout.parameterCount;
      expect(m.reference_bits_down).toBe(m.clients.length * fl.referenceModelBits(m.target_sparsity, n));
      // Uploads are dense models, charged near 32·n bits each (dead units' weights stay exactly 0),
      // far above a download at s_t.
      expect(m.reference_bits_up).toBeGreaterThan(0.9 * m.clients_ok * 32 * n);
      expect(m.reference_bits_up).toBeLessThanOrEqual(m.clients_ok * 32 * n);
    }
    expect(metrics[2]!.lambda).not.toBe(sparse.incrementalLambda(2, T, { mode: 'default' }));
    // The deployed model is the masked average: zero exactly where the mask is.
    const deployed = s.deployed();
    let disagree = 0;
    for (const seg of layout.prunable) for (let i = seg.offset; i < seg.offset + seg.size; i++) if ((deployed.weights[i] === 0) !== !deployed.mask![i]) disagree++;
    expect(disagree).toBe(0);
  });
});

describe('snip', () => {
  it('computes its mask once, from the first selected client\'s first batch, and keeps it', async () => {
    const seed = 5;
    const s = fl.snip({ ...SMALL, rounds: 3 });
    const masks: Uint8Array[] = [];
    const metrics = await run(s, seed, 3, { after: () => masks.push(s.mask()!) });
    expect(masks[1]).toEqual(masks[0]);
    expect(masks[2]).toEqual(masks[0]);
    expect(metrics.every((m) => m.target_sparsity === 0.8)).toBe(true);

    // The same sensitivity by hand: the first client of round 0's selection, its seeded shuffle.
    const first = fl.selectClients(4, 0.5, new Rng(seed).fork('selection'))[0]!;
    const stream = new Rng(seed).fork(`client-${first}-round-0-setup-0`);
    const own = partitions[first]!;
    const order = Int32Array.from({ length: own.length }, (_, i) => i);
    stream.shuffle(order);
    const x = new Float32Array(32 * 784);
    const y = new Int32Array(32);
    for (let k = 0; k < 32; k++) {
      const i = own[order[k]!]!;
      x.set(train.images.subarray(i * 784, (i + 1) * 784), k * 784);
      y[k] = train.labels[i]!;
    }
    const w = initialWeights(seed);
    const net = new Network(model, backend);
    net.setParameters(w);
    net.computeGradients(x, y, 0);
    const g = await net.getGradients();
    net.dispose();
    const scores = new Float32Array(w.length);
    for (const seg of model.layout.prunable) for (let i = seg.offset; i < seg.offset + seg.size; i++) scores[i] = Math.abs(g[i]! * w[i]!);
    expect(masks[0]).toEqual(sparse.globalMagnitudeMask(scores, model.layout.segments, 0.8));

    const deployed = s.deployed();
    let nonzeroPruned = 0;
    for (const seg of model.layout.prunable) for (let i = seg.offset; i < seg.offset + seg.size; i++) if (!masks[0]![i] && deployed.weights[i] !== 0) nonzeroPruned++;
    expect(nonzeroPruned).toBe(0);
  });

  it('a hard mask keeps pruned weights exactly 0 through local training (without it they move)', async () => {
    const layout = model.layout;
    const weights = initialWeights(6);
    const mask = sparse.globalMagnitudeMask(weights, layout.segments, 0.7);
    for (let i = 0; i < weights.length; i++) if (!mask[i]) weights[i] = 0;
    const net = new Network(model, backend);
    const hard = await trainOnce(net, { config: baseConfig({ hardMask: true }), weights, mask });
    const soft = await trainOnce(net, { config: baseConfig(), weights, mask });
    net.dispose();
    let softMoved = 0;
    let hardMoved = 0;
    for (let i = 0; i < weights.length; i++) {
      if (mask[i]) continue;
      if (weights[i]! + hard.update[i]! !== 0) hardMoved++;
      if (soft.update[i] !== 0) softMoved++;
    }
    expect(hardMoved).toBe(0);
    expect(softMoved).toBeGreaterThan(1000);
  });

  it('asks the next selected client when the probed one fails, and says so when all fail', () => {
    const s = fl.snip({ ...SMALL, rounds: 3 });
    s.initialize(model.layout, initialWeights(1));
    const plan = s.configureRound(0, 4, new Rng(1));
    expect(plan.setup!.clients).toEqual([plan.clients[0]]);
    expect(plan.setup!.task.config.mode).toBe('sensitivity');
    const retry = s.afterSetup(0, [], [{ clientId: plan.clients[0]!, reason: 'timed out' }]);
    expect(retry.setup!.clients).toEqual([plan.clients[1]]);
    expect(() => s.afterSetup(0, [], [{ clientId: plan.clients[1]!, reason: 'crashed' }])).toThrow(/none of round 0's clients could report its sensitivity \(last: client \d+: crashed\)/);
  });
});

describe('prunefl', () => {
  it('prunes on one client first, then changes the mask only on R-rounds, always at density ≥ 1 − s_t', async () => {
    const T = 7;
    const s = fl.prunefl({ ...SMALL, rounds: T, reconfig: 2, initialRounds: 2, sparsity: 0.9, initSparsity: 0.5 });
    const masks: Uint8Array[] = [];
    const metrics = await run(s, 3, T, { after: () => masks.push(s.mask()!) });
    const P = model.layout.prunableSize;
    let changes = 0;
    for (let t = 0; t < T; t++) {
      expect(keptOverP(masks[t]!)).toBeGreaterThanOrEqual((1 - sparse.cubicSparsity(t, T, 0.5, 0.9)) * P);
      if (t > 0 && t % 2 === 1) expect(masks[t]).toEqual(masks[t - 1]);
      if (t > 0 && t % 2 === 0 && !masks[t]!.every((v, i) => v === masks[t - 1]![i])) changes++;
    }
    expect(changes).toBeGreaterThanOrEqual(2);
    // Round 0 also carried the two initial trainings of one client: two more model frames down.
    expect(metrics[0]!.bytes_down).toBeGreaterThan(metrics[1]!.bytes_down);
    // Sparse both ways: updates only inside the mask (round 2 reports no importance).
    expect(metrics[2]!.bytes_up).toBeLessThan(0.5 * 2 * 4 * model.layout.size);
  });

  it('keeps ⌈(1 − s)·|P|⌉ entries of highest importance', () => {
    const layout = model.layout;
    const r = new Rng(2);
    const importance = Float32Array.from({ length: layout.size }, () => r.uniform());
    const mask = fl.importanceMask(importance, layout, 0.9);
    expect(keptOverP(mask)).toBe(layout.prunableSize - Math.floor(0.9 * layout.prunableSize));
    let minKept = Infinity;
    let maxPruned = -Infinity;
    for (const seg of layout.prunable) {
      for (let i = seg.offset; i < seg.offset + seg.size; i++) {
        if (mask[i]) minKept = Math.min(minKept, importance[i]!); else maxPruned = Math.max(maxPruned, importance[i]!);
      }
    }
    expect(minKept).toBeGreaterThanOrEqual(maxPruned);
  });
});

describe('feddst', () => {
  it('every client keeps its own mask on the exact ERK budgets, and the masks drift apart', async () => {
    const s = fl.feddst({ ...SMALL, rounds: 4, reconfig: 1 });
    const globals: Uint8Array[] = [];
    const metrics = await run(s, 2, 4, { after: () => globals.push(s.deployed().mask!) });
    const seen = new Set(metrics.flatMap((m) => m.clients));
    const budgets = s.budgets();
    expect(budgets).toEqual(sparse.erkDensities(model.layout.prunable.map((p) => p.shape), 0.2).keptCounts);
    const clientMasks = [...seen].map((id) => s.clientMask(id));
    for (const m of clientMasks) expect(perLayer(m)).toEqual(budgets);
    for (const g of globals) expect(perLayer(g)).toEqual(budgets);
    const distinct = new Set(clientMasks.map((m) => sparse.packBits(m).join(',')));
    expect(distinct.size).toBeGreaterThan(1);
  });

  it('scales the surviving initial weights of each layer by 1/√density (rescaleInit, on by default)', () => {
    const layout = model.layout;
    const initial = initialWeights(5);
    const plans = [true, false].map((rescaleInit) => {
      const s = fl.feddst({ ...SMALL, rounds: 4, rescaleInit });
      s.initialize(layout, initial);
      return s.configureRound(0, 4, new Rng(9)).task;
    });
    const [scaled, plain] = plans as [fl.ClientTask, fl.ClientTask];
    const densities = sparse.erkDensities(layout.prunable.map((p) => p.shape), 0.2).layerDensities;
    expect(scaled.mask).toEqual(plain.mask);
    layout.prunable.forEach((seg, l) => {
      for (let i = seg.offset; i < seg.offset + seg.size; i++) {
        expect(plain.weights[i]).toBe(plain.mask![i] ? initial[i] : 0);
        expect(scaled.weights[i]).toBeCloseTo(plain.weights[i]! / Math.sqrt(densities[l]!), 6);
      }
    });
    // Biases are not masked and not rescaled.
    for (const seg of layout.segments.filter((s) => !s.prunable)) {
      expect(scaled.weights.subarray(seg.offset, seg.offset + seg.size)).toEqual(initial.subarray(seg.offset, seg.offset + seg.size));
    }
  });

  it('drops the smallest active weights and grows the largest-gradient inactive ones, per layer', () => {
    const segments = [{ name: 'a', shape: [6], offset: 0, size: 6, prunable: true }, { name: 'b', shape: [2], offset: 6, size: 2, prunable: false }];
    const weights = Float32Array.from([0.5, -0.1, 0, 0.3, 0.2, 0, 9, 9]);
    const scores = Float32Array.from([0, 0, 5, 0, 0, -7, 0, 0]);
    const mask = Uint8Array.from([1, 1, 0, 1, 1, 0, 1, 1]);
    // 4 active, fraction 0.5: drop the two smallest (|−0.1|, 0.2), grow the two largest |score| (−7, 5).
    expect([...sparse.dropAndGrow(weights, scores, mask, segments, 0.5)]).toEqual([1, 0, 1, 1, 0, 1, 1, 1]);
    // A just-dropped entry can be grown again when its score is among the largest.
    expect([...sparse.dropAndGrow(weights, Float32Array.from([0, 8, 0, 0, 0, 0, 0, 0]), mask, segments, 0.25)]).toEqual([1, 1, 0, 1, 1, 0, 1, 1]);
    expect(() => sparse.dropAndGrow(weights, scores, mask, segments, 1.5)).toThrow(/fraction must be in \[0, 1\]/);
  });
});

describe('prunetrain', () => {
  it('never prunes nor penalises the first and last layers; prunes the others at s_t, masks nested', async () => {
    const T = 3;
    const s = fl.prunetrain({ ...SMALL, rounds: T, sparsity: 0.9, initSparsity: 0.5 });
    const masks: Uint8Array[] = [];
    const metrics = await run(s, 6, T, { after: () => masks.push(s.deployed().mask!) });
    const layout = model.layout;
    const [first, middle, last] = layout.prunable;
    expect(s.denseLayers()).toEqual([first!.name, last!.name]);
    for (let t = 0; t < T; t++) {
      const kept = perLayer(masks[t]!);
      expect(kept[0]).toBe(first!.size);
      expect(kept[2]).toBe(last!.size);
      expect(kept[1]).toBe(middle!.size - sparse.prunedCount(sparse.cubicSparsity(t, T, 0.5, 0.9), middle!.size));
      if (t > 0) expect(isSubset(masks[t]!, masks[t - 1]!)).toBe(true);
      expect(metrics[t]!.target_sparsity).toBeCloseTo((middle!.size - kept[1]!) / layout.prunableSize, 12);
      expect(metrics[t]!.sparsity).toBeCloseTo(metrics[t]!.target_sparsity, 12);
    }
    const plan = s.configureRound(1, 4, new Rng(1));
    expect(plan.task.config.layerLambdas).toEqual([0, 0.01, 0]);
  });

  it('per-layer λ adds λ_l·w/‖w‖ to the gradient of exactly the layers that have one', async () => {
    const net = new Network(model, backend);
    net.setParameters(initialWeights(3));
    const x = train.images.subarray(0, 8 * 784);
    const y = train.labels.subarray(0, 8);
    net.computeGradients(x, y, 0);
    const plain = await net.getGradients();
    net.computeGradients(x, y, [0, 0.5, 0]);
    const penalised = await net.getGradients();
    const loss = await net.lastLoss();
    const w = await net.getParameters();
    const [first, middle, last] = model.layout.prunable;
    let ss = 0;
    for (let i = middle!.offset; i < middle!.offset + middle!.size; i++) ss += w[i]! * w[i]!;
    const norm = Math.sqrt(ss);
    for (let i = middle!.offset; i < middle!.offset + middle!.size; i += 97) expect(penalised[i]! - plain[i]!).toBeCloseTo(0.5 * w[i]! / norm, 6);
    for (const seg of [first!, last!]) for (let i = seg.offset; i < seg.offset + seg.size; i += 13) expect(penalised[i]).toBe(plain[i]);
    expect(loss.reg).toBeCloseTo(norm, 3);
    expect(loss.loss).toBeCloseTo(loss.ce + 0.5 * norm, 4);
    expect(() => net.computeGradients(x, y, [0.1, 0.1])).toThrow(InvalidArgumentError);
    expect(() => net.computeGradients(x, y, [0.1, 0.1])).toThrow(/one coefficient per prunable segment \(3\), got 2 entries/);
    expect(() => net.computeGradients(x, y, [0, Number.NaN, 0])).toThrow(/lambda\[1\] must be a finite number/);
    net.dispose();
  });
});

describe('topk-ef', () => {
  it('the residual carries what top-k did not send: over two rounds sent + residual is the dense sum', async () => {
    const net = new Network(model, backend);
    const weights = initialWeights(8);
    const config = baseConfig({ uplink: 'topk', uplinkDensity: 0.05, uplinkResidual: true });
    const dense = (await trainOnce(net, { config: baseConfig(), weights, mask: null })).update;
    const one = await trainOnce(net, { config, weights, mask: null });
    // The same start and stream again: the update is Δ once more, plus what round one kept back.
    const two = await trainOnce(net, { config, weights, mask: null, state: one.state });
    net.dispose();
    expect(one.state?.mask).toBeUndefined();
    const r1 = one.state!.residual!;
    const r2 = two.state!.residual!;
    let errorEf = 0;
    let errorPlain = 0;
    let held = 0;
    let worstOne = 0;
    let worstTwo = 0;
    let sentOutside = 0;
    for (let i = 0; i < dense.length; i++) {
      worstOne = Math.max(worstOne, Math.abs(one.update[i]! + r1[i]! - dense[i]!));
      worstTwo = Math.max(worstTwo, Math.abs(one.update[i]! + two.update[i]! + r2[i]! - 2 * dense[i]!));
      if (!one.sent[i]) { if (one.update[i] !== 0) sentOutside++; if (r1[i] !== 0) held++; }
      errorEf += (2 * dense[i]! - one.update[i]! - two.update[i]!) ** 2;
      errorPlain += (2 * dense[i]! - 2 * one.update[i]!) ** 2;
    }
    expect(worstOne).toBe(0);
    expect(worstTwo).toBeLessThan(1e-7);
    expect(sentOutside).toBe(0);
    expect(held).toBeGreaterThan(100_000);
    // With the residual, two rounds of top-k come closer to two dense updates than top-k twice.
    expect(errorEf).toBeLessThan(errorPlain);
    const prunable = model.layout.prunableSize;
    expect(keptOverP(one.sent)).toBe(prunable - sparse.prunedCount(0.95, prunable));
  });

  it('refuses a residual without the top-k uplink', async () => {
    const net = new Network(model, backend);
    await expect(trainOnce(net, { config: baseConfig({ uplinkResidual: true }), weights: initialWeights(1), mask: null })).rejects.toThrow(/uplinkResidual needs the 'topk' uplink, got 'dense'/);
    net.dispose();
  });

  it('keeps a residual per client that took part, and sends far less than dense', async () => {
    const s = fl.topkEf({ ...SMALL, rounds: 2, sparsity: 0.95 });
    const metrics = await run(s, 1, 2);
    const took = new Set(metrics.flatMap((m) => m.clients));
    for (const c of took) expect(s.residual(c)!.some((v) => v !== 0)).toBe(true);
    for (let c = 0; c < 4; c++) if (!took.has(c)) expect(s.residual(c)).toBeNull();
    expect(metrics[1]!.bytes_up).toBeLessThan(0.25 * metrics[1]!.clients_ok * 4 * model.layout.size);
    expect(metrics[1]!.sparsity).toBe(0);
  });
});

describe('feddip simulate --method', () => {
  const haveData = existsSync('/usr/share/datasets/fashion-mnist');
  const dir = mkdtempSync(join(tmpdir(), 'feddip-methods-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.for([...NEW_METHODS])('%s runs 3 rounds from the command line', { timeout: 120_000 }, async (name, ctx) => {
    if (!haveData) return ctx.skip('Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)');
    const out = join(dir, name);
    const err: string[] = [];
    const code = await main(['simulate', '--method', name, '--clients', '100', '--fraction', '0.02', '--local-epochs', '1', '--threads', '1', '--rounds', '3', '--reconfig', '1', '--quiet', '--out', out], {
      out: () => {}, err: (l) => err.push(l), files: await nodeFiles(), stopRequested: () => false,
    });
    expect(code, err.join('\n')).toBe(0);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((m) => m.round)).toEqual([0, 1, 2]);
    for (const m of lines) expect(m.clients_ok).toBe(2);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ method: name, method_options: { reconfig: 1, rounds: 3 } });
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toMatchObject({ rounds_completed: 3, interrupted: false });
  });
});
