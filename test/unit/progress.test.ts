// Progress bars: the line format, the throttling, what a terminal actually shows after the
// redraws (a tiny terminal emulator replays the bytes), silence off a terminal; and the training
// progress that the simulation reports, from this thread and from worker threads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBar, formatDuration, formatRate, ProgressDisplay, type TerminalStream } from '../../src/cli/progress.ts';
import { createBackend, fl, mlp, Rng, type Backend } from '../../src/index.ts';
import { seededWeights, synthetic } from './fl-helpers.ts';

/** Replays what a terminal does with \r, \n, ESC[nA (cursor up) and ESC[J (clear to the end). */
class FakeTerminal implements TerminalStream {
  readonly isTTY = true;
  readonly columns = 100;
  lines: string[] = [''];
  row = 0;
  col = 0;
  writes = 0;
  raw = '';
  write(text: string) {
    this.writes++;
    this.raw += text;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === '\x1b') {
        const m = /^\x1b\[(\d*)([AJ])/.exec(text.slice(i));
        if (!m) throw new Error(`unexpected escape ${JSON.stringify(text.slice(i, i + 6))}`);
        if (m[2] === 'A') this.row = Math.max(0, this.row - Number(m[1] || 1));
        else { this.lines[this.row] = this.lines[this.row]!.slice(0, this.col); this.lines.length = this.row + 1; }
        i += m[0].length - 1;
      } else if (c === '\r') this.col = 0;
      else if (c === '\n') { this.row++; this.col = 0; if (this.lines.length <= this.row) this.lines.push(''); }
      else {
        const line = this.lines[this.row]!.padEnd(this.col);
        this.lines[this.row] = line.slice(0, this.col) + c + line.slice(this.col + 1);
        this.col++;
      }
    }
  }
  /** What is on the screen, without the trailing empty line. */
  get screen() { return this.lines.join('\n').replace(/\n$/, ''); }
}

describe('progress bars', () => {
  it('formats counts, rate and ETA, and fits the width', () => {
    const line = formatBar({ label: 'training', done: 3000, total: 12000, unit: 'sample' }, 2, 74);
    expect(line).toBe('training [█████░░░░░░░░░░░░░░░]  25% 3,000/12,000 1,500 samples/s ETA 6.0s'); // the bar takes the room left
    expect(line).toHaveLength(74);
    expect(formatBar({ label: 'rounds', done: 2, total: 10, unit: 'round', note: 'x' }, 100, 200)).toBe(`rounds [${'█'.repeat(6)}${'░'.repeat(24)}]  20% 2/10 50.0 s/round ETA 6m40s  x`);
    expect(formatBar({ label: 'rounds', done: 2, total: 10, unit: 'round', note: 'x' }, 100, 40)).toBe(`rounds [██${'░'.repeat(8)}]  20% 2/10 50.0 s/rou`);
    expect(formatBar({ label: 'rounds', done: 0, total: 10, unit: 'round' }, 0, 200)).toMatch(/0% 0\/10 — rounds\/s ETA —$/);
    expect(formatBar({ label: 'rounds', done: 10, total: 10, unit: 'round' }, 5, 200)).toMatch(/100% 10\/10 2\.0 rounds\/s done$/);
    expect(formatBar({ label: 'training', done: 1, total: 2, unit: 'sample' }, 1, 30)).toHaveLength(30);
    expect([formatDuration(5), formatDuration(600), formatDuration(7300), formatDuration(Infinity)]).toEqual(['5.0s', '10m00s', '2h01m', '—']);
    expect(formatRate(12.345, 'round')).toBe('12.3 rounds/s');
  });

  it('redraws in place at most once per interval, and draws a finished bar at once', () => {
    let now = 0;
    const term = new FakeTerminal();
    const display = new ProgressDisplay(term, { now: () => now, intervalMs: 100 });
    display.set('train', { label: 'training', done: 0, total: 1000, unit: 'sample' });
    expect(term.writes).toBe(1); // a new bar shows at once
    for (let i = 1; i <= 500; i++) { now += 0.1; display.set('train', { label: 'training', done: i, total: 1000, unit: 'sample' }); }
    expect(term.writes).toBe(1); // 500 steps in 50 ms: nothing redrawn yet
    now += 60;
    display.set('train', { label: 'training', done: 600, total: 1000, unit: 'sample' });
    expect(term.writes).toBe(2);
    expect(term.screen).toMatch(/^training \[.*\]  60% 600\/1,000 5,455 samples\/s ETA 0\.1s$/);
    display.set('train', { label: 'training', done: 1000, total: 1000, unit: 'sample' });
    expect(term.writes).toBe(3); // the end is never swallowed by the throttle
    expect(term.screen).toMatch(/100% 1,000\/1,000 .* done$/);
    expect(term.screen.split('\n')).toHaveLength(1); // redrawn over itself, not appended
  });

  it('prints log lines above the bars and clears them at the end', () => {
    let now = 0;
    const term = new FakeTerminal();
    const display = new ProgressDisplay(term, { now: () => now });
    const log = (line: string) => display.log(() => term.write(`${line}\n`)); // stdout and stderr share the terminal
    log('feddip simulate: starting');
    display.set('rounds', { label: 'rounds  ', done: 0, total: 3, unit: 'round' });
    display.set('train', { label: 'training', done: 0, total: 100, unit: 'sample', restart: true });
    now += 1000;
    display.set('train', { label: 'training', done: 50, total: 100, unit: 'sample' });
    display.set('rounds', { label: 'rounds  ', done: 1, total: 3, unit: 'round' }); // throttled: not drawn yet…
    log('round 1/3  acc 50.00 %'); // …but the redraw after a line shows it
    const screen = term.screen.split('\n');
    expect(screen).toHaveLength(4);
    expect(screen.slice(0, 2)).toEqual(['feddip simulate: starting', 'round 1/3  acc 50.00 %']);
    expect(screen[2]).toMatch(/^rounds   \[.*\]  33% 1\/3 1\.0 rounds\/s ETA 2\.0s$/);
    expect(screen[3]).toMatch(/^training \[.*\]  50% 50\/100 50\.0 samples\/s ETA 1\.0s$/);
    // A new round restarts the training bar's clock: its rate is not diluted by the last round.
    now += 1000;
    display.set('train', { label: 'training', done: 0, total: 100, unit: 'sample', restart: true });
    now += 500;
    display.set('train', { label: 'training', done: 100, total: 100, unit: 'sample' });
    expect(term.screen.split('\n')[3]).toMatch(/100% 100\/100 200 samples\/s done$/);
    // A finished bar keeps the rate of its work, whatever waits after it (the evaluation).
    now += 5000;
    log('round 2/3  acc 60.00 %');
    expect(term.screen.split('\n')[4]).toMatch(/100% 100\/100 200 samples\/s done$/);
    display.close();
    expect(term.screen).toBe('feddip simulate: starting\nround 1/3  acc 50.00 %\nround 2/3  acc 60.00 %');
  });

  it('writes nothing when the stream is not a terminal, or with --quiet', () => {
    for (const [stream, quiet] of [[{ isTTY: false }, false], [{}, false], [{ isTTY: true }, true]] as const) {
      let written = '';
      const display = new ProgressDisplay({ ...stream, write: (t: string) => { written += t; } }, { quiet });
      expect(display.enabled).toBe(false);
      display.set('rounds', { label: 'rounds', done: 1, total: 2, unit: 'round' });
      let logged = '';
      display.log(() => { logged += 'line\n'; });
      display.close();
      expect(written).toBe('');
      expect(logged).toBe('line\n');
    }
    expect(new ProgressDisplay(undefined).enabled).toBe(false);
  });
});

