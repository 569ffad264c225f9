// The runnable examples, one per runtime, run as a user would run them (against dist/).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const expectRounds = (out: string) => {
  expect(out).toMatch(/round 1: accuracy [\d.]+ %, sparsity 50\.0 %/);
  expect(out).toMatch(/round 4: accuracy [\d.]+ %/);
};

describe('examples', () => {
  it('Node: examples/node.mjs', () => {
    expectRounds(execFileSync(process.execPath, [join(root, 'examples', 'node.mjs')], { encoding: 'utf8' }));
  }, 60_000);

  it('Deno: examples/deno.ts gives the same numbers as Node', () => {
    const deno = join(dirname(createRequire(import.meta.url).resolve('deno/package.json')), 'bin.cjs');
    const out = execFileSync(process.execPath, [deno, 'run', '--allow-read', '--allow-env', join(root, 'examples', 'deno.ts')], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expectRounds(out);
    expect(out).toBe(execFileSync(process.execPath, [join(root, 'examples', 'node.mjs')], { encoding: 'utf8' }));
  }, 60_000);

  it('browser: examples/browser.html in headless Chromium', async (ctx) => {
    if (!existsSync('/usr/bin/chromium')) return ctx.skip('Chromium not installed');
    // @ts-expect-error: plain JavaScript helpers shared with the browser test driver
    const { serveStatic } = await import('../../scripts/static-server.mjs');
    // @ts-expect-error: as above
    const { launchChromium } = await import('../../scripts/chromium.mjs');
    const server = await serveStatic({ '/dist/': join(root, 'dist'), '/examples/': join(root, 'examples') });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/examples/browser.html`);
      await page.waitForFunction(() => document.title === 'done', null, { timeout: 60_000 });
      expectRounds(await page.locator('#log').innerText());
    } finally {
      await browser.close();
      await server.close();
    }
  }, 90_000);
});
