// Compiles assembly/ to WebAssembly with SIMD, then lets binaryen's wasm-opt squeeze it further.
// Output: build/wasm/feddip*.wasm, which rollup ships next to the ESM bundle.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const out = join(root, 'build', 'wasm');
mkdirSync(out, { recursive: true });

// Chain pairs of the SIMD ceiling's variants (scripts/bench.mjs runs each export simdPeak<K>), and
// chains of the fused ceiling's (simdFmaPeak<K>).
const PEAK_PAIRS = [4, 5, 6];
const FMA_PEAK_CHAINS = [8, 10, 12];

const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

// Four builds of the same kernels: one thread or shared memory, plain or relaxed SIMD.
// - Threads: memory is imported (the runtime creates one shared memory and hands it to every
//   worker's instance) and shared, which requires a declared maximum: 65536 pages, the 4 GiB a
//   wasm32 module can address (64-bit engines only reserve address space for it).
// - Relaxed SIMD: the kernels' multiply-add (assembly/gemm.ts, madd) becomes f32x4.relaxed_madd.
//   Engines without relaxed SIMD refuse the module outright (Node 20 unless started with
//   --experimental-wasm-relaxed-simd), so the plain build stays the fallback;
//   src/backend/wasm/module.ts picks one at run time.
const VARIANTS = [
  { name: 'feddip', threads: false, relaxed: false },
  { name: 'feddip-mt', threads: true, relaxed: false },
  { name: 'feddip-relaxed', threads: false, relaxed: true },
  { name: 'feddip-mt-relaxed', threads: true, relaxed: true },
];
for (const v of VARIANTS) {
  const raw = join(out, `${v.name}.raw.wasm`);
  const final = join(out, `${v.name}.wasm`);
  run(bin('asc'), [
    'assembly/index.ts', '--outFile', raw,
    '-O3', '--noAssert', '--enable', 'simd',
    ...(v.relaxed ? ['--enable', 'relaxed-simd'] : []),
    ...(v.threads ? ['--enable', 'threads', '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536'] : []),
    // Kernels work on memory the TypeScript side allocates; no garbage collector is linked in.
    '--runtime', 'stub',
  ]);
  // wasm-opt validates against the MVP feature set unless told otherwise, and v128 code fails it.
  run(bin('wasm-opt'), [raw, '-O3', '--enable-simd', ...(v.relaxed ? ['--enable-relaxed-simd'] : []),
    ...(v.threads ? ['--enable-threads'] : []), '--enable-bulk-memory', '--enable-sign-ext',
    '--enable-mutable-globals', '--enable-nontrapping-float-to-int', '-o', final]);
  console.log(`build-wasm: ${final} (${statSync(final).size} bytes)`);
}

// The benchmark-only module (SIMD ceiling); not shipped in dist/. Its source is generated here:
// one loop, written out for several register counts.
function buildPeak(name, source, features) {
  const ts = join(out, `${name}.ts`);
  const wasm = join(out, `${name}.wasm`);
  writeFileSync(ts, source);
  run(bin('asc'), [ts, '--outFile', wasm, '-O3', '--noAssert', ...features.flatMap((f) => ['--enable', f]), '--runtime', 'stub']);
  console.log(`build-wasm: ${wasm} (${statSync(wasm).size} bytes)`);
}
buildPeak('peak', simdPeakModule(PEAK_PAIRS), ['simd']);
buildPeak('peak-relaxed', fmaPeakModule(FMA_PEAK_CHAINS), ['simd', 'relaxed-simd']);

/** k lines of generated source, line(i) for i = 0 … k−1 (one per register chain). */
function chains(k, line) {
  return Array.from({ length: k }, (_, i) => line(i));
}

/**
 * AssemblyScript for the machine's WebAssembly SIMD ceiling with the instruction mix the kernels
 * use: 4-lane multiplies and adds (WASM SIMD has no fused multiply-add outside relaxed SIMD),
 * registers only, no memory traffic. GEMM and conv benchmarks are reported as a fraction of it.
 *
 * A first version ran `r = r·m + a` on 12 registers: every add waited for its multiply, so each
 * chain paid both latencies and the loop measured latency rather than throughput — GEMM, whose
 * multiplies do not depend on its accumulators, came out above "the ceiling". Here multiplies and
 * adds form separate chains (p ← p·m, s ← s + p), each with one operation's latency. How many chain
 * pairs saturate the pipes without spilling depends on the CPU's latencies and on how many vector
 * registers the engine leaves free (V8 on x86-64 keeps some of the 16 for itself), so there is one
 * export per count, `simdPeak<K>`, and scripts/bench.mjs reports the fastest. Bodies are unrolled
 * twice, which amortises the loop counter and the engine's interrupt check.
 *
 * The chains have to be separate locals written out in full — an array would live in memory, and
 * a loop over the chains would put its counter between them — hence a generator rather than one
 * AssemblyScript function. FLOPs of simdPeakK = iters · 2 (unroll) · K (pairs) · 2 (mul + add) · 4 (lanes).
 */
function simdPeakModule(pairCounts) {
  const fn = (k) => `/** ${k} multiply/add chain pairs; returns a value that depends on every register, so nothing is dead code. */
export function simdPeak${k}(iters: i32, seed: f32): f32 {
  const m = f32x4.splat(0.9999999);
${chains(k, (i) => `  let p${i} = f32x4.splat(seed + ${i}), s${i} = f32x4.splat(0);`).join('\n')}
  for (let i = 0; i < iters; i++) {
${[0, 1].flatMap(() => chains(k, (i) => `    s${i} = f32x4.add(s${i}, p${i}); p${i} = f32x4.mul(p${i}, m);`)).join('\n')}
  }
  let t = f32x4.splat(0);
${chains(k, (i) => `  t = f32x4.add(t, f32x4.add(s${i}, p${i}));`).join('\n')}
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 3);
}
`;
  return `// Generated by scripts/build-wasm.mjs (simdPeakModule), which says what this measures; do not edit.\n\n${pairCounts.map(fn).join('\n')}`;
}

/**
 * The ceiling of the relaxed build's instruction: K chains of `a ← relaxed_madd(a, m, c)`, each
 * waiting only for its own previous fused multiply-add, so K × (one instruction's latency) chains
 * keep the pipes busy; as above, one export per count (simdFmaPeak<K>) and the fastest counts.
 * With m just below 1 and c small the values stay bounded. FLOPs of simdFmaPeakK =
 * iters · 2 (unroll) · K · 2 (multiply + add) · 4 (lanes), the same count as a multiply and an add.
 */
function fmaPeakModule(chainCounts) {
  const fn = (k) => `/** ${k} fused multiply-add chains; returns a value that depends on every register. */
export function simdFmaPeak${k}(iters: i32, seed: f32): f32 {
  const m = f32x4.splat(0.9999999), c = f32x4.splat(0.0000001);
${chains(k, (i) => `  let a${i} = f32x4.splat(seed + ${i});`).join('\n')}
  for (let i = 0; i < iters; i++) {
${[0, 1].flatMap(() => chains(k, (i) => `    a${i} = f32x4.relaxed_madd(a${i}, m, c);`)).join('\n')}
  }
  let t = f32x4.splat(0);
${chains(k, (i) => `  t = f32x4.add(t, a${i});`).join('\n')}
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 3);
}
`;
  return `// Generated by scripts/build-wasm.mjs (fmaPeakModule), which says what this measures; do not edit.\n\n${chainCounts.map(fn).join('\n')}`;
}
