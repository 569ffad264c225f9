// LeNet-5 training throughput: one SGD step on a preloaded batch, at 1 and 2 kernel threads.
export const name = 'lenet5';

export async function run({ feddip, timed, rand, add }) {
  for (const threads of [1, 2]) {
    const backend = await feddip.createBackend('wasm', { threads });
    try {
      for (const batch of [64, 128]) {
        const model = feddip.lenet5();
        const net = new feddip.Network(model, backend);
        net.setParameters(feddip.initParameters(model.layout, Math.random));
        const x = rand(batch * 784);
        const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
        const s = timed(() => net.trainStep(x, labels, { lr: 0.01, weightDecay: 5e-4 }));
        add({ name: `lenet5_train_b${batch}_t${threads}`, kind: 'lenet5_train', batch, threads }, { value: batch / s, unit: 'samples/s', batch });
        net.dispose();
      }
    } finally {
      backend.dispose();
    }
  }
}
