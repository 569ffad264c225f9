// `npm run bench`: our kernels and training step against PyTorch on the same CPU, measured in the
// same command. Writes bench/results.json ({name, unit, ours, peer, ratio, threads, batch, …}) and
// prints a table. ratio > 1 means we are faster: ours/peer for throughputs, peer/ours for times.
// Medians of 5 runs.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as feddip from '../dist/feddip.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = process.env.FEDDIP_PEER_PYTHON ?? '/usr/bin/python3';
const quick = process.argv.includes('--quick');

function timed(fn, minTime = quick ? 0.05 : 0.25, reps = quick ? 3 : 5) {
  fn();
  let n = 1;
  for (;;) {
    const t = performance.now();
    for (let i = 0; i < n; i++) fn();
    if ((performance.now() - t) / 1000 >= minTime / 4) break;
    n *= 2;
  }
  const samples = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) fn();
    samples.push((performance.now() - t) / 1000 / n);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const rand = (n) => Float32Array.from({ length: n }, () => Math.random());

async function simdPeak() {
  const bytes = readFileSync(join(root, 'build', 'wasm', 'peak.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { env: { abort() {} } });
  const iters = 2_000_000;
  const s = timed(() => instance.exports.simdPeak(iters, 1));
  return (iters * 12 * 8) / s / 1e9;
}

const backend = await feddip.createBackend('wasm');
const cases = [];
const ours = {};

// GEMM C = A·Bᵀ, as the linear layer's forward pass runs it.
for (const size of [64, 128, 256, 512]) {
  const name = `gemm_nt_${size}`;
  cases.push({ name, kind: 'gemm_nt', m: size, n: size, k: size, threads: 1 });
  const x = backend.tensor('f32', [size, size], rand(size * size));
  const w = backend.tensor('f32', [size, size], rand(size * size));
  const y = backend.tensor('f32', [size, size]);
  const s = timed(() => backend.linearForward({ x, w, y }));
  ours[name] = { value: (2 * size ** 3) / s / 1e9, unit: 'GFLOP/s', threads: 1, batch: size, flops: true };
  for (const t of [x, w, y]) backend.release(t);
}

// LeNet's fc1 (400→120) forward + both backward products at batch 128.
{
  const name = 'linear_400x120_train_b128';
  cases.push({ name, kind: 'linear_train', batch: 128, in: 400, out: 120, threads: 1 });
  const t = {
    x: backend.tensor('f32', [128, 400], rand(128 * 400)), w: backend.tensor('f32', [120, 400], rand(48000)),
    b: backend.tensor('f32', [120], rand(120)), y: backend.tensor('f32', [128, 120]), dy: backend.tensor('f32', [128, 120], rand(128 * 120)),
    dx: backend.tensor('f32', [128, 400]), dw: backend.tensor('f32', [120, 400]), db: backend.tensor('f32', [120]),
  };
  const s = timed(() => {
    backend.linearForward({ x: t.x, w: t.w, b: t.b, y: t.y });
    backend.linearBackward({ x: t.x, w: t.w, dy: t.dy, dx: t.dx, dw: t.dw, db: t.db });
  });
  ours[name] = { value: (6 * 128 * 400 * 120) / s / 1e9, unit: 'GFLOP/s', threads: 1, batch: 128, flops: true };
  for (const v of Object.values(t)) backend.release(v);
}

// LeNet-5 training throughput (SGD step, preloaded batch), when the engine has the conv kernels.
const notes = [];
if (typeof backend.conv2dForward === 'function') {
  for (const batch of [64, 128]) {
    const name = `lenet5_train_b${batch}_t1`;
    cases.push({ name, kind: 'lenet5_train', batch, threads: 1 });
    const model = feddip.lenet5();
    const net = new feddip.Network(model, backend);
    net.setParameters(feddip.initParameters(model.layout, Math.random));
    const x = rand(batch * 784);
    const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
    const s = timed(() => net.trainStep(x, labels, { lr: 0.01, weightDecay: 5e-4 }));
    ours[name] = { value: batch / s, unit: 'samples/s', threads: 1, batch };
    net.dispose();
  }
} else {
  notes.push('lenet5_train_*: skipped, this build has no conv2d kernels yet');
}
notes.push('kernel and lenet5_train entries are 1-thread (the wasm kernels are single-threaded); the federated round uses 1 or 2 client workers');

// One FedDIP round of the paper's Fashion-MNIST setup (5 clients × 5 epochs × 1,200 samples, batch
// 128, then a 10,000-image evaluation), on synthetic data of the same shapes. The peer is an
// efficient PyTorch program of the same round (bench/peer_torch.py: feddip_round).
{
  const name = 'feddip_round_lenet5_5x5x1200';
  const round = { clients: 5, epochs: 5, per_client: 1200, batch: 128, test: 10_000 };
  const rng = new feddip.Rng(0);
  const n = round.clients * round.per_client;
  const train = { images: Float32Array.from({ length: n * 784 }, () => rng.uniform()), labels: Int32Array.from({ length: n }, () => rng.int(10)) };
  const test = { images: Float32Array.from({ length: round.test * 784 }, () => rng.uniform()), labels: Int32Array.from({ length: round.test }, () => rng.int(10)), sampleSize: 784 };
  const partitions = Array.from({ length: round.clients }, (_, k) => Int32Array.from({ length: round.per_client }, (_, i) => k * round.per_client + i));
  for (const threads of [1, 2]) {
    const caseName = `${name}_t${threads}`;
    cases.push({ name: caseName, kind: 'feddip_round', ...round, threads });
    const model = feddip.lenet5();
    const strategy = feddip.fl.feddip({ rounds: 100, fraction: 1, localEpochs: round.epochs, batch: round.batch });
    const seconds = [];
    // Round 0 warms up (compilation, allocation); round 1 is the one reported.
    for await (const m of feddip.fl.simulate({
      model, backend, strategy, initial: feddip.initParameters(model.layout, () => rng.uniform()), train, test,
      partitions, rounds: 2, rng: new feddip.Rng(1), threads,
    })) seconds.push(m.seconds);
    ours[caseName] = { value: seconds[1], unit: 's/round', threads, batch: round.batch, lowerIsBetter: true };
  }
}
// The peer, in the same command.
let peer = {};
let peerNote = '';
if (existsSync(PYTHON)) {
  // OpenBLAS and OpenMP start their own thread pools, which torch.set_num_threads does not bound:
  // run the peer once per thread count with those pools pinned, or a "1-thread" peer would use
  // every core.
  for (const threads of [...new Set(cases.map((c) => c.threads))]) {
    const group = cases.filter((c) => c.threads === threads);
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    const r = spawnSync(PYTHON, [join(root, 'bench', 'peer_torch.py')], { input: JSON.stringify(group), encoding: 'utf8', maxBuffer: 1 << 24, env });
    if (r.status === 0) Object.assign(peer, JSON.parse(r.stdout));
    else peerNote = `peer failed: ${r.stderr.split('\n').filter(Boolean).slice(-1)[0]}`;
  }
} else {
  peerNote = `peer not run: ${PYTHON} not found (apt-get install python3-torch libopenblas0-pthread)`;
}

backend.dispose();
const peak = await simdPeak();
const results = [{ name: 'wasm_simd_peak', unit: 'GFLOP/s', ours: peak, peer: null, ratio: null, threads: 1, batch: null }];
for (const c of cases) {
  const o = ours[c.name];
  const p = peer[c.name] ? (ours[c.name].lowerIsBetter ? peer[c.name].median_s : peer[c.name].value) : null;
  results.push({
    // Throughputs: ours/peer (> 1 is better). Times (lower is better): peer/ours, so > 1 is better too.
    name: c.name, unit: o.unit, ours: o.value, peer: p, ratio: p ? (o.lowerIsBetter ? p / o.value : o.value / p) : null, threads: o.threads, batch: o.batch,
    ...(o.flops ? { of_simd_peak: o.value / peak } : {}),
  });
}

mkdirSync(join(root, 'bench'), { recursive: true });
const out = {
  date: new Date().toISOString(),
  machine: { runtime: `node ${process.versions.node}`, cpus: (await import('node:os')).cpus()[0]?.model ?? 'unknown', peer: 'PyTorch (Debian python3-torch) on the CPU' },
  notes: [...notes, ...(peerNote ? [peerNote] : [])],
  results,
};
writeFileSync(join(root, 'bench', 'results.json'), `${JSON.stringify(out, null, 2)}\n`);

const fmt = (v) => (v === null || v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(2));
console.log('| name | unit | ours | peer (PyTorch) | speed-up vs peer | of SIMD peak |');
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const r of results) console.log(`| ${r.name} | ${r.unit} | ${fmt(r.ours)} | ${fmt(r.peer)} | ${fmt(r.ratio)} | ${r.of_simd_peak ? `${(100 * r.of_simd_peak).toFixed(0)} %` : '—'} |`);
for (const n of out.notes) console.log(`note: ${n}`);
console.log('written: bench/results.json');
