// LeNet-5 training throughput: one SGD step on a preloaded batch.
export const name = 'lenet5';

export async function run({ feddip, timed, rand, add, note }) {
  const backend = await feddip.createBackend('wasm');
  try {
    for (const batch of [64, 128]) {
      const model = feddip.lenet5();
      const net = new feddip.Network(model, backend);
      net.setParameters(feddip.initParameters(model.layout, Math.random));
      const x = rand(batch * 784);
      const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
      const s = timed(() => net.trainStep(x, labels, { lr: 0.01, weightDecay: 5e-4 }));
      add({ name: `lenet5_train_b${batch}_t1`, kind: 'lenet5_train', batch, threads: 1 }, { value: batch / s, unit: 'samples/s', batch });
      net.dispose();
    }
    note('lenet5_train entries are 1-thread: the wasm kernels run on one thread; the federated round uses 1 or 2 client workers');
  } finally {
    backend.dispose();
  }
}
