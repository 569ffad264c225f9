// Sparse inference: a pruned model compiled to CSR keeps only its kept weights (its memory follows
// the non-zeros), predicts what the training network predicts at M⊙W, loads from the wire frame
// the CLI exports, and evaluation picks the sparse path for a pruned model by itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  codec, createBackend, fl, initParameters, lenet5, mlp, Network, Rng, sparse, SparseModel,
  type Backend, type ModelDef,
} from '../../src/index.ts';
import type { WasmBackend } from '../../src/backend/wasm/backend.ts';

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 1e-4) {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!)))) {
      throw new Error(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

/** A deployed FedDIP model: initial weights pruned layer by layer to `s` (pruned entries are 0). */
function pruned(model: ModelDef, s: number, seed = 1) {
  const r = new Rng(seed);
  const w = initParameters(model.layout, () => r.uniform());
  const mask = sparse.layerwiseMagnitudeMask(w, model.layout.segments, s);
  for (const seg of model.layout.prunable) for (let i = seg.offset; i < seg.offset + seg.size; i++) w[i]! *= mask[i]!;
  return { w, mask };
}

const images = (n: number, seed: number) => {
  const r = new Rng(seed);
  return Float32Array.from({ length: n * 784 }, () => r.uniform());
};

describe('SparseModel', () => {
  let b: Backend;
  beforeAll(async () => { b = await createBackend('wasm'); });
  afterAll(() => b.dispose());

  it('predicts what the network predicts at M⊙W, at every sparsity, with sparse and dense layers mixed', async () => {
    const model = lenet5();
    const net = new Network(model, b, { sparseCrossover: false });
    try {
      for (const s of [0, 0.5, 0.95, 0.99]) {
        const { w, mask } = pruned(model, s);
        net.setParameters(w);
        net.setMask(mask);
        const x = images(5, 3);
        const want = await net.predict(x, 5);
        for (const crossover of [undefined, { conv: 2, linear: 0 }, { conv: 0, linear: 0 }] as const) {
          const m = SparseModel.compile(model, b, w, { sparseCrossover: crossover });
          try {
            expectClose(await m.predict(x, 5), want, `logits at ${s}, crossover ${JSON.stringify(crossover)}`);
            if (crossover?.conv === 2) expect(m.paths().map((p) => p.path)).toEqual(['dense', 'dense', 'sparse', 'sparse', 'sparse']);
          } finally {
            m.dispose();
          }
        }
      }
    } finally {
      net.dispose();
    }
  });

  it('takes memory in proportion to the kept weights: 99 % sparse vs 50 %', async () => {
    const model = mlp();
    const heap = () => (b as WasmBackend).memoryStats().inUse;
    const measure = (s: number) => {
      const { w } = pruned(model, s, 2);
      const before = heap();
      const m = SparseModel.compile(model, b, w, { sparseCrossover: { linear: 0, conv: 0 } });
      const used = heap() - before;
      const bytes = m.parameterBytes;
      const kept = m.paths().reduce((n, p) => n + p.nonzero, 0);
      m.dispose();
      expect(heap()).toBe(before);
      return { used, bytes, kept };
    };
    const half = measure(0.5);
    const extreme = measure(0.99);
    // CSR: 8 bytes per kept weight plus 4 per row pointer; biases dense (410 floats).
    const rowPointers = (200 + 1) + (200 + 1) + (10 + 1);
    expect(extreme.bytes).toBe(8 * extreme.kept + 4 * rowPointers + 4 * 410);
    expect(half.bytes).toBe(8 * half.kept + 4 * rowPointers + 4 * 410);
    expect(extreme.kept / half.kept).toBeCloseTo(0.02, 2);
    // What the heap actually hands out (64-byte blocks) follows the same count.
    expect(extreme.used).toBeLessThan(0.03 * half.used + 64 * 20);
    // A dense copy of the weights alone would be 199,210 floats; CSR pays 8 bytes per kept weight.
    expect(extreme.used).toBeLessThan(0.025 * 4 * model.layout.size);
  });

  it('loads the model frame the CLI exports, whose sent entries are the kept weights', async () => {
    const model = lenet5();
    const { w, mask } = pruned(model, 0.97, 3);
    const frame = codec.encodeFrame(w, {
      kind: 'model', round: 7, layoutHash: model.layout.hash(), segmentSizes: model.layout.segments.map((s) => s.size), sent: mask,
    });
    const dense = codec.encodeFrame(w, { kind: 'model', round: 7, layoutHash: model.layout.hash(), segmentSizes: model.layout.segments.map((s) => s.size), sent: new Uint8Array(w.length).fill(1) });
    expect(frame.length).toBeLessThan(0.1 * dense.length);
    const a = SparseModel.fromFrame(model, b, frame);
    const c = SparseModel.compile(model, b, w);
    try {
      const x = images(3, 4);
      expect(await a.predict(x, 3)).toEqual(await c.predict(x, 3));
      expect(a.paths().map((p) => p.nonzero)).toEqual(c.paths().map((p) => p.nonzero));
      expect(() => SparseModel.fromFrame(mlp(), b, frame)).toThrow(/layout/);
    } finally {
      a.dispose();
      c.dispose();
    }
  });

  it('rejects inputs of the wrong size and weights of another model', async () => {
    const model = lenet5();
    const { w } = pruned(model, 0.9);
    expect(() => SparseModel.compile(mlp(), b, w)).toThrow();
    const m = SparseModel.compile(model, b, w);
    try {
      await expect(m.predict(new Float32Array(10), 1)).rejects.toThrow(/784 input values/);
    } finally {
      m.dispose();
    }
  });
});

describe('evaluation of a pruned model', () => {
  it('runs pruned layers on the sparse path and scores them as the compiled model does', async () => {
    const b = await createBackend('wasm');
    try {
      const model = lenet5();
      const { w } = pruned(model, 0.97, 5);
      const n = 60;
      const r = new Rng(9);
      const data = { images: images(n, 6), labels: Int32Array.from({ length: n }, () => r.int(10)), sampleSize: 784 };
      const net = new Network(model, b);
      const m = SparseModel.compile(model, b, w);
      try {
        const viaNet = await fl.evaluate(net, w, data, 25);
        expect(net.paths().every((p) => p.path === 'sparse')).toBe(true);
        const viaModel = await fl.evaluatePredictor(m, data, 25);
        expect(viaNet.accuracy).toBe(viaModel.accuracy);
        expect(viaNet.loss).toBeCloseTo(viaModel.loss, 5);
        // The same network evaluates a dense model on the dense path.
        const dense = initParameters(model.layout, () => r.uniform());
        await fl.evaluate(net, dense, data, 25);
        expect(net.paths().every((p) => p.path === 'dense')).toBe(true);
      } finally {
        net.dispose();
        m.dispose();
      }
      expect(b.liveTensors).toBe(0);
    } finally {
      b.dispose();
    }
  });
});
