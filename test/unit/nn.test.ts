// Models and the training step: shapes and parameter counts as the spec states them, and the
// FedDIP/DPF semantics — compute at M⊙W, update the dense W, so masked weights keep moving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, initParameters, lenet5, mlp, Network, type Backend, type ModelDef } from '../../src/index.ts';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU } from '../../src/nn/layers.ts';
import { ParamLayout } from '../../src/nn/layout.ts';

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

/** A learnable batch: each image is noise plus a bright row whose position is the label. */
function batchOf(n: number, seed: number) {
  const r = lcg(seed);
  const labels = Int32Array.from({ length: n }, () => Math.floor(r() * 10));
  const x = Float32Array.from({ length: n * 784 }, () => 0.2 * r());
  labels.forEach((label, i) => {
    for (let col = 0; col < 28; col++) x[i * 784 + (2 + 2 * label) * 28 + col] = 1;
  });
  return { x, labels };
}

describe('model layouts', () => {
  it('LeNet-5 has the 61,706 parameters of the paper in PyTorch order', () => {
    const m = lenet5();
    expect(m.layout.size).toBe(61_706);
    expect(m.layout.prunableSize).toBe(61_470);
    expect(m.layout.segments.map((s) => s.name)).toEqual([
      'features.0.weight', 'features.0.bias', 'features.3.weight', 'features.3.bias',
      'classifier.0.weight', 'classifier.0.bias', 'classifier.2.weight', 'classifier.2.bias',
      'classifier.4.weight', 'classifier.4.bias',
    ]);
    expect(m.layout.segment('classifier.0.weight')).toMatchObject({ offset: 2572, size: 48_000, prunable: true });
  });

  it('the 784-200-200-10 perceptron has 199,210 parameters', () => {
    expect(mlp().layout.size).toBe(199_210);
  });

  it('fingerprints layouts so updates for another model are recognised', () => {
    expect(lenet5().layout.hash()).toBe(lenet5().layout.hash());
    expect(lenet5().layout.hash()).not.toBe(lenet5(100).layout.hash());
    expect(lenet5().layout.hash()).not.toBe(mlp().layout.hash());
  });

  it('initialises like PyTorch: weights and biases within ±1/√fan_in', () => {
    const m = lenet5();
    const p = initParameters(m.layout, lcg(1));
    const w = m.layout.view(p, 'classifier.0.weight');
    const bound = 1 / Math.sqrt(400);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.95 * bound);
    expect(Math.max(...m.layout.view(p, 'features.0.bias').map(Math.abs))).toBeLessThanOrEqual(1 / 5);
  });
});

