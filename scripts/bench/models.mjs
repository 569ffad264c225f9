// One training step (forward, backward, SGD with weight decay; dropout and batch-norm in training
// mode) of the larger CIFAR models at batch 32, at 1 and 2 kernel threads. The peer runs the same
// architectures (bench/peer_torch.py: AlexNetCifar, ResNet18Cifar).
export const name = 'models';

const MODELS = [
  { id: 'alexnet_cifar', make: (f) => f.alexnetCifar(10), classes: 10 },
  { id: 'resnet18_cifar', make: (f) => f.resnet18Cifar(100), classes: 100 },
];

export async function run({ feddip, timed, rand, add, quick }) {
  const batch = 32;
  for (const threads of [1, 2]) {
    const backend = await feddip.createBackend('wasm', { threads });
    try {
      for (const m of MODELS) {
        const model = m.make(feddip);
        const net = new feddip.Network(model, backend);
        const rng = new feddip.Rng(0);
        net.setParameters(feddip.initParameters(model.layout, () => rng.uniform()));
        const x = rand(batch * 3 * 32 * 32);
        const labels = Int32Array.from({ length: batch }, (_, i) => i % m.classes);
        // Steps take 0.1–5 s: a few repetitions are enough against timer noise.
        const s = timed(() => net.trainStep(x, labels, { lr: 0.01, weightDecay: 5e-4 }), quick ? 0.05 : 0.5, 3);
        add({ name: `${m.id}_step_b${batch}_t${threads}`, kind: `${m.id}_step`, batch, classes: m.classes, threads },
          { value: s, unit: 's/step', batch, lowerIsBetter: true });
        net.dispose();
      }
    } finally {
      backend.dispose();
    }
  }
}
