// Deno leg of the conformance suite: the built package under Deno, WebGPU from Deno's navigator.gpu.
// Run by scripts/test-deno.mjs; prints the report and one machine-readable tally line.
import * as feddip from '../../dist/feddip.js';
import { formatReport, runConformance, tally } from '../conformance/suite.ts';

const fixtures = Deno.env.get('FEDDIP_FIXTURES') ?? new URL('../../../shared/fixtures/torch', import.meta.url).pathname;
const root = new URL(`file://${fixtures.startsWith('/') ? '' : `${Deno.cwd()}/`}${fixtures}/`);

const results = await runConformance({
  feddip,
  read: (rel) => Deno.readFile(new URL(rel, root)),
  runtime: `deno ${Deno.version.deno}`,
  requireWebGpu: Deno.env.get('FEDDIP_REQUIRE_WEBGPU') === '1',
  // Deno has SharedArrayBuffer and module workers: the threaded backend must really run 2 threads.
  wasmThreads: 2,
  expectThreads: 2,
  // Deno's V8 has relaxed SIMD on: the default backend must run that build.
  expectSimd: 'relaxed',
});
console.log(formatReport(results));
console.log(`FEDDIP_TALLY ${JSON.stringify(tally(results))}`);
Deno.exit(tally(results).fail > 0 ? 1 : 0);