for (const name of ['wasm', 'reference'] as const) {
  describe(`training on ${name}`, () => {
    let b: Backend;
    beforeAll(async () => { b = await createBackend(name); });
    afterAll(() => b.dispose());

    it('SGD on one batch drives its loss down', async () => {
      const m = lenet5();
      const net = new Network(m, b);
      net.setParameters(initParameters(m.layout, lcg(2)));
      const { x, labels } = batchOf(8, 3);
      net.trainStep(x, labels, { lr: 0.1 });
      const first = (await net.lastLoss()).ce;
      for (let i = 0; i < 100; i++) net.trainStep(x, labels, { lr: 0.1 });
      const last = (await net.lastLoss()).ce;
      expect(last).toBeLessThan(first * 0.5);
      net.dispose();
      expect(b.liveTensors).toBe(0);
    });

    it('computes at M⊙W but updates the dense W: pruned weights keep moving (error feedback)', async () => {
      const m = lenet5();
      // Dense kernels on both sides, so the pass on M⊙W is the same to the bit; the sparse path
      // (which this 50 % mask would select) is compared with it in sparse-network.test.ts.
      const net = new Network(m, b, { sparseCrossover: false });
      const w0 = initParameters(m.layout, lcg(4));
      net.setParameters(w0);
      const mask = new Uint8Array(m.layout.size).fill(1);
      const fc = m.layout.segment('classifier.0.weight');
      for (let i = fc.offset; i < fc.offset + fc.size; i += 2) mask[i] = 0; // prune every other weight
      net.setMask(mask);
      const { x, labels } = batchOf(4, 5);
      // The masked forward pass equals a dense pass on M⊙W.
      const masked = await net.predict(x, 4);
      const reference = new Network(m, b);
      reference.setParameters(w0.map((v, i) => v * mask[i]!));
      expect(Array.from(masked)).toEqual(Array.from(await reference.predict(x, 4)));
      reference.dispose();
      net.trainStep(x, labels, { lr: 0.5, weightDecay: 5e-4 });
      const w1 = await net.getParameters();
      // Every pruned weight feels weight decay, and those fed by a live feature a CE gradient too;
      // a rare one whose two terms cancel to within float32 rounding may stay put.
      let moved = 0;
      let withGradient = 0;
      for (let i = fc.offset; i < fc.offset + fc.size; i += 2) {
        if (w1[i] !== w0[i]) moved++;
        if (Math.abs(w1[i]! - w0[i]! * (1 - 0.5 * 5e-4)) > 1e-7) withGradient++;
      }
      expect(moved).toBeGreaterThan(0.99 * (fc.size / 2));
      expect(withGradient).toBeGreaterThan(1000);
      net.dispose();
    });

    it('computes with W under a full mask and with M⊙W under any other, as masks come and go', async () => {
      // A full mask skips the M⊙W pass (layers read W): switching between full and partial masks
      // after layers are bound must still give each pass the right weights, penalty included.
      const m = lenet5();
      const net = new Network(m, b, { sparseCrossover: false });
      const w0 = initParameters(m.layout, lcg(8));
      const half = new Uint8Array(m.layout.size).fill(1);
      for (const s of m.layout.prunable) for (let i = s.offset; i < s.offset + s.size; i += 2) half[i] = 0;
      const { x, labels } = batchOf(4, 9);
      const gradientsAt = async (w: Float32Array) => {
        const plain = new Network(m, b, { sparseCrossover: false });
        plain.setParameters(w);
        plain.computeGradients(x, labels, 0.01);
        const out = { g: await plain.getGradients(), loss: (await plain.lastLoss()).loss };
        plain.dispose();
        return out;
      };
      const dense = await gradientsAt(w0);
      const pruned = await gradientsAt(w0.map((v, i) => v * half[i]!));
      net.setParameters(w0);
      for (const [mask, want] of [[null, dense], [half, pruned], [null, dense], [new Uint8Array(m.layout.size).fill(1), dense], [half, pruned]] as const) {
        net.setMask(mask);
        net.computeGradients(x, labels, 0.01);
        expect(Array.from(await net.getGradients())).toEqual(Array.from(want.g));
        expect((await net.lastLoss()).loss).toBe(want.loss);
      }
      // Hard pruning under a full mask keeps W; under the half mask it zeroes what the mask drops.
      net.setMask(null);
      net.zeroMaskedWeights();
      expect(Array.from(await net.getParameters())).toEqual(Array.from(w0));
      net.setMask(half);
      net.zeroMaskedWeights();
      expect(Array.from(await net.getParameters())).toEqual(Array.from(w0.map((v, i) => v * half[i]!)));
      net.dispose();
    });

    it('adds λ·(M⊙W)/‖M⊙W‖ per prunable layer to the gradient and reports the penalty', async () => {
      const m = lenet5();
      const net = new Network(m, b);
      const w0 = initParameters(m.layout, lcg(6));
      net.setParameters(w0);
      const { x, labels } = batchOf(2, 7);
      net.computeGradients(x, labels, 0);
      const g0 = await net.getGradients();
      net.computeGradients(x, labels, 0.01);
      const g1 = await net.getGradients();
      const parts = await net.lastLoss();
      let reg = 0;
      for (const s of m.layout.prunable) {
        const w = m.layout.view(w0, s.name);
        const norm = Math.sqrt(w.reduce((a, v) => a + v * v, 0));
        reg += norm;
        const i = s.offset + 3;
        expect(g1[i]! - g0[i]!).toBeCloseTo(0.01 * w0[i]! / norm, 6);
      }
      const bias = m.layout.segment('features.0.bias').offset;
      expect(g1[bias]).toBe(g0[bias]);
      expect(parts.reg).toBeCloseTo(reg, 3);
      expect(parts.loss).toBeCloseTo(parts.ce + 0.01 * reg, 5);
      net.dispose();
    });
  });
}

// A ReLU in front of a max-pool runs after it (bindSequence): that must change no bit of any result,
// and reading the ReLU's activation must still give max(x, 0) of its input.
describe('ReLU in front of a max-pool', () => {
  for (const kind of ['reference', 'wasm'] as const) {
    it(`gives the same bits as the pool-then-ReLU model, and its own activation (${kind})`, async () => {
      const b = await createBackend(kind, { threads: 1 } as never);
      const build = (order: 'relu-pool' | 'pool-relu'): ModelDef => {
        const conv = new Conv2d('c', 1, 3, 3, { padding: 1 });
        const mid = order === 'relu-pool' ? [new ReLU(), new MaxPool2d(2)] : [new MaxPool2d(2), new ReLU()];
        const layers = [conv, ...mid, new Flatten(), new Linear('fc', 3 * 14 * 14, 10)];
        return { name: order, inputShape: [1, 28, 28], classes: 10, layers, layout: new ParamLayout(layers.flatMap((l) => l.params())) };
      };
      const [fused, plain] = [build('relu-pool'), build('pool-relu')];
      const w = initParameters(fused.layout, lcg(11));
      const { x, labels } = batchOf(4, 12);
      const results = [];
      for (const m of [fused, plain]) {
        const net = new Network(m, b);
        net.setParameters(w);
        net.trainStep(x, labels, { lr: 0.1 });
        net.computeGradients(x, labels, 0);
        results.push({ grads: await net.getGradients(), logits: await net.readActivation(4), conv: await net.readActivation(0), act: await net.readActivation(1) });
        net.dispose();
      }
      const [f, p] = results as [typeof results[0], typeof results[0]];
      expect(f.grads).toEqual(p.grads);
      expect(f.logits).toEqual(p.logits);
      expect(f.conv).toEqual(p.conv);
      expect(f.act).toEqual(f.conv.map((v) => Math.max(v, 0)));
      expect(f.act.some((v) => v === 0) && f.act.some((v) => v > 0)).toBe(true);
      b.dispose();
    });
  }
});
