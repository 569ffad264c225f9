// Test-set evaluation: the batch it picks keeps big models inside wasm32's memory, and the result
// does not depend on the batch.
import { describe, expect, it } from 'vitest';
import { alexnetCifar, createBackend, fl, initParameters, lenet5, Network, resnet18Cifar, Rng } from '../../src/index.ts';

describe('evaluation batch', () => {
  it('is large for small models and small for ResNet-18 (whose 1,000-image batch needs ~8 GB)', () => {
    expect(fl.evalBatchFor(lenet5())).toBeGreaterThanOrEqual(500);
    expect(fl.evalBatchFor(alexnetCifar(10))).toBeLessThan(200);
    const resnet = fl.evalBatchFor(resnet18Cifar(100));
    expect(resnet).toBeGreaterThanOrEqual(1);
    expect(resnet).toBeLessThanOrEqual(32);
    expect(fl.evalBatchFor(lenet5(), 1)).toBe(1);
  });

  it('gives the same accuracy and loss whatever the batch', async () => {
    const backend = await createBackend('wasm', { threads: 1 });
    try {
      const model = lenet5();
      const net = new Network(model, backend);
      const rng = new Rng(4);
      const weights = initParameters(model.layout, () => rng.uniform());
      const n = 37;
      const data = { images: Float32Array.from({ length: n * 784 }, () => rng.uniform()), labels: Int32Array.from({ length: n }, () => rng.int(10)), sampleSize: 784 };
      const a = await fl.evaluate(net, weights, data);
      const b = await fl.evaluate(net, weights, data, 5);
      expect(b.accuracy).toBe(a.accuracy);
      expect(b.top5).toBe(a.top5);
      expect(b.loss).toBeCloseTo(a.loss, 6);
      net.dispose();
    } finally {
      backend.dispose();
    }
  });
});
