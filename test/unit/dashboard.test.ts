// The browser dashboard: its pure parts (synthetic data, mask densities, the static handler and the
// site's routing) in Node, then the built page in headless Chromium — a real 2-round simulation
// in web workers, and watching an in-process aggregator — with screenshots under build/test/.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backend/registry.ts';
import { dashboardSite } from '../../src/cli/dashboard.ts';
import { main } from '../../src/cli/main.ts';
import { nodeFiles } from '../../src/cli/io.ts';
import { createStrategy } from '../../src/fl/methods.ts';
import { initParameters } from '../../src/nn/init.ts';
import { ParamLayout } from '../../src/nn/layout.ts';
import { mlp } from '../../src/nn/models.ts';
import { serveHttp } from '../../src/platform/http.ts';
import { staticHandler } from '../../src/platform/static.ts';
import { runClient } from '../../src/transport/client.ts';
import { createAggregator } from '../../src/transport/server.ts';
import { parseTokens } from '../../src/transport/tokens.ts';
import { Rng } from '../../src/util/rng.ts';
import { densityColour, maskDensityRows } from '../../src/web/heatmap.ts';
import { syntheticDataset } from '../../src/web/synthetic.ts';
import { IDX_FILES, idxFromFiles, idxFromUrl, limit } from '../../src/web/sources.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shots = join(root, 'build', 'test');
const built = existsSync(join(root, 'dist', 'web', 'dashboard.js'));
const tmp = mkdtempSync(join(tmpdir(), 'feddip-dashboard-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const get = (handler: (r: Request) => Promise<Response>, path: string, init?: RequestInit) => handler(new Request(`http://127.0.0.1:1${path}`, init));

describe('dashboard: synthetic data', () => {
  it('is deterministic in the seed, in range, with every class present', () => {
    const a = syntheticDataset({ train: 300, test: 50, seed: 3 });
    const b = syntheticDataset({ train: 300, test: 50, seed: 3 });
    const c = syntheticDataset({ train: 300, test: 50, seed: 4 });
    expect(a.train.shape).toEqual([1, 28, 28]);
    expect(a.train.size).toBe(300);
    expect(a.test.size).toBe(50);
    expect(a.train.images).toEqual(b.train.images);
    expect(a.train.labels).toEqual(b.train.labels);
    expect(a.train.images).not.toEqual(c.train.images);
    expect(a.train.images.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(a.train.images.some((v) => v > 0.5)).toBe(true);
    expect(new Set(a.train.labels).size).toBe(10);
  });

  it('separates the classes: nearest class mean beats chance by far', () => {
    const { train, test } = syntheticDataset({ train: 1000, test: 200, seed: 1 });
    const means = Array.from({ length: 10 }, () => new Float64Array(784));
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < train.size; i++) {
      const y = train.labels[i]!;
      counts[y]!++;
      for (let p = 0; p < 784; p++) means[y]![p]! += train.images[i * 784 + p]!;
    }
    means.forEach((m, y) => m.forEach((v, p) => { m[p] = v / counts[y]!; }));
    let right = 0;
    for (let i = 0; i < test.size; i++) {
      let best = -1;
      let bestD = Infinity;
      means.forEach((m, y) => {
        let d = 0;
        for (let p = 0; p < 784; p++) d += (test.images[i * 784 + p]! - m[p]!) ** 2;
        if (d < bestD) { bestD = d; best = y; }
      });
      if (best === test.labels[i]) right++;
    }
    expect(right / test.size).toBeGreaterThan(0.5);
  });

  it('rejects bad sizes', () => {
    expect(() => syntheticDataset({ train: 0 })).toThrow(/train must be a positive integer, got 0/);
    expect(() => syntheticDataset({ noise: -1 })).toThrow(/noise must be ≥ 0/);
  });
});

describe('dashboard: IDX files by URL or picked', () => {
  const idx = (dims: number[], data: number[]) => {
    const out = new Uint8Array(4 + 4 * dims.length + data.length);
    out.set([0, 0, 8, dims.length]);
    const view = new DataView(out.buffer);
    dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
    out.set(data, 4 + 4 * dims.length);
    return out;
  };
  const files = {
    [IDX_FILES.trainImages]: idx([3, 2, 2], [0, 255, 0, 255, 1, 2, 3, 4, 9, 9, 9, 9]),
    [IDX_FILES.trainLabels]: idx([3], [1, 2, 3]),
    [IDX_FILES.testImages]: idx([1, 2, 2], [255, 255, 255, 255]),
    [IDX_FILES.testLabels]: idx([1], [9]),
  };
  const folder = join(tmp, 'idx');
  mkdirSync(folder, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(folder, name), bytes);

  it('fetches the four files from a folder URL (falling back from .gz to raw names)', async () => {
    const h = staticHandler({ '/data/': folder }, { anyType: true });
    const requested: string[] = [];
    const fetchFn = (async (u: URL) => { requested.push(u.pathname); return h(new Request(u)); }) as typeof fetch;
    const d = await idxFromUrl('data', 'http://127.0.0.1:1/web/../', fetchFn);
    expect(d.train.size).toBe(3);
    expect(d.train.shape).toEqual([1, 2, 2]);
    expect(Array.from(d.train.labels)).toEqual([1, 2, 3]);
    expect(d.train.images[1]).toBe(1);
    expect(Array.from(d.test.labels)).toEqual([9]);
    expect(requested).toContain('/data/train-images-idx3-ubyte.gz');
    expect(requested).toContain('/data/train-images-idx3-ubyte');
    await expect(idxFromUrl('nowhere/', 'http://127.0.0.1:1/', fetchFn)).rejects.toThrow(/not found: tried http:\/\/127\.0\.0\.1:1\/nowhere\/train-images-idx3-ubyte\.gz \(HTTP 404\)/);
  });

  it('recognises picked files by name and says which are missing', async () => {
    const picked = Object.entries(files).map(([name, bytes]) => new File([bytes], name));
    const d = await idxFromFiles(picked);
    expect(d.test.size).toBe(1);
    await expect(idxFromFiles(picked.slice(1))).rejects.toThrow(/train-images-idx3-ubyte.*missing: pick the four files/);
    const cut = limit(d, 2, 5, new Rng(1));
    expect(cut.train.size).toBe(2);
    expect(cut.test).toBe(d.test);
  });
});

describe('dashboard: mask densities', () => {
  const layout = new ParamLayout([
    { name: 'a.weight', shape: [2, 5], prunable: true, role: 'weight' },
    { name: 'a.bias', shape: [2], prunable: false, role: 'bias' },
    { name: 'b.weight', shape: [3], prunable: true, role: 'weight' },
  ]);

  it('gives one row per prunable layer with per-block kept fractions', () => {
    const mask = Uint8Array.from([1, 1, 0, 0, 1, 0, 0, 0, 1, 1, /* bias */ 1, 1, /* b */ 0, 1, 0]);
    const rows = maskDensityRows(layout, mask, 4);
    expect(rows.map((r) => r.name)).toEqual(['a.weight', 'b.weight']);
    // 10 weights in blocks of ceil(10/4) = 3: [1,1,0] [0,1,0] [0,0,1] [1]
    expect(Array.from(rows[0]!.cells)).toEqual([2 / 3, 1 / 3, 1 / 3, 1].map(Math.fround));
    expect(rows[0]!.density).toBeCloseTo(0.5);
    // Fewer weights than cells: one cell per weight.
    expect(Array.from(rows[1]!.cells)).toEqual([0, 1, 0]);
    expect(rows[1]!.density).toBeCloseTo(1 / 3);
  });

  it('treats no mask as dense and checks its arguments', () => {
    expect(maskDensityRows(layout, null, 2).every((r) => r.density === 1 && r.cells.every((c) => c === 1))).toBe(true);
    expect(() => maskDensityRows(layout, new Uint8Array(3), 2)).toThrow(/the mask has 3 entries, the layout 15/);
    expect(() => maskDensityRows(layout, null, 0)).toThrow(/cells must be a positive integer/);
  });

  it('maps density to a pale-to-dark scale', () => {
    expect(densityColour(0)).toBe('rgb(247,251,255)');
    expect(densityColour(1)).toBe('rgb(8,48,107)');
    expect(densityColour(Number.NaN)).toBe(densityColour(0));
  });
});

describe('dashboard: static files and routing', () => {
  const site = join(tmp, 'site');
  mkdirSync(join(site, 'web'), { recursive: true });
  writeFileSync(join(site, 'web', 'index.html'), '<p>hi</p>');
  writeFileSync(join(site, 'web', 'app.js'), 'export {}');
  writeFileSync(join(site, 'web', 'types.d.ts'), 'export {}');
  writeFileSync(join(tmp, 'secret.txt'), 'no');

  it('serves files with isolation headers, index.html for folders, nothing outside the folder', async () => {
    const h = staticHandler({ '/': site });
    const page = await get(h, '/web/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(await page.text()).toBe('<p>hi</p>');
    expect((await get(h, '/web/app.js')).headers.get('content-type')).toMatch(/javascript/);
    expect(await get(h, '/web')).toMatchObject({ status: 301 });
    expect((await get(h, '/web?x=1')).headers.get('location')).toBe('/web/?x=1');
    expect((await get(h, '/web/types.d.ts')).status).toBe(404);
    expect((await get(h, '/web/missing.js')).status).toBe(404);
    // The URL parser already resolves an encoded '..' to the root: still nothing outside the folder.
    expect((await get(h, '/%2e%2e/secret.txt')).status).toBe(404);
    expect((await get(h, '/web/..%2f..%2fsecret.txt')).status).toBe(403);
    expect((await get(h, '/web/%E0%A4%A')).status).toBe(400);
    expect((await get(h, '/web/app.js', { method: 'POST', body: 'x' })).status).toBe(405);
    const head = await get(h, '/web/app.js', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('9');
  });

  it('serves folders whose names need escaping', async () => {
    const odd = join(tmp, 'a dir #1 %20');
    mkdirSync(odd, { recursive: true });
    writeFileSync(join(odd, 'x y.json'), '{"ok":true}');
    const h = staticHandler({ '/files/': odd });
    const r = await get(h, '/files/x%20y.json');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true });
    expect(() => staticHandler({ files: odd })).toThrow(/must start and end with '\/'/);
  });

  it('sends /v1 to the aggregator untouched, / to the page in watch mode', async () => {
    const seen: string[] = [];
    const api = async (r: Request) => { seen.push(new URL(r.url).pathname); return new Response('api', { status: 418 }); };
    const h = dashboardSite({ api });
    expect((await get(h, '/v1/status')).status).toBe(418);
    expect((await get(h, '/v1')).status).toBe(418);
    expect(seen).toEqual(['/v1/status', '/v1']);
    const home = await get(h, '/');
    expect(home.status).toBe(302);
    expect(home.headers.get('location')).toBe('/web/?watch=%2F');
    expect((await get(dashboardSite(), '/')).headers.get('location')).toBe('/web/');
    expect((await get(h, '/v1x')).status).not.toBe(418);
  });

  it('`feddip dashboard` serves the built page until asked to stop', async () => {
    const out: string[] = [];
    let stop = false;
    const running = main(['dashboard', '--port', '0', '--data-dir', tmp], {
      out: (l) => out.push(l), err: (l) => out.push(l), files: await nodeFiles(), stopRequested: () => stop,
    });
    try {
      for (let i = 0; i < 100 && !out.length; i++) await new Promise((r) => setTimeout(r, 20));
      const url = /open (http:\/\/127\.0\.0\.1:\d+)\//.exec(out[0] ?? '')?.[1];
      expect(url, out.join('\n')).toBeDefined();
      const home = await fetch(`${url}/`, { redirect: 'manual' });
      expect(home.status).toBe(302);
      expect(home.headers.get('location')).toBe('/web/?data=%2Fdata%2F');
      const data = await fetch(`${url}/data/secret.txt`);
      expect(await data.text()).toBe('no');
      if (built) {
        const page = await fetch(`${url}/web/`);
        expect(page.status).toBe(200);
        expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
        expect(await page.text()).toMatch(/<script type="module" src="dashboard.js">/);
      }
    } finally {
      stop = true;
    }
    expect(await running).toBe(0);
  });

  it('`feddip dashboard --help` and bad usage', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), files: await nodeFiles(), stopRequested: () => true };
    expect(await main(['dashboard', '--help'], io)).toBe(0);
    expect(out.join('\n')).toMatch(/--data-dir <value>/);
    expect(await main(['dashboard', '--port', 'x'], io)).toBe(2);
    expect(err.join('\n')).toMatch(/--port expects a number/);
  });
});

