// The HTTP federation: the aggregator's handler driven with plain Requests (auth, limits, every
// kind of bad update, never a throw), then real federations over loopback with in-process clients:
// rounds complete, a silent client cannot stall a round, a killed aggregator resumes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, fl, mlp, Rng, type Backend } from '../../src/index.ts';
import { encodeFrame } from '../../src/codec/frame.ts';
import { serveHttp } from '../../src/platform/http.ts';
import { decodeCheckpoint, encodeCheckpoint, fileCheckpointStore, memoryCheckpointStore } from '../../src/transport/checkpoint.ts';
import { runClient } from '../../src/transport/client.ts';
import { type Aggregator, CHECKPOINT_FILE, createAggregator, type AggregatorOptions } from '../../src/transport/server.ts';
import { parseTokens } from '../../src/transport/tokens.ts';
import { seededWeights } from './fl-helpers.ts';

const model = mlp(4, [1, 5, 5], 12);
const layout = model.layout;
const hash = layout.hash();
const segmentSizes = layout.segments.map((s) => s.size);
const TOKENS = ['token-alpha-0123456789', 'token-bravo-0123456789', 'token-charlie-012345678', 'token-delta-0123456789'];
const tokens = parseTokens(TOKENS.join('\n'));
const initial = seededWeights(layout, 3);

/** Noise plus one bright row per label (learnable in a few steps). */
function synthetic(n: number, seed: number) {
  const r = new Rng(seed);
  const labels = Int32Array.from({ length: n }, () => r.int(4));
  const images = Float32Array.from({ length: n * 25 }, () => 0.2 * r.uniform());
  labels.forEach((label, i) => { for (let c = 0; c < 5; c++) images[i * 25 + label * 5 + c] = 1; });
  return { images, labels, sampleSize: 25 };
}

function options(extra: Partial<AggregatorOptions> = {}): AggregatorOptions {
  return {
    layout, initial, tokens, rounds: 3, minClients: 2, roundTimeoutMs: 5_000, retryAfterMs: 20, log: () => undefined,
    strategy: fl.createStrategy('feddip', { rounds: 3, fraction: 1, localEpochs: 1, batch: 16, sparsity: 0.5, initSparsity: 0.2, reconfig: 1 }),
    ...extra,
  };
}

