// The federation with real processes on loopback (uses dist/: `npm run build:js` first):
//  • a client process SIGKILLed after fetching its task: the round completes by over-selection,
//    and the same client, restarted, re-joins under its id and contributes to a later round;
//  • `feddip serve` under Deno (Deno.serve), SIGKILLed after a round and restarted with --resume:
//    Node clients ride through the outage and the federation finishes;
//  • 200 concurrent clients × 3 rounds of LeNet-5 against `feddip serve` in its own process, whose
//    resident memory is sampled from /proc and must stay bounded (it does not hold the updates).
// FEDDIP_E2E_CLIENTS raises the client count of the last test (default 200).
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, fl, lenet5, mlp, Rng, type Backend } from '../../src/index.ts';
import { decodeFrame, encodeFrame } from '../../src/codec/frame.ts';
import { modelByName } from '../../src/nn/models.ts';
import { serveHttp } from '../../src/platform/http.ts';
import { runClient } from '../../src/transport/client.ts';
import { CHECKPOINT_FILE, createAggregator } from '../../src/transport/server.ts';
import { parseTokens } from '../../src/transport/tokens.ts';
import { seededWeights } from './fl-helpers.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
// The executable itself, not the npm package's bin.cjs wrapper: a SIGKILL must reach the server.
const denoExe = join(dirname(createRequire(import.meta.url).resolve('deno/package.json')), process.platform === 'win32' ? 'deno.exe' : 'deno');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child process whose output lines can be awaited. */
class Proc {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  #waiters: Array<() => void> = [];

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { env: { ...process.env, NO_COLOR: '1' } });
    let partial = '';
    this.child.stdout.on('data', (d) => {
      partial += d;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.child.stderr.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.child.on('close', (code) => { for (const w of this.#waiters.splice(0)) w(); resolve(code); }));
  }

  /** The first output line matching `pattern`, waiting up to `ms` for it. */
  async line(pattern: RegExp, ms = 30_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.lines.find((l) => pattern.test(l));
      if (hit) return hit;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`process ended without printing ${pattern}: ${this.stderr.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`no line ${pattern} within ${ms} ms; stdout: ${this.lines.join(' | ').slice(-1000)} stderr: ${this.stderr.slice(-1000)}`);
      await Promise.race([new Promise<void>((r) => this.#waiters.push(r)), sleep(200)]);
    }
  }

  kill(): Promise<number | null> {
    this.child.kill('SIGKILL');
    return this.exited;
  }
}

let backend: Backend;
let dir: string;
const running: Proc[] = [];
const start = (command: string, args: string[]) => { const p = new Proc(command, args); running.push(p); return p; };

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build:js\` before these tests (npm test does)`);
  backend = await createBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'feddip-e2e-'));
});
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) await p.kill();
  backend.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** The synthetic share the runtimes' client script trains (noise plus one bright row per label). */
function share(seed: number, n: number, sampleSize: number, rows: number) {
  const r = new Rng(seed);
  const labels = Int32Array.from({ length: n }, () => r.int(rows));
  const images = Float32Array.from({ length: n * sampleSize }, () => 0.2 * r.uniform());
  const width = Math.floor(sampleSize / rows);
  labels.forEach((label, i) => images.fill(1, i * sampleSize + label * width, i * sampleSize + (label + 1) * width));
  return { images, labels, sampleSize, indices: Int32Array.from({ length: n }, (_, i) => i) };
}

