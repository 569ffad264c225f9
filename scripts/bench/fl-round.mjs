// One FedDIP round of the paper's Fashion-MNIST setup (5 clients × 5 epochs × 1,200 samples, batch
// 128, then a 10,000-image evaluation), on synthetic data of the same shapes. The peer is an
// efficient PyTorch program of the same round (bench/peer_torch.py: feddip_round). Measured at the
// schedule's start (sparsity 0.5: dense kernels) and at its end (0.95: the sparse path), against the
// same dense PyTorch round, whose cost does not depend on the sparsity.
export const name = 'fl-round';

export async function run({ feddip, add }) {
  {
    const round = { clients: 5, epochs: 5, per_client: 1200, batch: 128, test: 10_000 };
    const rng = new feddip.Rng(0);
    const n = round.clients * round.per_client;
    const train = { images: Float32Array.from({ length: n * 784 }, () => rng.uniform()), labels: Int32Array.from({ length: n }, () => rng.int(10)) };
    const test = { images: Float32Array.from({ length: round.test * 784 }, () => rng.uniform()), labels: Int32Array.from({ length: round.test }, () => rng.int(10)), sampleSize: 784 };
    const partitions = Array.from({ length: round.clients }, (_, k) => Int32Array.from({ length: round.per_client }, (_, i) => k * round.per_client + i));
    for (const sparsity of [0.5, 0.95]) for (const threads of [1, 2]) {
      // t1: everything on one thread. t2: two client workers (1 kernel thread each, see fl/worker.ts),
      // and the evaluation on a 2-thread backend.
      const backend = await feddip.createBackend('wasm', { threads });
      const model = feddip.lenet5();
      const strategy = feddip.fl.feddip({ rounds: 100, fraction: 1, localEpochs: round.epochs, batch: round.batch, initSparsity: sparsity, sparsity: sparsity === 0.5 ? 0.9 : sparsity });
      const seconds = [];
      // Round 0 warms up (compilation, allocation); the median of rounds 1–3 is reported, as the
      // peer reports the median of three timed rounds.
      for await (const m of feddip.fl.simulate({
        model, backend, strategy, initial: feddip.initParameters(model.layout, () => rng.uniform()), train, test,
        partitions, rounds: 4, rng: new feddip.Rng(1), threads,
      })) seconds.push(m.seconds);
      const timedRounds = seconds.slice(1).sort((a, b) => a - b);
      const tag = sparsity === 0.5 ? '' : `_s${sparsity}`;
      add({ name: `feddip_round_lenet5_5x5x1200${tag}_t${threads}`, kind: 'feddip_round', ...round, sparsity, threads },
        { value: timedRounds[1], unit: 's/round', batch: round.batch, lowerIsBetter: true });
      backend.dispose();
    }
  }
}
