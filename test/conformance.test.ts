// Node leg of the conformance suite: the built package (dist/) against the golden fixtures, one
// vitest test per case and backend.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as feddip from '../dist/feddip.js';
import { FIXTURES_DIR } from './runtimes/fixtures-path.mjs';
import { type CaseResult, caseVariants, type FeddipModule, formatReport, loadManifest, runCase, SPLIT_ALL } from './conformance/suite.ts';
import type { Backend, BackendName, BackendOptions } from '../src/index.ts';

const read = async (rel: string) => new Uint8Array(await readFile(join(FIXTURES_DIR, rel)));
const manifest = await loadManifest(read);
const requireWebGpu = process.env.FEDDIP_REQUIRE_WEBGPU === '1';
const results: CaseResult[] = [];

// wasm on one thread in both SIMD builds (Node 20 runs relaxed SIMD once the backend sets its V8
// flag), wasm on two threads splitting every kernel it can, webgpu.
const passes: Array<{ name: BackendName; title: string; options?: BackendOptions }> = [
  { name: 'wasm', title: 'wasm, 1 thread', options: { threads: 1 } },
  { name: 'wasm', title: 'wasm, plain SIMD, 1 thread', options: { threads: 1, simd: 'baseline' } },
  { name: 'wasm', title: 'wasm, 2 threads, every kernel split', options: { threads: 2, ...SPLIT_ALL } },
  { name: 'webgpu', title: 'webgpu' },
];

for (const { name, title, options } of passes) {
  describe(`conformance on ${title} (node)`, () => {
    let backend: Backend | undefined;
    let unavailable = '';
    beforeAll(async () => {
      try {
        backend = await feddip.createBackend(name, options) as unknown as Backend;
        if (options?.threads && backend.threading.threads !== options.threads) {
          unavailable = `expected ${options.threads} threads: ${backend.threading.reason}`;
          backend.dispose();
          backend = undefined;
        }
      } catch (error) {
        unavailable = (error as Error).message;
      }
    });
    afterAll(() => backend?.dispose());

    for (const { c, sparse, name: caseName } of caseVariants(manifest.cases)) {
      it(`${caseName} (${c.op})`, async (ctx) => {
        const base = { runtime: 'node', backend: backend?.description ?? name, name: caseName, op: c.op };
        if (!backend) {
          if (name === 'wasm' || requireWebGpu) throw new Error(unavailable);
          results.push({ ...base, status: 'skip', detail: unavailable });
          ctx.skip(`no WebGPU adapter: ${unavailable}`);
          return;
        }
        const r = await runCase(backend, c, read, feddip as unknown as FeddipModule, sparse);
        results.push({ ...base, ...r });
        if (r.status === 'not-implemented') ctx.skip(`not implemented: ${r.detail}`);
        expect(r.status, r.detail).toBe('pass');
      });
    }
  });
}

afterAll(() => {
  console.log(formatReport(results));
});
