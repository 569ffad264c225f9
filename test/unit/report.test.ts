// Reports: the numbers in the table, the SVG files, and a real render of a plot in headless
// Chromium (the plot must draw actual lines, not an empty frame).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { report } from '../../src/index.ts';
import { main } from '../../src/cli/main.ts';
import { nodeFiles } from '../../src/cli/io.ts';

const dir = mkdtempSync(join(tmpdir(), 'feddip-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeRun(name: string, accs: number[], mbPerRound: number) {
  const runDir = join(dir, name);
  mkdirSync(runDir, { recursive: true });
  const lines = accs.map((acc, round) => JSON.stringify({
    round, test_acc: acc, sparsity: Math.min(0.9, 0.5 + round * 0.1), bytes_down_total: (round + 1) * mbPerRound * 6e5, bytes_up_total: (round + 1) * mbPerRound * 4e5,
  }));
  writeFileSync(join(runDir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  return runDir;
}

describe('reports', () => {
  it('picks round-number ticks', () => {
    expect(report.niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(report.niceTicks(1, 200)).toEqual([50, 100, 150, 200]);
    expect(report.niceTicks(0.12, 0.87)).toEqual([0.2, 0.4, 0.6, 0.8]);
  });

  it('summarises final and best accuracy and the rounds and megabytes to reach targets', () => {
    const s = report.summarizeRun({ name: 'a', rounds: report.parseMetrics(readFileSync(join(fakeRun('sum', [0.5, 0.82, 0.8, 0.86, 0.84], 1), 'metrics.jsonl'), 'utf8'), 'x') }, [0.8, 0.85, 0.9]);
    expect(s).toMatchObject({ rounds: 5, finalAcc: 0.84, bestAcc: 0.86, bestRound: 4 });
    expect(s.reach).toEqual([{ target: 0.8, rounds: 2, mb: 2 }, { target: 0.85, rounds: 4, mb: 4 }, { target: 0.9, rounds: null, mb: null }]);
    expect(report.markdownTable([s])).toMatch(/\| a \| 5 \| 84\.00 % \| 86\.00 % \(4\) \| 90\.00 % \| 5\.0 \| 2 \| 2\.0 \| 4 \| 4\.0 \| not reached \| — \|/);
  });

  it('rejects a metrics file that is not one JSON object per line', () => {
    expect(() => report.parseMetrics('{"round":0}\nnot json\n', 'm.jsonl')).toThrow(/m\.jsonl:1: 'test_acc' is missing/);
    expect(() => report.parseMetrics('garbage', 'm.jsonl')).toThrow(/m\.jsonl:1: not a JSON line/);
  });

  it('feddip report writes the table and three plots with one line per run', async () => {
    const a = fakeRun('feddip', [0.3, 0.6, 0.8, 0.85], 0.2);
    const b = fakeRun('fedavg', [0.35, 0.65, 0.82, 0.87], 1.5);
    const out = join(dir, 'out');
    const lines: string[] = [];
    const code = await main(['report', a, b, '--out', out], { out: (l) => lines.push(l), err: (l) => lines.push(l), files: await nodeFiles() });
    expect(code, lines.join('\n')).toBe(0);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/\| feddip \| 4 \|/);
    expect(md).toMatch(/\| fedavg \| 4 \|/);
    for (const f of ['accuracy.svg', 'sparsity.svg', 'accuracy-vs-mb.svg']) {
      const svg = readFileSync(join(out, f), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.match(/<path /g)?.length).toBe(2);
    }
    expect((await main(['report', join(dir, 'nope')], { out: () => {}, err: (l) => lines.push(l), files: await nodeFiles() }))).toBe(2);
  });

  it('a plot renders in headless Chromium with its lines drawn', async (ctx) => {
    if (!existsSync('/usr/bin/chromium')) return ctx.skip('Chromium not installed');
    // @ts-expect-error: plain JavaScript helper shared with the browser test driver
    const { launchChromium } = await import('../../scripts/chromium.mjs');
    const svg = report.lineChart([{ label: 'run', points: [[1, 0.2], [2, 0.6], [3, 0.8]] }], { title: 't', xLabel: 'x', yLabel: 'y' });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const coloured = await page.evaluate(async (src: string) => {
        const img = new Image();
        img.src = `data:image/svg+xml;base64,${btoa(src)}`;
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.width; canvas.height = img.height;
        const g = canvas.getContext('2d')!;
        g.drawImage(img, 0, 0);
        const data = g.getImageData(0, 0, canvas.width, canvas.height).data;
        let blue = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i + 2]! > 150 && data[i]! < 80) blue++;
        return blue;
      }, svg);
      expect(coloured).toBeGreaterThan(200); // the first series is drawn in blue
    } finally {
      await browser.close();
    }
  }, 60_000);
});