// ------------------------------------------------------------------ in headless Chromium

const chromium = existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium');

async function withPage<T>(url: string, body: (page: import('playwright-core').Page, errors: string[]) => Promise<T>): Promise<T> {
  // @ts-expect-error: a plain JavaScript helper shared with the browser test driver
  const { launchChromium } = await import('../../scripts/chromium.mjs');
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e: Error) => errors.push(e.message));
    page.on('console', (m: { type(): string; text(): string }) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(url);
    return await body(page, errors);
  } finally {
    await browser.close();
  }
}

/** Pixels of the canvas that are not its white background. */
const inkedPixels = (page: import('playwright-core').Page) => page.evaluate(() => {
  const canvas = document.getElementById('heatmap') as HTMLCanvasElement;
  const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i]! < 240 || data[i + 1]! < 240) n++;
  return n;
});

/** Segments drawn by the charts' data paths (a path of k points has k − 1). */
const chartSegments = (page: import('playwright-core').Page) => page.evaluate(() =>
  Array.from(document.querySelectorAll('.charts figure'), (f) => Array.from(f.querySelectorAll('path'), (p) => (p.getAttribute('d')!.match(/L/g) ?? []).length)));

type Box = { x: number; y: number; width: number; height: number };

/**
 * Reads a screenshot back (decoded by the browser, as a person's viewer would) and measures, in the
 * screen boxes of the given elements, the pixels that differ from the box's dominant colour and the
 * number of distinct colours: a blank or unrendered element shows as one flat colour.
 */
