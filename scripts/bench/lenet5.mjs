// LeNet-5 training throughput: one SGD step on a preloaded batch, at 1 and 2 kernel threads, in the
// default SIMD build (relaxed where the engine has it); `_baseline` entries run plain SIMD at 1
// thread, against the same peer, to show what the fused multiply-add is worth.
export const name = 'lenet5';

export async function run({ feddip, timed, rand, add }) {
  for (const { threads, simd } of [{ threads: 1 }, { threads: 2 }, { threads: 1, simd: 'baseline' }]) {
    const backend = await feddip.createBackend('wasm', { threads, simd });
    try {
      for (const batch of [64, 128]) {
        const model = feddip.lenet5();
        const net = new feddip.Network(model, backend);
        net.setParameters(feddip.initParameters(model.layout, Math.random));
        const x = rand(batch * 784);
        const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
        const s = timed(() => net.trainStep(x, labels, { lr: 0.01, weightDecay: 5e-4 }));
        add({ name: `lenet5_train_b${batch}_t${threads}${simd ? `_${simd}` : ''}`, kind: 'lenet5_train', batch, threads },
          { value: batch / s, unit: 'samples/s', batch, ...(simd ? { simd } : {}) });
        net.dispose();
      }
    } finally {
      backend.dispose();
    }
  }
}
