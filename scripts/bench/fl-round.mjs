// One FedDIP round of the paper's Fashion-MNIST setup (5 clients × 5 epochs × 1,200 samples, batch
// 128, then a 10,000-image evaluation), on synthetic data of the same shapes. The peer is an
// efficient PyTorch program of the same round (bench/peer_torch.py: feddip_round). Measured at the
// schedule's start (sparsity 0.5: dense kernels) and at its end (0.95: the sparse path), against the
// same dense PyTorch round, whose cost does not depend on the sparsity.
//
// The 95 % round starts from a model FedDIP really trained to 95 % (TRAINED_95, shipped with the
// package), not from initial weights pruned to 95 %: global magnitude pruning of
// initial weights removes every weight of fc1 (its initial magnitudes are the smallest), so no
// gradient reaches the convolutions and their backward passes cost next to nothing. That model's
// round measured 0.50 s against 0.61 s for the trained one (one thread, same build).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const name = 'fl-round';

/**
 * A FedDIP LeNet-5 at 95 %: a copy of reports/fmnist-lenet5/runs/iid/feddip-s0.95/seed-1/model.fdip
 * (Fashion-MNIST, --method feddip --sparsity 0.95, 200 rounds, seed 1; 88.39 % test accuracy).
 */
export const TRAINED_95 = 'bench/models/lenet5-fmnist-feddip-s0.95.fdip';

export async function run({ feddip, add, root }) {
  const trained = Float32Array.from(feddip.codec.decodeFrame(new Uint8Array(readFileSync(join(root, TRAINED_95)))).values);
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
        model, backend, strategy, initial: sparsity === 0.5 ? feddip.initParameters(model.layout, () => rng.uniform()) : trained, train, test,
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