async function screenshotInk(page: import('playwright-core').Page, png: Buffer, selectors: Record<string, string>) {
  const boxes: Record<string, Box> = {};
  for (const [name, selector] of Object.entries(selectors)) {
    const box = await page.locator(selector).first().boundingBox();
    if (!box) throw new Error(`${selector} is not on the page`);
    const scroll = await page.evaluate(() => ({ x: window.scrollX, y: window.scrollY }));
    boxes[name] = { x: box.x + scroll.x, y: box.y + scroll.y, width: box.width, height: box.height };
  }
  return page.evaluate(async ({ b64, boxes }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const g = canvas.getContext('2d', { willReadFrequently: true })!;
    g.drawImage(img, 0, 0);
    const measure = (b: Box) => {
      const d = g.getImageData(Math.round(b.x), Math.round(b.y), Math.max(1, Math.round(b.width)), Math.max(1, Math.round(b.height))).data;
      const counts = new Map<number, number>();
      for (let i = 0; i < d.length; i += 4) {
        const rgb = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
        counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
      }
      const dominant = Math.max(...counts.values());
      return { pixels: d.length / 4, ink: d.length / 4 - dominant, colours: counts.size };
    };
    return { width: canvas.width, height: canvas.height, regions: Object.fromEntries(Object.entries(boxes).map(([k, b]) => [k, measure(b)])) };
  }, { b64: png.toString('base64'), boxes });
}

