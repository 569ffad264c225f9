// `npm run bench [-- --quick] [-- --only suite,suite]`: our kernels, training steps and FL round
// against PyTorch on the same CPU, measured in the same command. Writes bench/results.json
// ({name, unit, ours, peer, ratio, threads, batch, …}) and prints a table. ratio > 1 means we are
// faster: ours/peer for throughputs, peer/ours for times. Each measurement is a median of 5 runs;
// the whole bench runs in PASSES passes, ours and the peer's alternating (see "Passes").
//
// Suites live in scripts/bench/*.mjs (listed in scripts/bench/index.mjs). A suite calls
// `add(case, ours)`: `case` is {name, kind, threads, ...shape} and is sent to bench/peer_torch.py
// unless `peer: false`; `ours` is {value, unit, batch, flops?, lowerIsBetter?, simd?} (simd: the
// SIMD build, when not the default one). With --only, the entries of the other suites already in
// results.json are kept. --list prints the suites.
// The first Ctrl-C (SIGINT) stops after the suite in flight and writes what was measured, exit
// 130; a second one aborts. `feddip bench` runs this file (it ships with the package).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as feddip from '../dist/feddip.js';
import { makeTimer, rand } from './bench/harness.mjs';
import { suites } from './bench/index.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = process.env.FEDDIP_PEER_PYTHON ?? '/usr/bin/python3';
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
/** Passes over the suites, each followed by one run of the peer per thread count (see "Passes"); one when --quick. */
const PASSES = quick ? 1 : 3;
const flagValue = (flag) => { const i = argv.indexOf(flag); return i >= 0 ? argv[i + 1] : undefined; };
const only = flagValue('--only')?.split(',').map((s) => s.trim()).filter(Boolean);
const outPath = flagValue('--out') ?? join(root, 'bench', 'results.json');

