// The sparse path inside Network: per-layer choice from the crossover table, the same losses,
// gradients and updates as the dense path (forward and input gradient at M⊙W from the CSR form,
// dense weight gradient for error feedback), structure rebuilt when the mask changes, the penalty,
// evaluation, and no leaked tensors — on every backend this machine runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BackendUnavailableError, BasicBlock, createBackend, DEFAULT_SPARSE_CROSSOVER, initParameters, LayerHarness, lenet5,
  Network, Rng, sparse, type Backend, type BackendName,
} from '../../src/index.ts';

const requireWebGpu = process.env.FEDDIP_REQUIRE_WEBGPU === '1';

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 1e-4) {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!)))) {
      throw new Error(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

function batch(n: number, seed: number) {
  const r = new Rng(seed);
  return { x: Float32Array.from({ length: n * 784 }, () => r.uniform()), labels: Int32Array.from({ length: n }, () => r.int(10)) };
}

const ALL_SPARSE = { linear: 0, conv: 0 };

for (const name of ['wasm', 'webgpu', 'reference'] as BackendName[]) {
  describe(`sparse path in Network on ${name}`, () => {
    let b: Backend | undefined;
    let why = '';
    beforeAll(async () => {
      try {
        b = await createBackend(name);
      } catch (error) {
        if (!(error instanceof BackendUnavailableError) || requireWebGpu) throw error;
        why = error.reason;
      }
    });
    afterAll(() => b?.dispose());
    const test = (title: string, body: (b: Backend) => Promise<void>) => it(title, async (ctx) => {
      if (!b) return ctx.skip(`unavailable: ${why}`);
      await body(b);
      expect(b.liveTensors).toBe(0);
    });
    // The reference backend is slow on whole models: a small batch keeps it to seconds.
    const n = name === 'reference' ? 3 : 8;

    test('LeNet-5 steps on the sparse path match the dense path at M⊙W, step after step', async (b) => {
      const model = lenet5();
      const r = new Rng(1);
      const w = initParameters(model.layout, () => r.uniform());
      const mask = sparse.layerwiseMagnitudeMask(w, model.layout.segments, 0.9);
      const nets = [new Network(model, b, { sparseCrossover: false }), new Network(model, b, { sparseCrossover: ALL_SPARSE })];
      try {
        for (const net of nets) {
          net.setParameters(w);
          net.setMask(mask);
        }
        expect(nets[0]!.paths().map((p) => p.path)).toEqual(['dense', 'dense', 'dense', 'dense', 'dense']);
        expect(nets[1]!.paths().map((p) => p.path)).toEqual(['sparse', 'sparse', 'sparse', 'sparse', 'sparse']);
        expect(nets[1]!.paths().map((p) => p.kind)).toEqual(['conv', 'conv', 'linear', 'linear', 'linear']);
        for (const p of nets[1]!.paths()) expect(p.sparsity).toBeCloseTo(0.9, 2);
        for (let step = 0; step < 3; step++) {
          const { x, labels } = batch(n, 10 + step);
          // Per-layer λ, one layer left out, large enough that the penalty's share of the gradient
          // is well above the tolerance: on the sparse path it comes from the kept values alone.
          const lambda = [0.05, 0, 0.1, 0.05, 0.02];
          // A forward-only pass in between (it gathers no Wᵀ) must leave the next backward pass right.
          if (step > 0) expectClose(await nets[1]!.predict(x, n), await nets[0]!.predict(x, n), `predict before step ${step}`);
          for (const net of nets) net.computeGradients(x, labels, lambda);
          const [dense, sparseNet] = nets as [Network, Network];
          const [ld, ls] = [await dense.lastLoss(), await sparseNet.lastLoss()];
          expect(ls.ce).toBeCloseTo(ld.ce, 4);
          expect(ls.reg).toBeCloseTo(ld.reg, 4);
          expectClose(await sparseNet.readActivation(model.layers.length - 1), await dense.readActivation(model.layers.length - 1), `logits step ${step}`);
          expectClose(await sparseNet.getGradients(), await dense.getGradients(), `gradients step ${step}`);
          for (const net of nets) net.applyUpdate(0.05, 5e-4);
          expectClose(await sparseNet.getParameters(), await dense.getParameters(), `parameters step ${step}`);
        }
        const { x } = batch(n, 99);
        expectClose(await nets[1]!.predict(x, n), await nets[0]!.predict(x, n), 'predict');
      } finally {
        for (const net of nets) net.dispose();
      }
    });

    test('picks the path per layer type from the crossover, and rebuilds the structure when the mask changes', async (b) => {
      const model = lenet5();
      const r = new Rng(2);
      const w = initParameters(model.layout, () => r.uniform());
      const net = new Network(model, b, { sparseCrossover: { conv: 0.5, linear: 0.95 } });
      const dense = new Network(model, b, { sparseCrossover: false });
      try {
        for (const m of [net, dense]) m.setParameters(w);
        // No mask yet: nothing is pruned, everything dense.
        expect(net.paths().every((p) => p.path === 'dense' && p.sparsity === 0)).toBe(true);
        const paths = () => net.paths().map((p) => p.path).join();
        for (const [s, want] of [[0.9, 'sparse,sparse,dense,dense,dense'], [0.3, 'dense,dense,dense,dense,dense'], [0.97, 'sparse,sparse,sparse,sparse,sparse']] as const) {
          const mask = sparse.layerwiseMagnitudeMask(w, model.layout.segments, s);
          net.setMask(mask);
          dense.setMask(mask);
          expect(paths(), `at ${s}`).toBe(want);
          const { x, labels } = batch(n, 5);
          net.computeGradients(x, labels);
          dense.computeGradients(x, labels);
          expectClose(await net.getGradients(), await dense.getGradients(), `gradients at ${s}`);
        }
        net.setMask(null);
        expect(paths()).toBe('dense,dense,dense,dense,dense');
        // Defaults come from the measured table.
        const byDefault = new Network(model, b);
        byDefault.setMask(sparse.layerwiseMagnitudeMask(w, model.layout.segments, 0.99));
        const expected = (kind: 'conv' | 'linear') => (0.99 >= DEFAULT_SPARSE_CROSSOVER[kind] ? 'sparse' : 'dense');
        expect(byDefault.paths().map((p) => p.path)).toEqual(byDefault.paths().map((p) => expected(p.kind)));
        byDefault.dispose();
      } finally {
        net.dispose();
        dense.dispose();
      }
    });

    test('a fully pruned layer computes from its bias alone, and hard pruning keeps working', async (b) => {
      const model = lenet5();
      const r = new Rng(3);
      const w = initParameters(model.layout, () => r.uniform());
      const mask = sparse.layerwiseMagnitudeMask(w, model.layout.segments, 0.9);
      // Prune classifier.2 entirely: its output is its bias for every sample.
      const seg = model.layout.segment('classifier.2.weight');
      mask.fill(0, seg.offset, seg.offset + seg.size);
      const nets = [new Network(model, b, { sparseCrossover: false }), new Network(model, b, { sparseCrossover: ALL_SPARSE })];
      try {
        const { x, labels } = batch(n, 7);
        for (const net of nets) {
          net.setParameters(w);
          net.setMask(mask);
          net.computeGradients(x, labels, 5e-4);
          net.applyUpdate(0.1);
          net.zeroMaskedWeights();
        }
        expect(nets[1]!.paths().find((p) => p.name === 'classifier.2.weight')).toMatchObject({ nonzero: 0, sparsity: 1, path: 'sparse' });
        const [pd, ps] = [await nets[0]!.getParameters(), await nets[1]!.getParameters()];
        expectClose(ps, pd, 'parameters after a hard-pruned step');
        expectClose(await nets[1]!.predict(x, n), await nets[0]!.predict(x, n), 'predict');
        const bias = model.layout.view(ps, 'classifier.2.bias');
        const act = await nets[1]!.readActivation(model.layers.indexOf(model.layers.find((l) => (l as { name?: string }).name === 'classifier.2')!));
        for (let i = 0; i < n; i++) expectClose(act.subarray(i * 84, (i + 1) * 84), bias, `fully pruned layer, sample ${i}`);
      } finally {
        for (const net of nets) net.dispose();
      }
    });

    test('a residual block (stride 2, no bias, dense 1×1 shortcut) runs sparse through the layer harness', async (b) => {
      const block = new BasicBlock('', 4, 8, 2);
      const rows = name === 'reference' ? 2 : 4;
      const make = (crossover: false | typeof ALL_SPARSE) => new LayerHarness(block, b, [4, 6, 6], rows, { sparseCrossover: crossover });
      const hs = [make(false), make(ALL_SPARSE)];
      try {
        const r = new Rng(4);
        const p = initParameters(hs[0]!.layout, () => r.uniform());
        const mask = sparse.layerwiseMagnitudeMask(p, hs[0]!.layout.segments, 0.8);
        const x = Float32Array.from({ length: rows * 4 * 36 }, () => r.uniform() - 0.5);
        const dy = Float32Array.from({ length: rows * 8 * 9 }, () => r.uniform() - 0.5);
        const out = [];
        for (const h of hs) {
          h.setParameters(p);
          h.setMask(mask);
          h.forward(x, true);
          h.backward(dy);
          out.push({ y: await h.readOutput(), dx: await h.readInputGrad(), g: await h.getGradients() });
        }
        expect(hs[1]!.paths().map((q) => `${q.name}:${q.path}`)).toEqual(['conv1.weight:sparse', 'conv2.weight:sparse']);
        expectClose(out[1]!.y, out[0]!.y, 'block y');
        expectClose(out[1]!.dx, out[0]!.dx, 'block dx');
        expectClose(out[1]!.g, out[0]!.g, 'block gradients');
      } finally {
        for (const h of hs) h.dispose();
      }
    });
  });
}

describe('crossover option', () => {
  it('rejects tables that are not sparsities', async () => {
    const b = await createBackend('reference');
    try {
      expect(() => new Network(lenet5(), b, { sparseCrossover: { conv: -1 } })).toThrow(/crossover 'conv' must be a sparsity/);
      expect(() => new Network(lenet5(), b, { sparseCrossover: { linear: Number.NaN } })).toThrow(/crossover 'linear'/);
      expect(b.liveTensors).toBe(0);
    } finally {
      b.dispose();
    }
  });
});
