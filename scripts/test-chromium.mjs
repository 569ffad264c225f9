// Runs the conformance suite in headless Chromium: serves dist/, the compiled suite and the
// fixtures on loopback, opens test/runtimes/browser.html and prints the page's report.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from './static-server.mjs';
import { launchChromium } from './chromium.mjs';
import { FIXTURES_DIR } from '../test/runtimes/fixtures-path.mjs';

const root = resolve(join(dirname(fileURLToPath(import.meta.url)), '..'));
const server = await serveStatic({
  '/dist/': join(root, 'dist'),
  '/build/test/': join(root, 'build', 'test'),
  '/fixtures/': FIXTURES_DIR,
  '/test/': join(root, 'test', 'runtimes'),
});
let browser;
let exitCode = 1;
try {
  browser = await launchChromium();
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') console.error(`[console] ${msg.text()}`); });
  const require = process.env.FEDDIP_REQUIRE_WEBGPU === '1' ? '1' : '0';
  await page.goto(`${server.url}/test/browser.html?requireWebGpu=${require}`);
  await page.waitForFunction(() => window.__feddipConformance !== undefined, null, { timeout: 300_000 });
  const result = await page.evaluate(() => window.__feddipConformance);
  if (result.error) {
    console.error(`conformance page failed: ${result.error}`);
  } else {
    console.log(result.report);
    console.log(`FEDDIP_TALLY ${JSON.stringify(result.tally)}`);
    exitCode = result.tally.fail > 0 ? 1 : 0;
  }
} finally {
  await browser?.close();
  await server.close();
}
process.exit(exitCode);
