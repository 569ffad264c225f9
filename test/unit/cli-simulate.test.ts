// `feddip simulate` end to end on the real Fashion-MNIST (Debian's dataset-fashion-mnist; CI
// installs it): outputs written as documented, Ctrl-C stops cleanly, bad input exits 2.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { nodeFiles } from '../../src/cli/io.ts';
import type { TerminalStream } from '../../src/cli/progress.ts';

const haveData = existsSync('/usr/share/datasets/fashion-mnist');
const dir = mkdtempSync(join(tmpdir(), 'feddip-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[], stop = () => false, progress?: TerminalStream) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), files: await nodeFiles(), stopRequested: stop, progress });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Control characters other than the newline: what must never reach a log file or a pipe. */
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/;

const small = ['--clients', '100', '--fraction', '0.02', '--local-epochs', '1', '--threads', '1', '--quiet'];

describe('feddip simulate', () => {
  it('writes config, one metrics line per round, a summary and the model', async (ctx) => {
    if (!haveData) return ctx.skip('Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)');
    const out = join(dir, 'run');
    const r = await run(['simulate', ...small, '--rounds', '2', '--out', out, '--seed', '3']);
    expect(r.code, r.err).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ method: 'feddip', dataset: 'fashion-mnist', model: 'lenet5', clients: 100, rounds: 2, seed: 3, parameters: 61706 });
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((m) => m.round)).toEqual([0, 1]);
    for (const m of lines) {
      for (const key of ['test_acc', 'test_loss', 'train_loss', 'sparsity', 'sparsity_all', 'bytes_down', 'bytes_up', 'seconds', 'clients_ok', 'clients_failed']) {
        expect(m[key], key).toEqual(expect.any(Number));
      }
      expect(m.clients_ok).toBe(2);
    }
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ rounds_completed: 2, interrupted: false, final_acc: lines[1].test_acc });
    expect(readFileSync(join(out, 'model.fdip')).subarray(0, 4).toString()).toBe('FDIP');
    // Its plots and table, without a separate report command.
    expect(readFileSync(join(out, 'accuracy.svg'), 'utf8')).toMatch(/<svg[^]*<path d="M/);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('| feddip | 2 |');
  }, 120_000);

  it('stops after the round in flight when asked (Ctrl-C) and says so in the summary', async (ctx) => {
    if (!haveData) return ctx.skip('Fashion-MNIST not installed');
    const out = join(dir, 'stopped');
    const r = await run(['simulate', ...small, '--rounds', '10', '--out', out], () => true);
    expect(r.code).toBe(130);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ rounds_completed: 1, rounds_planned: 10, interrupted: true });
  }, 120_000);

  it('draws round and local-training bars on a terminal, and not one control character elsewhere', async (ctx) => {
    if (!haveData) return ctx.skip('Fashion-MNIST not installed');
    // Four local epochs: the bars redraw at most every 100 ms, and one epoch of two clients (1,200
    // samples) can finish within a single interval, leaving no bar in flight to look at.
    const args = ['simulate', '--clients', '100', '--fraction', '0.02', '--local-epochs', '4', '--threads', '2', '--rounds', '1'];
    let drawn = '';
    const tty = await run([...args, '--out', join(dir, 'tty')], () => false, { isTTY: true, columns: 120, write: (t) => { drawn += t; } });
    expect(tty.code, tty.err).toBe(0);
    expect(drawn).toMatch(/rounds {3}\[░+\] {3}0% 0\/1 /);
    // Two clients of 600 samples, four epochs; progress arrived from the worker threads.
    expect(drawn).toMatch(/training \[[█░]+\] +\d+% \d[\d,]*\/4,800 [\d,.]+ samples\/s ETA [\d.]+s {2}[01]\/2 clients/);
    expect(drawn).toMatch(/training \[█+\] 100% 4,800\/4,800 [\d,.]+ samples\/s done {2}evaluating/);
    expect(drawn).toMatch(/rounds {3}\[█+\] 100% 1\/1 /);
    expect(drawn.endsWith('\x1b[J')).toBe(true); // cleared before the last lines
    let piped = '';
    const plain = await run([...args, '--out', join(dir, 'plain')], () => false, { isTTY: false, write: (t) => { piped += t; } });
    expect(plain.code, plain.err).toBe(0);
    expect(piped).toBe('');
    expect(plain.out).toMatch(/round 1\/1 {2}acc [\d.]+ %/);
    expect(plain.out).not.toMatch(CONTROL);
    expect(plain.err).not.toMatch(CONTROL);
    // --quiet on a terminal: no bars, no lines.
    let quiet = '';
    const q = await run([...args, '--quiet', '--out', join(dir, 'quiet')], () => false, { isTTY: true, write: (t) => { quiet += t; } });
    expect([q.code, q.out, quiet]).toEqual([0, '', '']);
  }, 180_000);

  it('runs the SIMD build asked for (--simd) and records it; both builds train alike', async (ctx) => {
    if (!haveData) return ctx.skip('Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)');
    const acc: Record<string, number> = {};
    for (const [simd, description] of [['baseline', /^wasm \(SIMD, \d+ threads?\)$/], ['relaxed', /^wasm \(relaxed SIMD, \d+ threads?\)$/]] as const) {
      const out = join(dir, `simd-${simd}`);
      const r = await run(['simulate', ...small, '--rounds', '1', '--out', out, '--seed', '4', '--simd', simd]);
      expect(r.code, r.err).toBe(0);
      const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      expect(config).toMatchObject({ simd, backendDescription: expect.stringMatching(description) });
      acc[simd] = JSON.parse(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim()).test_acc;
    }
    // The same run to within float32 rounding: the accuracies of 10,000 test images agree closely.
    expect(Math.abs(acc.baseline! - acc.relaxed!)).toBeLessThan(0.01);
    const bad = await run(['simulate', '--simd', 'fast']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--simd/);
  }, 120_000);

  it('exits 2 with a message that names the option on bad input', async () => {
    expect((await run(['simulate', '--rounds', 'many'])).err).toMatch(/--rounds expects a number, got 'many'/);
    expect((await run(['simulate', '--method', 'fedprox'])).code).toBe(2);
    expect((await run(['simulate', '--bogus', '1'])).err).toMatch(/unknown option --bogus/);
    expect((await run(['simulate', '--sparsity', '1.5', '--data-dir', dir])).code).toBe(2);
  });

  it('prints help with examples', async () => {
    const r = await run(['simulate', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--local-epochs <n>/);
    expect(r.out).toMatch(/Examples:/);
  });
});
