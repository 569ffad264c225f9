#!/usr/bin/env node
// Training memory and step time of one model on the wasm backend, as wasm32 sees it: the linear
// memory in use after the parameters are loaded, after the training steps, and reserved (wasm
// memory never shrinks, so that is the peak). Needs `npm run build:js`.
//
//   node scripts/train-memory.mjs --model resnet18-cifar --batch 128 --steps 2 --threads 1
//
// The first step allocates the batch's activations and the pool; the time is that of the others.
import { parseArgs } from 'node:util';
import { createBackend, initParameters, modelByName, Network, Rng } from '../dist/feddip.js';

const { values: o } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet18-cifar' },
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
  },
});
const positive = (name) => {
  const v = Number(o[name]);
  if (!Number.isSafeInteger(v) || v < 1) {
    console.error(`train-memory: --${name} must be a positive integer, got '${o[name]}'`);
    process.exit(2);
  }
  return v;
};
const [batch, steps, threads] = [positive('batch'), positive('steps'), positive('threads')];
const model = modelByName(o.model);
const backend = await createBackend('wasm', { threads });
const net = new Network(model, backend);
const rng = new Rng(0);
net.setParameters(initParameters(model.layout, () => rng.uniform()));
const loaded = backend.memoryStats();
const per = model.inputShape.reduce((a, c) => a * c, 1);
const x = Float32Array.from({ length: batch * per }, () => rng.uniform() * 2 - 1);
const labels = Int32Array.from({ length: batch }, (_, i) => i % model.classes);
let started = 0;
for (let i = 0; i < steps; i++) {
  if (i === 1) started = performance.now();
  net.trainStep(x, labels, { lr: 0.01, weightDecay: 5e-4, lambda: 1e-4 });
  await net.lastLoss();
}
const elapsed = steps > 1 ? (performance.now() - started) / (steps - 1) / 1000 : undefined;
const after = backend.memoryStats();
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
console.log(`${model.name}, batch ${batch}, ${backend.threading.threads} thread(s), ${steps} step(s)`);
console.log(`  wasm memory in use: ${mb(loaded.inUse)} with the parameters loaded, ${mb(after.inUse)} after training`);
console.log(`  per image of the batch: ${((after.inUse - loaded.inUse) / batch / 1e6).toFixed(3)} MB (activations kept for backward, the pool, the conv workspace)`);
console.log(`  reserved (the peak; wasm32 ends at 4,294,967,296 bytes): ${mb(after.reserved)}`);
if (elapsed !== undefined) console.log(`  ${elapsed.toFixed(2)} s per step after the first`);
net.dispose();
backend.dispose();