describe.skipIf(!chromium)('dashboard in headless Chromium', () => {
  it('runs a 2-round FedDIP simulation on the synthetic data in workers and draws it', async () => {
    expect(built, 'dist/web/dashboard.js is missing: run npm run build:js first').toBe(true);
    const server = await serveHttp(dashboardSite(), { port: 0 });
    try {
      await withPage(`${server.url}/`, async (page, errors) => {
        await page.waitForFunction(() => document.getElementById('env')!.textContent!.includes('cross-origin isolated'));
        expect(await page.locator('#env').innerText()).toMatch(/cross-origin isolated: workers share/);
        const set = async (name: string, value: string) => page.locator(`#simulate-form [name="${name}"]`).fill(value);
        await page.locator('#simulate-form [name="model"]').selectOption('mlp');
        await set('train', '400');
        await set('test', '200');
        await set('clients', '4');
        await set('fraction', '0.5');
        await set('rounds', '2');
        await set('epochs', '1');
        await set('batch', '20');
        await set('reconfig', '1');
        await set('threads', '2');
        await page.locator('#start').click();
        await page.waitForFunction(() => document.body.dataset.state !== 'running', null, { timeout: 90_000 });
        expect(await page.evaluate(() => document.body.dataset.state), await page.locator('#progress-text').innerText()).toBe('done');
        expect(await page.locator('#progress-text').innerText()).toMatch(/^Done after 2 of 2 rounds: accuracy \d+\.\d\d %, sparsity \d+\.\d %/);
        expect(await page.locator('#tile-round').innerText()).toBe('2 / 2');
        expect(await page.locator('#tile-quality').innerText()).toMatch(/^\d+\.\d\d %$/);
        // The cubic schedule at t = 1 of T = 2: 0.9 − (0.9 − 0.5)·(1/2)³ = 85 %, measured exactly.
        expect(await page.locator('#tile-sparsity').innerText()).toBe('85.0 %');
        // Every chart draws each of its series through both rounds.
        const segments = await chartSegments(page);
        expect(segments).toHaveLength(3);
        for (const chart of segments) expect(chart.length > 0 && chart.every((n) => n === 1)).toBe(true);
        expect(await page.locator('.charts svg text').filter({ hasText: /^round$/ }).count()).toBe(3);
        // Two prunable MLP layers' worth of cells, and the third: three rows of colour.
        expect(await inkedPixels(page)).toBeGreaterThan(3000);
        mkdirSync(shots, { recursive: true });
        const png = await page.screenshot({ path: join(shots, 'dashboard-simulate.png'), fullPage: true });
        // The picture itself, not only the DOM: the charts and the heat-map are drawn in it.
        const shot = await screenshotInk(page, png, { charts: '.charts', heatmap: '#heatmap', tiles: '#tile-round' });
        expect(shot.width).toBe(1400);
        expect(shot.height).toBeGreaterThanOrEqual(1000);
        expect(shot.regions.charts!.ink / shot.regions.charts!.pixels).toBeGreaterThan(0.02);
        expect(shot.regions.charts!.colours).toBeGreaterThan(20); // axes, text, several series
        expect(shot.regions.heatmap!.ink).toBeGreaterThan(1000);
        expect(shot.regions.heatmap!.colours).toBeGreaterThan(3); // densities on a colour scale
        expect(shot.regions.tiles!.ink).toBeGreaterThan(20); // the text '2 / 2'
        expect(errors).toEqual([]);
      });
    } finally {
      await server.close();
    }
  }, 120_000);

  it('watches an in-process aggregator from the page it serves', async () => {
    expect(built, 'dist/web/dashboard.js is missing: run npm run build:js first').toBe(true);
    const tokens = ['dashboard-test-token-1', 'dashboard-test-token-2'];
    const model = mlp();
    const rng = new Rng(5);
    const init = rng.fork('init');
    const aggregator = await createAggregator({
      layout: model.layout, strategy: createStrategy('feddip', { rounds: 2, fraction: 1, localEpochs: 1, batch: 10, reconfig: 1 }),
      initial: initParameters(model.layout, () => init.uniform()), tokens: parseTokens(tokens.join('\n')),
      rounds: 2, minClients: 2, roundTimeoutMs: 30_000, log: () => undefined,
    });
    const server = await serveHttp(dashboardSite({ api: aggregator.handle }), { port: 0 });
    const backend = await createBackend('wasm');
    try {
      const { train } = syntheticDataset({ train: 40, test: 10 });
      await Promise.all(tokens.map((token, k) => runClient(server.url, {
        token, model, backend, seed: k, log: () => undefined,
        data: { images: train.images, labels: train.labels, sampleSize: 784, indices: Int32Array.from({ length: 20 }, (_, i) => 20 * k + i) },
      })));
      await aggregator.done;
      await withPage(`${server.url}/`, async (page, errors) => {
        expect(page.url()).toBe(`${server.url}/web/?watch=%2F`);
        expect(await page.locator('#watch-form').isVisible()).toBe(true);
        await page.locator('#watch-form [name="token"]').fill('not-a-valid-token-at-all');
        await page.locator('#watch').click();
        await page.waitForFunction(() => document.body.dataset.state === 'error');
        expect(await page.locator('#progress-text').innerText()).toMatch(/refused the token \(401\)/);
        await page.locator('#watch-form [name="token"]').fill(tokens[0]!);
        await page.locator('#watch').click();
        await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 20_000 });
        expect(await page.locator('#progress-text').innerText()).toMatch(/feddip · finished after 2 rounds · 2 rounds closed/);
        expect(await page.locator('#tile-round').innerText()).toBe('2 / 2');
        expect(await page.locator('#tile-quality-label').innerText()).toBe('Training loss');
        expect(await page.locator('#tile-quality').innerText()).toMatch(/^\d+\.\d{4}$/);
        const segments = await chartSegments(page);
        for (const chart of segments) expect(chart.length > 0 && chart.every((n) => n === 1)).toBe(true);
        mkdirSync(shots, { recursive: true });
        const png = await page.screenshot({ path: join(shots, 'dashboard-watch.png'), fullPage: true });
        const shot = await screenshotInk(page, png, { charts: '.charts', tiles: '#tile-quality' });
        expect(shot.regions.charts!.ink / shot.regions.charts!.pixels).toBeGreaterThan(0.02);
        expect(shot.regions.charts!.colours).toBeGreaterThan(20);
        expect(shot.regions.tiles!.ink).toBeGreaterThan(20);
        // The one error logged is the refused token's 401 response.
        expect(errors.filter((e) => !/401/.test(e))).toEqual([]);
      });
    } finally {
      await server.close();
      await aggregator.dispose();
      backend.dispose();
    }
  }, 120_000);
});