// ------------------------------------------------------------------ the simulation's training progress

let backend: Backend;
beforeAll(async () => { backend = await createBackend('wasm'); });
afterAll(() => backend.dispose());

async function progressOf(threads: number) {
  const model = mlp();
  const per = [300, 200, 250, 150];
  let at = 0;
  const partitions = per.map((n) => { const p = Int32Array.from({ length: n }, (_, i) => at + i); at += n; return p; });
  const events: fl.TrainingProgress[] = [];
  const metrics: fl.RoundMetrics[] = [];
  for await (const m of fl.simulate({
    model, backend, strategy: fl.feddip({ rounds: 2, fraction: 1, localEpochs: 3, batch: 8, sparsity: 0.8 }),
    initial: seededWeights(model.layout, 1),
    train: synthetic(900, 1), test: { ...synthetic(100, 2), sampleSize: 784 }, partitions, rounds: 2, rng: new Rng(1), threads,
    onProgress: (p) => events.push({ ...p }),
  })) metrics.push(m);
  return { events, metrics, total: 3 * 900 };
}

function checkRounds(events: fl.TrainingProgress[], total: number) {
  for (const round of [0, 1]) {
    const e = events.filter((p) => p.round === round);
    expect(e[0]).toEqual({ round, phase: 'train', samples: 0, total, clientsDone: 0, clients: 4 });
    expect(e[e.length - 1]).toEqual({ round, phase: 'train', samples: total, total, clientsDone: 4, clients: 4 });
    for (let i = 1; i < e.length; i++) {
      expect(e[i]!.samples).toBeGreaterThanOrEqual(e[i - 1]!.samples);
      expect(e[i]!.clientsDone).toBeGreaterThanOrEqual(e[i - 1]!.clientsDone);
    }
  }
}

describe('training progress from the simulation', () => {
  it('in this thread: every step, from 0 to E × the samples of the selected clients', async () => {
    const { events, total } = await progressOf(1);
    checkRounds(events, total);
    // One event per step (ceil(n/8) steps per epoch and client), plus the start and each client's end.
    const steps = 3 * [300, 200, 250, 150].reduce((s, n) => s + Math.ceil(n / 8), 0);
    expect(events.filter((p) => p.round === 0)).toHaveLength(1 + steps + 4);
  });

  it('from worker threads: as messages, throttled, and complete at the end', async () => {
    const { events, metrics, total } = await progressOf(2);
    checkRounds(events, total);
    for (const round of [0, 1]) {
      const n = events.filter((p) => p.round === round).length;
      // At most one message per worker per 100 ms of training, plus the start and 4 ends: far
      // fewer than the 339 steps, which a message per step would give.
      expect(n).toBeLessThanOrEqual(1 + 4 + 2 * Math.ceil(metrics[round]!.seconds_train / 0.1) + 2);
    }
  });
});
