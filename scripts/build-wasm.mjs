// Compiles assembly/ to WebAssembly with SIMD, then lets binaryen's wasm-opt squeeze it further.
// Output: build/wasm/feddip.wasm, which rollup ships next to the ESM bundle.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const out = join(root, 'build', 'wasm');
mkdirSync(out, { recursive: true });
const raw = join(out, 'feddip.raw.wasm');
const final = join(out, 'feddip.wasm');

const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run(bin('asc'), [
  'assembly/index.ts', '--outFile', raw,
  '-O3', '--noAssert', '--enable', 'simd',
  // Kernels work on memory the TypeScript side allocates; no garbage collector is linked in.
  '--runtime', 'stub',
]);
// wasm-opt validates against the MVP feature set unless told otherwise, and v128 code fails it.
run(bin('wasm-opt'), [raw, '-O3', '--enable-simd', '--enable-bulk-memory', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-nontrapping-float-to-int', '-o', final]);
console.log(`build-wasm: ${final} (${statSync(final).size} bytes)`);

// The same kernels for threads: memory is imported (the runtime creates one shared memory and hands
// it to every worker's instance) and shared, which requires a declared maximum: 65536 pages, the
// 4 GiB a wasm32 module can address (64-bit engines only reserve address space for it).
const rawMt = join(out, 'feddip-mt.raw.wasm');
const finalMt = join(out, 'feddip-mt.wasm');
run(bin('asc'), [
  'assembly/index.ts', '--outFile', rawMt,
  '-O3', '--noAssert', '--enable', 'simd', '--enable', 'threads',
  '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
  '--runtime', 'stub',
]);
run(bin('wasm-opt'), [rawMt, '-O3', '--enable-simd', '--enable-threads', '--enable-bulk-memory', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-nontrapping-float-to-int', '-o', finalMt]);
console.log(`build-wasm: ${finalMt} (${statSync(finalMt).size} bytes)`);

// The benchmark-only module (SIMD ceiling); not shipped in dist/.
const peak = join(out, 'peak.wasm');
run(bin('asc'), ['assembly/bench/peak.ts', '--outFile', peak, '-O3', '--noAssert', '--enable', 'simd', '--runtime', 'stub']);
