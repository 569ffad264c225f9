// One aggregator, clients in three runtimes: Node (in process), Deno (a process) and Chromium (a
// page served by the aggregator's own origin) train the same federation together over HTTP.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createBackend, fl, initParameters, mlp, Rng, transport } from '../../src/index.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOKENS = ['token-node-0123456789ab', 'token-deno-0123456789ab', 'token-chromium-01234567'];

describe('federation across runtimes', () => {
  it('Node, Deno and Chromium clients complete 2 FedDIP rounds with one aggregator', async (ctx) => {
    if (!existsSync('/usr/bin/chromium')) return ctx.skip('Chromium not installed');
    const model = mlp(4, [1, 5, 5], 12);
    const init = new Rng(3);
    const agg = await transport.createAggregator({
      layout: model.layout, initial: initParameters(model.layout, () => init.uniform()), tokens: transport.parseTokens(TOKENS.join('\n')),
      rounds: 2, minClients: 3, roundTimeoutMs: 60_000, retryAfterMs: 50, log: () => undefined,
      strategy: fl.createStrategy('feddip', { rounds: 2, fraction: 1, localEpochs: 1, batch: 16, sparsity: 0.5, initSparsity: 0.2, reconfig: 1 }),
    });
    const files = transport.staticHandler({ '/dist/': join(root, 'dist'), '/test/': join(root, 'test', 'runtimes') });
    const server = await transport.serveHttp(async (request) => (new URL(request.url).pathname.startsWith('/v1/') ? agg.handle(request) : files(request)), { port: 0 });
    // @ts-expect-error: plain JavaScript helper shared with the browser test driver
    const { launchChromium } = await import('../../scripts/chromium.mjs');
    const browser = await launchChromium();
    try {
      const deno = join(dirname(createRequire(import.meta.url).resolve('deno/package.json')), 'bin.cjs');
      const denoRun = new Promise<string>((resolve, reject) => {
        const p = spawn(process.execPath, [deno, 'run', '--allow-net', '--allow-read', '--allow-env', join(root, 'test', 'runtimes', 'federation-client-deno.js'), server.url, TOKENS[1]!, '2'], { env: { ...process.env, NO_COLOR: '1' } });
        let out = '';
        let err = '';
        p.stdout.on('data', (d) => { out += d; });
        p.stderr.on('data', (d) => { err += d; });
        p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`deno client exited ${code}: ${err}`))));
      });
      const page = await browser.newPage();
      await page.goto(`${server.url}/test/federation-client.html?token=${TOKENS[2]}&seed=3`);
      const backend = await createBackend('wasm');
      const r = new Rng(1);
      const n = 64;
      const labels = Int32Array.from({ length: n }, () => r.int(4));
      const images = Float32Array.from({ length: n * 25 }, () => 0.2 * r.uniform());
      labels.forEach((label, i) => images.fill(1, i * 25 + label * 5, i * 25 + label * 5 + 5));
      const nodeSummary = await transport.runClient(server.url, {
        token: TOKENS[0]!, seed: 1, model, backend, backoffMs: 20, maxBackoffMs: 200,
        data: { images, labels, sampleSize: 25, indices: Int32Array.from({ length: n }, (_, i) => i) },
      });
      backend.dispose();
      const denoSummary = JSON.parse((await denoRun).trim().split('\n').pop()!);
      await page.waitForFunction(() => (window as unknown as { __summary?: unknown }).__summary !== undefined, null, { timeout: 60_000 });
      const browserSummary = await page.evaluate(() => (window as unknown as { __summary: unknown }).__summary) as { accepted?: number; error?: string };
      await agg.done;
      expect(browserSummary.error).toBeUndefined();
      for (const s of [nodeSummary, denoSummary, browserSummary]) expect(s.accepted).toBe(2);
      const metrics = agg.metrics() as Array<{ round: number; updates?: number; clients_ok?: number }>;
      expect(metrics.length).toBe(2);
    } finally {
      await browser.close();
      await server.close();
      await agg.dispose();
    }
  }, 120_000);
});