const at = (path: string, token: string | null, init: RequestInit = {}) =>
  new Request(`http://aggregator${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers } });

async function joinAll(agg: Aggregator, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let k = 0; k < count; k++) ids.push((await (await agg.handle(at('/v1/join', TOKENS[k]!, { method: 'POST' }))).json()).clientId);
  return ids;
}

const update = (values: Float32Array, round: number, extra: { layoutHash?: string } = {}) =>
  encodeFrame(values, { kind: 'update', round, layoutHash: extra.layoutHash ?? hash, segmentSizes, sent: new Uint8Array(values.length).fill(1) });

const post = (agg: Aggregator, client: number, round: number, body: Uint8Array, query = '&samples=10') =>
  agg.handle(at(`/v1/update?client=${client}&round=${round}${query}`, TOKENS[client]!, { method: 'POST', body: body as Uint8Array<ArrayBuffer> }));

const small = (seed: number, scale = 1e-3) => { const r = new Rng(seed); return Float32Array.from({ length: layout.size }, () => scale * (r.uniform() - 0.5)); };

describe('aggregator handler', () => {
  it('asks for a bearer token (401), refuses other clients\' ids (403) and unknown paths (404)', async () => {
    const agg = await createAggregator(options());
    try {
      for (const r of [await agg.handle(at('/v1/status', null)), await agg.handle(at('/v1/status', 'not-a-token-at-all-xx')),
        await agg.handle(at('/v1/status', null, { headers: { authorization: 'Basic abc' } }))]) {
        expect(r.status).toBe(401);
        expect(r.headers.get('www-authenticate')).toMatch(/Bearer/);
        expect((await r.json()).error).toBe('unauthorized');
      }
      const notJoined = await agg.handle(at('/v1/task?client=0', TOKENS[0]!));
      expect(notJoined.status).toBe(403);
      expect((await notJoined.json()).error).toBe('not_joined');
      expect(await joinAll(agg, 2)).toEqual([0, 1]);
      expect(await joinAll(agg, 1)).toEqual([0]); // the same token keeps its id
      const impostor = await agg.handle(at('/v1/task?client=1', TOKENS[0]!));
      expect(impostor.status).toBe(403);
      expect((await impostor.json()).message).toMatch(/belongs to client 0, not 1/);
      expect((await agg.handle(at('/v1/nope', TOKENS[0]!))).status).toBe(404);
      expect((await agg.handle(at('/v1/join', TOKENS[0]!))).status).toBe(405);
    } finally {
      await agg.dispose();
    }
  });

  it('hands out tasks to selected clients and 204 + Retry-After otherwise', async () => {
    const agg = await createAggregator(options({ minClients: 3 }));
    try {
      await joinAll(agg, 2);
      const early = await agg.handle(at('/v1/task?client=0', TOKENS[0]!));
      expect(early.status).toBe(204);
      expect(early.headers.get('retry-after')).toBe('1');
      expect(early.headers.get('feddip-retry-after-ms')).toBe('20');
      await joinAll(agg, 3);
      const task = await agg.handle(at('/v1/task?client=2', TOKENS[2]!));
      expect(task.status).toBe(200);
      const info = JSON.parse(task.headers.get('feddip-task')!);
      expect(info).toMatchObject({ round: 0, masked: true, config: { round: 0, localEpochs: 1, batch: 16 } });
      expect(new Uint8Array(await task.arrayBuffer()).subarray(0, 4)).toEqual(new Uint8Array([0x46, 0x44, 0x49, 0x50]));
      const status = await (await agg.handle(at('/v1/status', TOKENS[0]!))).json();
      expect(status).toMatchObject({ phase: 'open', round: 0, joined: 3, selected: [0, 1, 2], received: 0 });
    } finally {
      await agg.dispose();
    }
  });

  it('refuses bad updates with the right status and code, applies nothing until the round closes', async () => {
    const store = memoryCheckpointStore();
    const agg = await createAggregator(options({ minClients: 4, store, maxUpdateBytes: 4 * layout.size + 2000 }));
    try {
      await joinAll(agg, 4);
      const before = agg.deployed().weights;
      const expectRefusal = async (r: Response, status: number, code: string, message?: RegExp) => {
        const body = await r.json();
        expect(r.status, JSON.stringify(body)).toBe(status);
        expect(body.error).toBe(code);
        if (message) expect(body.message).toMatch(message);
      };
      await expectRefusal(await post(agg, 3, 0, new Uint8Array(8 * layout.size)), 413, 'too_large');
      await expectRefusal(await post(agg, 3, 0, update(small(1), 0)), 409, 'already_refused');
      await expectRefusal(await post(agg, 0, 0, update(small(1), 0), ''), 400, 'bad_request', /'samples' is missing/);
      await expectRefusal(await post(agg, 0, 1, update(small(1), 1)), 409, 'wrong_round', /current round is 0/);
      // A malformed frame; then that client has answered for this round.
      const corrupt = update(small(1), 0);
      corrupt[40] = corrupt[40]! ^ 0xff;
      await expectRefusal(await post(agg, 0, 0, corrupt), 400, 'bad_frame', /checksum/);
      await expectRefusal(await post(agg, 0, 0, update(small(1), 0)), 409, 'already_refused');
      const nan = small(2);
      nan[7] = NaN;
      await expectRefusal(await post(agg, 1, 0, update(nan, 0)), 400, 'non_finite', /entry 7/);
      expect(agg.deployed().weights).toEqual(before); // nothing applied while the round is open
      expect(store.files.size).toBe(0);
    } finally {
      await agg.dispose();
    }
  });

  it('refuses a wrong layout and a norm outlier; a round short of updates once all answered is skipped', async () => {
    const agg = await createAggregator(options({ minClients: 4 }));
    try {
      await joinAll(agg, 4);
      const before = agg.deployed().weights;
      const wrong = await post(agg, 0, 0, update(small(1), 0, { layoutHash: '00000000' }));
      expect(wrong.status).toBe(400);
      expect((await wrong.json()).error).toBe('wrong_layout');
      // Clients 1–3: two honest updates, then … the median needs three accepted ones first.
      for (const c of [1, 2]) expect((await post(agg, c, 0, update(small(10 + c), 0))).status).toBe(202);
      expect(agg.round).toBe(0);
      const big = await post(agg, 3, 0, update(small(20, 1), 0));
      expect(big.status).toBe(202); // only two accepted so far: no median to compare with yet
      expect(agg.round).toBe(1); // all four answered, three accepted < minClients 4: skipped at once
      expect(agg.metrics()[0]).toMatchObject({ applied: false, closedBy: 'skipped', rejected: 1, missing: [0] });
      expect(agg.deployed().weights).toEqual(before);
    } finally {
      await agg.dispose();
    }
  });

  it('refuses an update whose norm is far above the median of the accepted ones', async () => {
    const agg = await createAggregator(options({ minClients: 4, minAvailable: 5, tokens: parseTokens([...TOKENS, 'token-echo-01234567890'].join('\n')) }));
    try {
      await joinAll(agg, 4);
      await agg.handle(at('/v1/join', 'token-echo-01234567890', { method: 'POST' }));
      // The round opens with all five joined and selects them all (fraction 1), so one is still out.
      for (const c of [0, 1, 2]) expect((await post(agg, c, 0, update(small(10 + c), 0))).status).toBe(202);
      const big = await post(agg, 3, 0, update(small(20, 1), 0));
      expect(big.status).toBe(422);
      const body = await big.json();
      expect(body.error).toBe('norm_outlier');
      expect(body.message).toMatch(/exceeds 10× the median/);
      expect(agg.status().received).toBe(3);
    } finally {
      await agg.dispose();
    }
  });

  it('closes a round once every selected client answered, applies the weighted mean, writes the checkpoint', async () => {
    const store = memoryCheckpointStore();
    const agg = await createAggregator(options({ minClients: 2, store, strategy: fl.createStrategy('fedavg', { rounds: 3, fraction: 1 }) }));
    try {
      await joinAll(agg, 2);
      const before = agg.deployed().weights;
      const u0 = small(1);
      const u1 = small(2);
      expect((await post(agg, 0, 0, update(u0, 0), '&samples=30')).status).toBe(202);
      expect(agg.round).toBe(0);
      expect((await post(agg, 1, 0, update(u1, 0), '&samples=10')).status).toBe(202);
      await agg.dispose(); // waits for the checkpoint
      const after = agg.deployed().weights;
      for (let i = 0; i < after.length; i += 97) expect(after[i]).toBeCloseTo(before[i]! + 0.75 * u0[i]! + 0.25 * u1[i]!, 6);
      const { json } = decodeCheckpoint(store.files.get(CHECKPOINT_FILE)!);
      expect(json).toMatchObject({ round: 1, layoutHash: hash, clients: [{ id: 0, name: 'client-1' }, { id: 1, name: 'client-2' }] });
      expect(agg.metrics()[0]).toMatchObject({ round: 0, applied: true, contributors: [0, 1], samples: 40, closedBy: 'complete' });
    } finally {
      await agg.dispose();
    }
  });

  it('never throws: hostile requests all get JSON answers', async () => {
    const agg = await createAggregator(options());
    try {
      await joinAll(agg, 2);
      const hostile = [
        at('/v1/update?client=abc&round=0&samples=1', TOKENS[0]!, { method: 'POST', body: 'x' }),
        at('/v1/update?client=0&round=-1&samples=1', TOKENS[0]!, { method: 'POST', body: 'x' }),
        at('/v1/update?client=0&round=0&samples=99999999999', TOKENS[0]!, { method: 'POST', body: 'x' }),
        at('/v1/update?client=0&round=0&samples=5', TOKENS[0]!, { method: 'POST', body: new Uint8Array(0) }),
        at('/v1/update?client=0&round=0&samples=5', TOKENS[0]!, { method: 'POST', body: encodeFrame(new Float32Array(3), { kind: 'update', round: 0, layoutHash: hash, segmentSizes: [3] }) as Uint8Array<ArrayBuffer> }),
        at('/v1/update?client=1&round=0&samples=5', TOKENS[1]!, { method: 'POST', body: encodeFrame(small(1), { kind: 'model', round: 0, layoutHash: hash, segmentSizes }) as Uint8Array<ArrayBuffer> }),
        at('/v1/task?client=99999999999999999999', TOKENS[0]!),
        at('/v1/join', `${TOKENS[0]} extra`, { method: 'POST' }),
      ];
      const codes = [];
      for (const r of hostile) {
        const response = await agg.handle(r);
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        expect(typeof (await response.json()).message).toBe('string');
        codes.push(response.status);
      }
      expect(codes).toEqual([400, 400, 400, 400, 409, 400, 400, 401]);
    } finally {
      await agg.dispose();
    }
  });

  it('checkpoints round-trip and refuse damage', () => {
    const bytes = encodeCheckpoint({ round: 4, note: 'x' }, { w: Float32Array.of(1.5, -2, 3e-8), m: Uint8Array.of(1, 0, 1) });
    const back = decodeCheckpoint(bytes);
    expect(back.json).toEqual({ round: 4, note: 'x' });
    expect(back.arrays.w).toEqual(Float32Array.of(1.5, -2, 3e-8));
    expect(back.arrays.m).toEqual(Uint8Array.of(1, 0, 1));
    const damaged = bytes.slice();
    damaged[20] = damaged[20]! ^ 1;
    expect(() => decodeCheckpoint(damaged)).toThrow(/checksum/);
  });

  it('parses token files and rejects weak or shared tokens', () => {
    expect(parseTokens('# comment\nabcdefghijklmnop\n\nqrstuvwxyz0123456\n').lookup('qrstuvwxyz0123456')).toBe('client-2');
    expect(parseTokens('{"alice":"abcdefghijklmnop"}').lookup('abcdefghijklmnop')).toBe('alice');
    expect(parseTokens('{"alice":"abcdefghijklmnop"}').lookup('abcdefghijklmnoq')).toBeUndefined();
    expect(() => parseTokens('short')).toThrow(/at least 16/);
    expect(() => parseTokens('abcdefghijklmnop\nabcdefghijklmnop')).toThrow(/its own/);
    expect(() => parseTokens('')).toThrow(/at least one/);
  });
});

describe('federation over HTTP (loopback)', () => {
  let backend: Backend;
  let dir: string;
  beforeAll(async () => {
    backend = await createBackend('wasm');
    dir = mkdtempSync(join(tmpdir(), 'feddip-net-'));
  });
  afterAll(() => {
    backend.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const train = synthetic(240, 1);
  const share = (k: number, n: number) => ({ ...train, indices: Int32Array.from({ length: 240 / n }, (_, i) => k * (240 / n) + i) });

  it('3 clients run 3 rounds of FedDIP; the model improves; the checkpoint holds round 3', async () => {
    const store = fileCheckpointStore(join(dir, 'e2e'));
    const agg = await createAggregator(options({ minClients: 3, store }));
    const server = await serveHttp(agg.handle, { port: 0 });
    try {
      const summaries = await Promise.all([0, 1, 2].map((k) => runClient(server.url, {
        token: TOKENS[k]!, data: share(k, 3), model, backend, seed: k + 1, backoffMs: 20,
      })));
      await agg.done;
      expect(summaries.map((s) => s.roundsTrained)).toEqual([3, 3, 3]);
      expect(summaries.every((s) => s.ended === 'finished' && s.refused === 0)).toBe(true);
      const m = agg.metrics();
      expect(m.map((r) => [r.round, r.applied, r.contributors.length])).toEqual([[0, true, 3], [1, true, 3], [2, true, 3]]);
      expect(m[2]!.trainLoss!).toBeLessThan(m[0]!.trainLoss!);
      expect(m[0]!.bytesUp).toBeGreaterThan(0);
      expect(decodeCheckpoint((await store.read(CHECKPOINT_FILE))!).json.round).toBe(3);
      // The pruned model: the schedule's final sparsity over the prunable weights.
      const w = agg.deployed().weights;
      const prunable = layout.prunable;
      let zeros = 0;
      let total = 0;
      for (const s of prunable) for (let i = s.offset; i < s.offset + s.size; i++) { total++; if (w[i] === 0) zeros++; }
      expect(zeros / total).toBeGreaterThan(0.2);
      const status = await (await fetch(`${server.url}/v1/status`, { headers: { authorization: `Bearer ${TOKENS[0]}` } })).json();
      expect(status).toMatchObject({ phase: 'finished', round: 3 });
    } finally {
      await server.close();
      await agg.dispose();
    }
  }, 60_000);

  it('a client that never answers does not stall the round: it closes at the deadline', async () => {
    const agg = await createAggregator(options({ minClients: 2, minAvailable: 3, rounds: 1, roundTimeoutMs: 600, strategy: fl.createStrategy('feddip', { rounds: 1, fraction: 1, localEpochs: 1, batch: 16 }) }));
    const server = await serveHttp(agg.handle, { port: 0 });
    try {
      // Client 2 joins, is selected, fetches nothing and never sends.
      const silent = (await (await fetch(`${server.url}/v1/join`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS[2]}` } })).json()).clientId;
      const started = Date.now();
      const summaries = await Promise.all([0, 1].map((k) => runClient(server.url, { token: TOKENS[k]!, data: share(k, 3), model, backend, seed: 9 })));
      await agg.done;
      expect(summaries.map((s) => s.accepted)).toEqual([1, 1]);
      const [r] = agg.metrics();
      expect(r).toMatchObject({ round: 0, applied: true, closedBy: 'deadline', missing: [silent] });
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    } finally {
      await server.close();
      await agg.dispose();
    }
  }, 30_000);

  it('skips a round after one extension when too few updates arrive, instead of stalling', async () => {
    const agg = await createAggregator(options({ minClients: 2, rounds: 2, roundTimeoutMs: 150 }));
    try {
      await joinAll(agg, 2);
      await new Promise((r) => setTimeout(r, 600));
      const m = agg.metrics();
      expect(m.length).toBeGreaterThanOrEqual(1);
      expect(m[0]).toMatchObject({ round: 0, applied: false, closedBy: 'skipped', missing: [0, 1] });
      expect(m[0]!.seconds).toBeGreaterThanOrEqual(0.29);
    } finally {
      await agg.dispose();
    }
  });

  it('an aggregator killed mid-federation resumes from its checkpoint; clients carry on', async () => {
    const path = join(dir, 'resume');
    const base = { minClients: 2, rounds: 4, store: fileCheckpointStore(path) };
    const strategy = () => fl.createStrategy('feddip', { rounds: 4, fraction: 1, localEpochs: 1, batch: 16, sparsity: 0.5, initSparsity: 0.2, reconfig: 2 });
    let first = strategy();
    let agg = await createAggregator(options({ ...base, strategy: first }));
    let server = await serveHttp(agg.handle, { port: 0 });
    const port = server.port;
    const url = server.url;
    // Kill the aggregator as soon as round 1 has closed (its checkpoint written).
    const killed = new Promise<void>((resolve) => {
      const poll = setInterval(() => { if (agg.metrics().length >= 2) { clearInterval(poll); resolve(); } }, 5);
    });
    const clients = Promise.all([0, 1].map((k) => runClient(url, { token: TOKENS[k]!, data: share(k, 2), model, backend, seed: k, backoffMs: 20, maxBackoffMs: 100 })));
    await killed;
    await server.close();
    const roundsBefore = agg.metrics().length;
    await agg.dispose();
    // The dense W: the mask of a round that had opened is recomputed from W when it reopens.
    const weightsBefore = first.exportState!().arrays.weights;
    await expect(createAggregator(options({ ...base, strategy: strategy() }))).rejects.toThrow(/already holds a checkpoint/);
    first = strategy();
    agg = await createAggregator(options({ ...base, strategy: first, resume: true }));
    expect(agg.metrics().length).toBe(roundsBefore);
    expect(agg.round).toBe(roundsBefore);
    expect(first.exportState!().arrays.weights).toEqual(weightsBefore);
    server = await serveHttp(agg.handle, { port });
    try {
      const summaries = await clients;
      await agg.done;
      expect(agg.metrics().map((r) => r.round)).toEqual([0, 1, 2, 3]);
      expect(agg.metrics().every((r) => r.applied)).toBe(true);
      expect(summaries.every((s) => s.ended === 'finished')).toBe(true);
    } finally {
      await server.close();
      await agg.dispose();
    }
  }, 60_000);
});