describe('federation with processes on loopback', () => {
  it('a client SIGKILLed after fetching its task: the round completes by over-selection; restarted, it re-joins and contributes', async () => {
    const model = mlp(4, [1, 5, 5], 12);
    const tokens = ['token-victim-0123456789', 'token-alpha-01234567890', 'token-bravo-01234567890'];
    // Fraction 2/3 of 3 clients plans 2; over-selection (1.3×) asks all 3; 2 updates close a round.
    const agg = await createAggregator({
      layout: model.layout, initial: seededWeights(model.layout, 2),
      tokens: parseTokens(tokens.join('\n')), rounds: 2, minClients: 2, minAvailable: 3, roundTimeoutMs: 20_000, retryAfterMs: 20, log: () => undefined,
      strategy: fl.createStrategy('feddip', { rounds: 2, fraction: 2 / 3, localEpochs: 1, batch: 16, sparsity: 0.5, initSparsity: 0.2 }),
    });
    const server = await serveHttp(agg.handle, { port: 0 });
    const script = join(root, 'test', 'runtimes', 'federation-client-node.mjs');
    try {
      // Joined one after the other, so the ids are known: victim 0, alpha 1, bravo 2.
      const joined = async (count: number) => { for (let i = 0; i < 3000 && agg.status().joined < count; i++) await sleep(10); };
      const victim = start(process.execPath, [script, server.url, tokens[0]!, '7', '--hang-on-task']);
      await joined(1);
      // The others hold their first task until the victim has its own, so it is in the round for sure.
      let release!: () => void;
      const victimHasTask = new Promise<void>((r) => { release = r; });
      const others: Array<ReturnType<typeof runClient>> = [];
      for (const k of [1, 2]) {
        others.push(runClient(server.url, {
          token: tokens[k]!, model, backend, seed: k, backoffMs: 20, data: share(k, 64, 25, 4), maxRounds: k === 1 ? 1 : undefined,
          onTask: () => victimHasTask,
        }));
        await joined(k + 1);
      }
      expect(JSON.parse(await victim.line(/"task"/))).toEqual({ task: 0 });
      await victim.kill();
      release();
      // Round 0 closes on the two live updates, without waiting out its 20 s deadline.
      for (let i = 0; i < 1000 && agg.metrics().length < 1; i++) await sleep(10);
      const [r0] = agg.metrics();
      expect(r0).toMatchObject({ round: 0, applied: true, closedBy: 'complete', selected: [0, 1, 2], contributors: [1, 2], missing: [0] });
      expect(r0!.seconds).toBeLessThan(15);
      // Round 1 is open; client 1 has stopped (max 1 round), so it needs the victim back.
      const again = start(process.execPath, [script, server.url, tokens[0]!, '7']);
      const summary = JSON.parse(await again.line(/"clientId"/, 45_000));
      expect(await again.exited).toBe(0);
      expect(summary).toMatchObject({ clientId: 0, accepted: 1, refused: 0, ended: 'finished' });
      const ends = await Promise.all(others);
      expect(ends.map((s) => s.ended)).toEqual(['max-rounds', 'finished']);
      await agg.done;
      expect(agg.metrics()[1]).toMatchObject({ round: 1, applied: true, closedBy: 'complete', contributors: [0, 2], missing: [1] });
    } finally {
      await server.close();
      await agg.dispose();
    }
  }, 90_000);

  it('`feddip serve` under Deno, SIGKILLed after a round and restarted with --resume: the clients carry on and the federation finishes', async () => {
    const tokens = ['token-deno-one-0123456789', 'token-deno-two-0123456789'];
    const tokensFile = join(dir, 'deno-tokens.txt');
    writeFileSync(tokensFile, `${tokens.join('\n')}\n`);
    const runDir = join(dir, 'deno-run');
    if (!existsSync(denoExe)) throw new Error(`${denoExe} is missing: reinstall the 'deno' package (npm install)`);
    const serve = (extra: string[]) => start(denoExe, ['run', '--allow-net', '--allow-read', '--allow-write', '--allow-env', cli, 'serve',
      '--dir', runDir, '--tokens', tokensFile, '--model', 'mlp', '--dataset', 'fashion-mnist', '--rounds', '3', '--fraction', '1',
      '--local-epochs', '1', '--batch', '16', '--min-clients', '2', '--round-timeout', '30', '--sparsity', '0.5', '--init-sparsity', '0.2', ...extra]);
    const first = serve(['--port', '0']);
    const url = (await first.line(/listening on http:/, 60_000)).match(/(http:\/\/[\d.]+:\d+)/)![1]!;
    const model = modelByName('mlp', 10);
    // Once round 1's task is in hand, the clients train only after the kill: their updates meet a
    // dead port, then the restarted aggregator, which has reopened round 1 from its checkpoint.
    let killed!: () => void;
    const afterKill = new Promise<void>((r) => { killed = r; });
    const clients = [0, 1].map((k) => runClient(url, {
      token: tokens[k]!, model, backend, seed: k, backoffMs: 50, maxBackoffMs: 300, giveUpAfterMs: 60_000, data: share(k, 48, 784, 10),
      onTask: (info) => (info.round === 1 ? afterKill : undefined),
    }));
    await first.line(/^round 1\/3 .*2 updates/, 60_000); // round 0 closed, its checkpoint written
    await first.kill();
    killed();
    expect(existsSync(join(runDir, CHECKPOINT_FILE))).toBe(true);
    const second = serve(['--port', new URL(url).port, '--resume']);
    expect(await second.line(/rounds from round (\d+)/, 60_000)).toMatch(/from round 2\b/);
    await second.line(/^done after 3 rounds/, 60_000).catch((e) => { throw new Error(`${e.message}\nfirst: ${first.lines.join(" | ")}\nsecond: ${second.lines.join(" | ")} ${second.stderr}`); });
    expect(await second.exited).toBe(0);
    const summaries = await Promise.all(clients);
    for (const s of summaries) {
      expect(s.ended).toBe('finished');
      expect(s).toMatchObject({ accepted: 3, refused: 0 });
    }
    // Each round is reported once, after its checkpoint: none lost, none run twice.
    const roundsDone = [...first.lines, ...second.lines].filter((l) => /^round \d\/3 /.test(l)).map((l) => l.slice(0, 9));
    expect(roundsDone).toEqual(['round 1/3', 'round 2/3', 'round 3/3']);
    const saved = decodeFrame(new Uint8Array(readFileSync(join(runDir, 'model.fdip'))), { kind: 'model', layoutHash: model.layout.hash() });
    expect(saved.round).toBe(3);
  }, 150_000);

  it('200 concurrent clients × 3 rounds of LeNet-5 against `feddip serve`; its memory stays bounded', async (ctx) => {
    if (!existsSync('/proc/self/status')) return ctx.skip('needs /proc to read the aggregator\'s memory');
    const clients = Number(process.env.FEDDIP_E2E_CLIENTS ?? 200);
    const rounds = 3;
    const tokens = Array.from({ length: clients }, (_, i) => `many-clients-token-${String(i).padStart(6, '0')}`);
    const tokensFile = join(dir, 'many-tokens.txt');
    writeFileSync(tokensFile, `${tokens.join('\n')}\n`);
    const server = start(process.execPath, [cli, 'serve', '--dir', join(dir, 'many'), '--tokens', tokensFile, '--port', '0', '--model', 'lenet5',
      '--rounds', String(rounds), '--fraction', '1', '--min-clients', String(clients), '--round-timeout', '120', '--sparsity', '0.95', '--init-sparsity', '0.95']);
    const url = (await server.line(/listening on http:/, 60_000)).match(/(http:\/\/[\d.]+:\d+)/)![1]!;
    const memory = () => {
      const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
      const kb = (key: string) => Number(status.match(new RegExp(`${key}:\\s+(\\d+) kB`))![1]) / 1024;
      return { rss: kb('VmRSS'), peak: kb('VmHWM') };
    };
    await sleep(300);
    const baseline = memory();
    let sampledPeak = baseline.rss;
    const sampler = setInterval(() => { try { sampledPeak = Math.max(sampledPeak, memory().rss); } catch { /* exited */ } }, 50);

    const layout = lenet5().layout;
    const hash = layout.hash();
    const segmentSizes = layout.segments.map((s) => s.size);
    // A lightweight client: the real protocol and frames, a random 5 %-dense update instead of training.
    const client = async (k: number) => {
      const auth = { authorization: `Bearer ${tokens[k]}` };
      const joined = await (await fetch(`${url}/v1/join`, { method: 'POST', headers: auth, body: JSON.stringify({ samples: 100 + k }) })).json();
      const rng = new Rng(k);
      let accepted = 0;
      for (;;) {
        const task = await fetch(`${url}/v1/task?client=${joined.clientId}`, { headers: auth });
        if (task.status === 410) { await task.body?.cancel(); return accepted; }
        if (task.status === 204) { await task.body?.cancel(); await sleep(Number(task.headers.get('feddip-retry-after-ms'))); continue; }
        expect(task.status).toBe(200);
        const round = JSON.parse(task.headers.get('feddip-task')!).round as number;
        decodeFrame(new Uint8Array(await task.arrayBuffer()), { kind: 'model', layoutHash: hash, length: layout.size });
        const delta = new Float32Array(layout.size);
        for (let j = 0; j < layout.size / 20; j++) delta[rng.int(layout.size)] = 0.01 * rng.normal();
        const body = encodeFrame(delta, { kind: 'update', round, layoutHash: hash, segmentSizes });
        const answer = await fetch(`${url}/v1/update?client=${joined.clientId}&round=${round}&samples=${100 + k}`, { method: 'POST', headers: auth, body: body as Uint8Array<ArrayBuffer> });
        expect(answer.status, await answer.clone().text()).toBe(202);
        await answer.body?.cancel();
        accepted++;
      }
    };
    const t0 = Date.now();
    const accepted = await Promise.all(tokens.map((_, k) => client(k))).catch((error) => {
      throw new Error(`${(error as Error).message}; the aggregator said: ${server.stderr.slice(-3000)} ${server.lines.join(' | ').slice(-2000)}`, { cause: error });
    });
    const seconds = (Date.now() - t0) / 1000;
    await server.line(/^done after 3 rounds/, 60_000);
    const end = memory();
    clearInterval(sampler);
    expect(await server.exited).toBe(0);
    expect(accepted).toEqual(tokens.map(() => rounds));
    const roundLines = server.lines.filter((l) => /^round \d\/3 /.test(l));
    expect(roundLines).toHaveLength(rounds);
    for (const line of roundLines) expect(line).toMatch(new RegExp(`${clients} updates`));
    const peak = Math.max(end.peak, sampledPeak);
    const growth = peak - baseline.rss;
    // Buffering the updates would cost clients × (4 + 1) bytes × 61,706 per round (~59 MiB at 200)
    // on top of what the requests themselves take; folding keeps 8 bytes per parameter.
    const model = (layout.size * 4) / 2 ** 20;
    console.log(`aggregator memory with ${clients} clients × ${rounds} rounds (${seconds.toFixed(1)} s): RSS ${baseline.rss.toFixed(1)} MiB at start, `
      + `peak ${peak.toFixed(1)} MiB (+${growth.toFixed(1)} MiB), ${end.rss.toFixed(1)} MiB at the end; one fp32 model is ${model.toFixed(2)} MiB`);
    expect(growth).toBeLessThan(Math.max(64, (clients * 5 * layout.size) / 2 ** 20 / 2));
  }, 180_000);
});
