// Node leg of the conformance suite: the built package (dist/) against the golden fixtures, one
// vitest test per case and backend.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as feddip from '../dist/feddip.js';
import { FIXTURES_DIR } from './runtimes/fixtures-path.mjs';
import { type CaseResult, caseVariants, type FeddipModule, formatReport, loadManifest, runCase } from './conformance/suite.ts';
import type { Backend } from '../src/index.ts';

const read = async (rel: string) => new Uint8Array(await readFile(join(FIXTURES_DIR, rel)));
const manifest = await loadManifest(read);
const requireWebGpu = process.env.FEDDIP_REQUIRE_WEBGPU === '1';
const results: CaseResult[] = [];

for (const name of ['wasm', 'webgpu'] as const) {
  describe(`conformance on ${name} (node)`, () => {
    let backend: Backend | undefined;
    let unavailable = '';
    beforeAll(async () => {
      try {
        backend = await feddip.createBackend(name) as unknown as Backend;
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
