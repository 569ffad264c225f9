// A federated FedDIP run in Node: 10 simulated clients on a small synthetic data set, 4 rounds.
// Run: node examples/node.mjs   (after npm install; in your own project: import from 'feddip')
import { createBackend, fl, initParameters, mlp, Rng } from '../dist/feddip.js';

// A learnable toy task: each 28×28 image has one bright row, whose position is its label.
function toyData(n, rng) {
  const labels = Int32Array.from({ length: n }, () => rng.int(10));
  const images = Float32Array.from({ length: n * 784 }, () => 0.2 * rng.uniform());
  labels.forEach((label, i) => images.fill(1, i * 784 + (2 + 2 * label) * 28, i * 784 + (3 + 2 * label) * 28));
  return { images, labels };
}

const rng = new Rng(42);
const train = toyData(2000, rng.fork('train'));
const test = { ...toyData(500, rng.fork('test')), sampleSize: 784 };
const partitions = Array.from({ length: 10 }, (_, k) => Int32Array.from({ length: 200 }, (_, i) => k * 200 + i));
const model = mlp();
const backend = await createBackend('wasm');
const init = rng.fork('init');

for await (const m of fl.simulate({
  model, backend, train, test, partitions, rounds: 4, rng,
  strategy: fl.createStrategy('feddip', { rounds: 4, reconfig: 1, fraction: 0.3, localEpochs: 3, batch: 32, sparsity: 0.9 }),
  initial: initParameters(model.layout, () => init.uniform()),
})) {
  console.log(`round ${m.round + 1}: accuracy ${(100 * m.test_acc).toFixed(1)} %, sparsity ${(100 * m.sparsity).toFixed(1)} %, ${m.bytes_down + m.bytes_up} bytes on the wire`);
}
backend.dispose();