// Anything else is refused before a suite starts: a mistyped flag must not cost a full run that
// then overwrites bench/results.json.
const USAGE = 'usage: npm run bench [-- --quick] [-- --only suite,suite] [-- --out file.json] [-- --list]';
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(`${USAGE}\n  --quick  fewer repetitions\n  --only   these suites (the others' entries in the results file are kept)\n  --out    results file (default bench/results.json)\n  --list   the suites`);
  process.exit(0);
}
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--only' || argv[i] === '--out') {
    if (argv[i + 1] === undefined || argv[i + 1].startsWith('--')) { console.error(`${argv[i]} needs a value\n${USAGE}`); process.exit(2); }
    i++;
  } else if (argv[i] !== '--quick' && argv[i] !== '--list') {
    console.error(`unknown argument '${argv[i]}'\n${USAGE}`);
    process.exit(2);
  }
}
if (argv.includes('--list')) {
  for (const s of suites) console.log(s.name);
  process.exit(0);
}
let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error('\nbench: stopping after the suite in flight (Ctrl-C again to abort)');
});
if (only) {
  const unknown = only.filter((n) => !suites.some((s) => s.name === n));
  if (unknown.length) {
    console.error(`unknown bench suite(s): ${unknown.join(', ')}; available: ${suites.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
}
const selected = suites.filter((s) => !only || only.includes(s.name));
const timed = makeTimer(quick);
/** Every case, as the first pass added it. */
const cases = [];
/** name → our value in each pass, and the peer's result in each of its runs. */
const ours = {};
const peer = {};
const notes = [];
/** The suites' notes, per pass: a note with figures in it can differ from one pass to the next. */
const passNotes = [];
let peerNote = '';
const peerAvailable = existsSync(PYTHON);

// Passes. On this shared 2-core machine a measurement can come out 1.5–2× slow for minutes at a time
// (worst on two threads: other work on either core stalls every split kernel), and PyTorch's runs
// collapse now and then (its 2-thread LeNet-5 training has measured slower than its 1-thread one).
// One measurement of each side would compare one side's quiet minute with the other's noisy one.
// So the suites run PASSES times, and after each pass the peer runs once per thread count in a
// separate process: both sides are measured PASSES times, interleaved, and a case that has a peer
// keeps each side's fastest pass (what each does when the machine lets it). A case without a peer
// keeps the median of our passes.
//
// The suites time synchronous loops, so a SIGINT is only handled on a turn of the event loop:
// take one before each suite and after the last.
const turn = () => new Promise((resolve) => setImmediate(resolve));
const ran = [];
let passes = 0;
for (let pass = 0; pass < PASSES && !interrupted; pass++) {
  if (PASSES > 1) console.error(`bench: pass ${pass + 1} of ${PASSES}`);
  for (const suite of selected) {
    await turn();
    if (interrupted) break;
    if (pass === 0) ran.push(suite);
    const t0 = performance.now();
    await suite.run({
      feddip, quick, timed, rand, root,
      add(spec, value) {
        const runs = (ours[spec.name] ??= []);
        if (runs.length > pass) throw new Error(`bench case ${spec.name} added twice`);
        if (pass === 0) cases.push({ ...spec, suite: suite.name });
        else if (!cases.some((c) => c.name === spec.name)) throw new Error(`bench case ${spec.name} appeared in pass ${pass + 1} only`);
        runs.push({ threads: spec.threads, ...value });
      },
      note: (text) => (passNotes[pass] ??= []).push({ suite: suite.name, text }),
    });
    console.error(`bench: ${suite.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  await turn();
  if (interrupted) break;
  passes++;
  runPeer();
}

// The peer, in the same command: one process per thread count. OpenBLAS and OpenMP start their own
// thread pools, which torch.set_num_threads does not bound: each process runs with those pools
// pinned, or a "1-thread" peer would use every core.
function runPeer() {
  const peerCases = cases.filter((c) => c.peer !== false);
  if (!peerCases.length || peerNote) return;
  if (!peerAvailable) {
    peerNote = `peer not run: ${PYTHON} not found (apt-get install python3-torch libopenblas0-pthread)`;
    return;
  }
  for (const threads of [...new Set(peerCases.map((c) => c.threads))]) {
    const group = peerCases.filter((c) => c.threads === threads);
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    const r = spawnSync(PYTHON, [join(root, 'bench', 'peer_torch.py')], { input: JSON.stringify(group), encoding: 'utf8', maxBuffer: 1 << 24, env });
    if (r.status !== 0) {
      peerNote = `peer failed: ${r.stderr.split('\n').filter(Boolean).slice(-1)[0]}`;
      return;
    }
    for (const [name, result] of Object.entries(JSON.parse(r.stdout))) (peer[name] ??= []).push(result);
  }
}
// Stopped during the first pass: the peer still runs once, for the cases measured.
if (passes === 0 && cases.length) runPeer();
// A note every pass wrote alike is kept as it is; one whose figures moved comes from the last
// complete pass (the first, when stopped during it), marked so.
const notesFrom = Math.max(0, passes - 1);
/** suite → its notes from this run (the general notes stay in `notes`). */
const suiteNotes = {};
for (const { suite, text } of passNotes[notesFrom] ?? []) {
  const same = passNotes.every((list) => list.some((n) => n.suite === suite && n.text === text));
  (suiteNotes[suite] ??= []).push(same ? text : `(pass ${notesFrom + 1} of ${passNotes.length}) ${text}`);
}
if (passes > 1) {
  notes.push(`passes: ours and the peer were measured ${passes} times each, alternating (our suites, then one peer process per thread count); `
    + 'an entry with a peer keeps each side\'s fastest pass (ours_runs and peer_runs list them all), one without a peer the median of ours');
}

// The machine's WASM SIMD ceilings, per thread: register-only loops (generated by
// scripts/build-wasm.mjs) with several counts of independent chains, the fastest count of each:
// simdPeak<K> multiplies and adds as plain SIMD must, simdFmaPeak<K> fuses them as the relaxed build
// does. Kernels are rated against the ceiling of the build the backend ran (`simd` in the results:
// 'relaxed' wherever the engine has it, which the backend turns on in Node 20 itself).
async function simdPeak(file, pattern, chainsPerIter) {
  if (!existsSync(file)) {
    notes.push(`${file} is missing (npm run build:wasm makes it): its ceiling was not measured`);
    return null;
  }
  let instance;
  try {
    ({ instance } = await WebAssembly.instantiate(readFileSync(file), { env: { abort() {} } }));
  } catch (error) {
    notes.push(`${file} did not compile here (${error.message}): its ceiling was not measured`);
    return null;
  }
  const iters = 2_000_000;
  let best = 0;
  for (const [name, run] of Object.entries(instance.exports)) {
    const k = Number(pattern.exec(name)?.[1]);
    if (!k) continue;
    const s = timed(() => run(iters, 1));
    best = Math.max(best, (iters * 2 * chainsPerIter(k) * 2 * 4) / s / 1e9);
  }
  return best;
}
// The build a default backend runs (creating one also lets Node 20 compile relaxed SIMD).
const probe = await feddip.createBackend('wasm', { threads: 1 });
const simd = probe.simd.kind;
probe.dispose();
const plainPeak = await simdPeak(join(root, 'build', 'wasm', 'peak.wasm'), /^simdPeak(\d+)$/, (pairs) => pairs);
const fmaPeak = await simdPeak(join(root, 'build', 'wasm', 'peak-relaxed.wasm'), /^simdFmaPeak(\d+)$/, (chains) => chains);
const peakOf = (build) => (build === 'relaxed' ? fmaPeak : plainPeak);
notes.push(`kernels ran the ${simd} SIMD build unless their entry says otherwise (simd); "of SIMD peak" is against the ceiling of the entry's build: wasm_relaxed_simd_peak (fused multiply-add) for relaxed, wasm_simd_peak (multiply + add) for baseline`);

const fresh = [
  ...(plainPeak === null ? [] : [{ name: 'wasm_simd_peak', unit: 'GFLOP/s', ours: plainPeak, peer: null, ratio: null, threads: 1, batch: null, simd: 'baseline' }]),
  ...(fmaPeak === null ? [] : [{ name: 'wasm_relaxed_simd_peak', unit: 'GFLOP/s', ours: fmaPeak, peer: null, ratio: null, threads: 1, batch: null, simd: 'relaxed' }]),
];
/** The better of two of our values for this case: the larger throughput, or the shorter time. */
const better = (a, b) => (a.lowerIsBetter ? a.value <= b.value : a.value >= b.value);
for (const c of cases) {
  const runs = ours[c.name];
  const peerRuns = peer[c.name] ?? [];
  // With a peer: our fastest pass against the peer's fastest run. Without: the median pass.
  const o = peerRuns.length ? runs.reduce((best, r) => (better(r, best) ? r : best))
    : [...runs].sort((a, b) => a.value - b.value)[Math.floor(runs.length / 2)];
  const fastest = peerRuns.length ? peerRuns.reduce((best, r) => (r.median_s < best.median_s ? r : best)) : null;
  const peerValue = (r) => (o.lowerIsBetter ? r.median_s : r.value);
  const p = fastest ? peerValue(fastest) : null;
  const ceiling = peakOf(o.simd ?? simd);
  fresh.push({
    // Throughputs: ours/peer (> 1 is better). Times (lower is better): peer/ours, so > 1 is better too.
    name: c.name, suite: c.suite, unit: o.unit, ours: o.value, peer: p, ratio: p ? (o.lowerIsBetter ? p / o.value : o.value / p) : null,
    threads: o.threads, batch: o.batch ?? null, simd: o.simd ?? simd,
    // A kernel on t threads can at best reach t ceilings.
    ...(o.flops && ceiling !== null ? { of_simd_peak: o.value / (ceiling * (o.threads ?? 1)) } : {}),
    ...(o.extra ?? {}),
    ...(runs.length > 1 ? { ours_runs: runs.map((r) => r.value) } : {}),
    ...(peerRuns.length > 1 ? { peer_runs: peerRuns.map(peerValue) } : {}),
  });
}

// With --only, or when stopped early, keep what the suites not run measured before (their own date
// stays in `measured`).
const partial = only || ran.length < suites.length;
let previous = { results: [], notes: [] };
if (partial && existsSync(outPath)) previous = JSON.parse(readFileSync(outPath, 'utf8'));
const now = new Date().toISOString();
const freshNames = new Set(fresh.map((r) => r.name));
const kept = (previous.results ?? []).filter((r) => !freshNames.has(r.name) && !ran.some((s) => s.name === r.suite));
const results = [...kept.map((r) => ({ measured: previous.date, ...r })), ...fresh.map((r) => ({ ...r, measured: now }))];
const notesBySuite = {
  ...Object.fromEntries(Object.entries(partial ? previous.notes_by_suite ?? {} : {}).filter(([suite]) => !ran.some((r) => r.name === suite))),
  ...suiteNotes,
};

mkdirSync(dirname(outPath), { recursive: true });
const out = {
  date: now,
  machine: { runtime: `node ${process.versions.node}`, cpus: cpus()[0]?.model ?? 'unknown', cores: cpus().length, peer: 'PyTorch (Debian python3-torch) on the CPU' },
  // A partial run keeps the notes of the suites it did not run, and replaces those of the ones it did
  // (a note carries figures of its run: an old one beside the new would contradict it).
  notes: [...new Set([...Object.values(notesBySuite).flat(), ...notes, ...(peerNote ? [peerNote] : [])])],
  notes_by_suite: notesBySuite,
  results,
};
writeFileSync(outPath, `${JSON.stringify(out, null, 2)}\n`);

const fmt = (v) => (v === null || v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(2));
console.log('| name | unit | ours | peer (PyTorch) | speed-up vs peer | of SIMD peak |');
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const r of results) console.log(`| ${r.name} | ${r.unit} | ${fmt(r.ours)} | ${fmt(r.peer)} | ${fmt(r.ratio)} | ${r.of_simd_peak ? `${(100 * r.of_simd_peak).toFixed(0)} %` : '—'} |`);
for (const n of out.notes) console.log(`note: ${n}`);
console.log(`written: ${outPath}`);
if (interrupted) {
  console.error(`bench: interrupted; measured ${ran.map((s) => s.name).join(', ') || 'nothing'}${ran.length < selected.length ? `, not ${selected.filter((s) => !ran.includes(s)).map((s) => s.name).join(', ')}` : ''}`);
  process.exit(130);
}