describe('aggregator: weights, folding, methods, restarts', () => {
  const until = async (agg: Aggregator, round: number) => {
    for (let i = 0; i < 2000 && !(agg.round === round && agg.phase === 'open'); i++) await new Promise((r) => setTimeout(r, 2));
    expect({ round: agg.round, phase: agg.phase }).toEqual({ round, phase: 'open' });
  };
  const join = async (agg: Aggregator, token: string, body?: unknown) =>
    (await agg.handle(at('/v1/join', token, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) }))).json();

  it('weights an update with at most the samples its client declared, its tokens-file limit and maxSamples', async () => {
    const named = parseTokens(JSON.stringify({ a: TOKENS[0], b: { token: TOKENS[1], maxSamples: 20 }, c: TOKENS[2], d: TOKENS[3] }));
    const agg = await createAggregator(options({ tokens: named, minClients: 4, rounds: 1, maxSamples: 1000, strategy: fl.createStrategy('fedavg', { rounds: 1, fraction: 1 }) }));
    try {
      expect(await join(agg, TOKENS[0]!, { samples: 30 })).toMatchObject({ clientId: 0, samples: 30, maxSamples: 30 });
      expect(await join(agg, TOKENS[1]!)).toMatchObject({ clientId: 1, samples: null, maxSamples: 20 });
      expect(await join(agg, TOKENS[2]!, { samples: 50 })).toMatchObject({ samples: 50 });
      expect(await join(agg, TOKENS[2]!, { samples: 500 })).toMatchObject({ clientId: 2, samples: 50, maxSamples: 50 }); // never raised
      expect((await agg.handle(at('/v1/join', TOKENS[3]!, { method: 'POST', body: '{"samples": -4}' }))).status).toBe(400);
      expect((await agg.handle(at('/v1/join', TOKENS[3]!, { method: 'POST', body: 'not json' }))).status).toBe(400);
      expect(await join(agg, TOKENS[3]!, {})).toMatchObject({ clientId: 3, samples: null, maxSamples: 1000 });
      const before = agg.deployed().weights;
      const updates = [1, 2, 3, 4].map((seed) => small(seed));
      const reported = [1_000_000, 100, 40, 5000];
      const weights = [30, 20, 40, 1000];
      for (let c = 0; c < 4; c++) {
        const r = await post(agg, c, 0, update(updates[c]!, 0), `&samples=${reported[c]}`);
        expect(r.status).toBe(202);
        expect((await r.json()).samples).toBe(weights[c]);
      }
      await agg.dispose();
      expect(agg.metrics()[0]).toMatchObject({ applied: true, samples: 1090, samplesClamped: 3 });
      const after = agg.deployed().weights;
      for (let i = 0; i < after.length; i += 31) {
        const mean = weights.reduce((s, w, c) => s + w * updates[c]![i]!, 0) / 1090;
        expect(after[i]).toBeCloseTo(before[i]! + mean, 6);
      }
    } finally {
      await agg.dispose();
    }
  });

  it('a skipped round leaves nothing behind: the next round folds only its own updates', async () => {
    const agg = await createAggregator(options({ minClients: 2, rounds: 2, strategy: fl.createStrategy('fedavg', { rounds: 2, fraction: 1 }) }));
    try {
      await joinAll(agg, 2);
      const before = agg.deployed().weights;
      expect((await post(agg, 0, 0, update(small(1, 0.5), 0))).status).toBe(202);
      const nan = small(2);
      nan[0] = Infinity;
      expect((await post(agg, 1, 0, update(nan, 0))).status).toBe(400);
      await until(agg, 1);
      expect(agg.metrics()[0]).toMatchObject({ applied: false, closedBy: 'skipped', contributors: [] });
      expect(agg.deployed().weights).toEqual(before);
      const [u0, u1] = [small(3), small(4)];
      expect((await post(agg, 0, 1, update(u0, 1))).status).toBe(202);
      expect((await post(agg, 1, 1, update(u1, 1))).status).toBe(202);
      await agg.dispose();
      const after = agg.deployed().weights;
      for (let i = 0; i < after.length; i += 17) expect(after[i]).toBeCloseTo(before[i]! + (u0[i]! + u1[i]!) / 2, 6);
    } finally {
      await agg.dispose();
    }
  });

  it('refuses the methods whose rounds the HTTP protocol cannot carry, saying why', async () => {
    for (const [method, why] of [['snip', /setup exchange/], ['prunefl', /setup exchange/], ['feddst', /mask of its own/]] as const) {
      await expect(createAggregator(options({ strategy: fl.createStrategy(method, { rounds: 3 }) }))).rejects.toThrow(why);
    }
  });

  // Every method an aggregator serves, restarted from its checkpoint after round 1, ends round 2
  // with the model of a run that never stopped (feddip-reference takes the buffered path, the
  // others fold).
  for (const method of ['feddip', 'feddip-noir', 'fedavg', 'feddip-reference', 'prunetrain', 'topk-ef']) {
    it(`${method}: an aggregator resumed from its checkpoint ends with the model of one that never stopped`, async () => {
      const strategy = () => fl.createStrategy(method, { rounds: 3, fraction: 1, localEpochs: 1, batch: 16, sparsity: 0.5, initSparsity: 0.2, reconfig: 1 });
      const feed = async (agg: Aggregator, round: number) => {
        await until(agg, round);
        for (const c of [0, 1]) expect((await post(agg, c, round, update(small(10 * round + c), round), `&samples=${10 + 20 * c}`)).status).toBe(202);
      };
      const straight = await createAggregator(options({ strategy: strategy(), store: memoryCheckpointStore() }));
      const store = memoryCheckpointStore();
      let restarted = await createAggregator(options({ strategy: strategy(), store }));
      try {
        await joinAll(straight, 2);
        await joinAll(restarted, 2);
        for (const round of [0, 1, 2]) {
          await feed(straight, round);
          if (round === 2) {
            await restarted.dispose(); // the checkpoint of round 1 is on "disk"
            restarted = await createAggregator(options({ strategy: strategy(), store, resume: true }));
          }
          await feed(restarted, round);
        }
        await straight.done;
        await restarted.done;
        expect(restarted.deployed()).toEqual(straight.deployed());
        expect(restarted.metrics().map((r) => ({ ...r, seconds: 0 }))).toEqual(straight.metrics().map((r) => ({ ...r, seconds: 0 })));
      } finally {
        await straight.dispose();
        await restarted.dispose();
      }
    });
  }

  it('keeps a running median equal to the sorted one', async () => {
    const { RunningMedian } = await import('../../src/transport/server.ts');
    const m = new RunningMedian();
    const seen: number[] = [];
    const r = new Rng(8);
    expect(Number.isNaN(m.median())).toBe(true);
    for (let i = 0; i < 300; i++) {
      const x = i % 50 === 0 ? 1 : Math.floor(r.uniform() * 20); // ties included
      m.push(x);
      seen.push(x);
      const s = [...seen].sort((a, b) => a - b);
      const mid = s.length >> 1;
      expect(m.median()).toBe(s.length % 2 ? s[mid] : (s[mid - 1]! + s[mid]!) / 2);
    }
  });

  it('parses per-client sample limits and finds any of many tokens', () => {
    const text = parseTokens('abcdefghijklmnop 1200\n# note\nqrstuvwxyz0123456\n');
    expect(text.maxSamples('client-1')).toBe(1200);
    expect(text.maxSamples('client-2')).toBeUndefined();
    expect(() => parseTokens('abcdefghijklmnop 12x')).toThrow(/<token> <max-samples>/);
    expect(() => parseTokens('{"a": {"token": "abcdefghijklmnop", "maxSamples": 0}}')).toThrow(/sample limit of 'a'/);
    const many = Array.from({ length: 5000 }, (_, i) => `many-tokens-${String(i).padStart(6, '0')}`);
    const set = parseTokens(many.join('\n'));
    for (const i of [0, 1, 2500, 4999]) expect(set.lookup(many[i]!)).toBe(`client-${i + 1}`);
    expect(set.lookup('many-tokens-005000')).toBeUndefined();
    expect(set.lookup(`${many[7]}x`)).toBeUndefined();
  });
});
