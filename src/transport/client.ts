// A federated client over HTTP: join, poll for a task, train it with the same trainClient the
// simulation uses, send the update back. Only `fetch` is needed, so the same code runs in Node,
// Deno and browsers. Network errors and 5xx answers are retried with exponential back-off (with
// jitter, so a restarted aggregator is not hit by every client at the same instant); an aggregator
// that restarts from its checkpoint keeps this client's id, and one that forgot it gets a re-join.
// Client memory a method asks for (top-k's error-feedback residual) stays here, in this process:
// it never travels, as in the simulation.
import type { Backend } from '../backend/backend.ts';
import { decodeFrame, encodeFrame } from '../codec/frame.ts';
import { FeddipError, InvalidArgumentError } from '../errors.ts';
import { BatchBuffers, type ClientData, taskSamples, trainClient } from '../fl/client.ts';
import type { ClientState } from '../fl/types.ts';
import type { ModelDef } from '../nn/models.ts';
import { Network } from '../nn/network.ts';
import { Rng } from '../util/rng.ts';
import { API_PREFIX, type ErrorReply, type JoinReply, RETRY_MS_HEADER, TASK_HEADER, type TaskInfo } from './protocol.ts';

export interface RunClientOptions {
  token: string;
  /** This client's share of the training data. */
  data: ClientData;
  model: ModelDef;
  backend: Backend;
  /** Seed of local shuffles and dropout (default 1). */
  seed?: number;
  /** Send updates as fp16. */
  fp16?: boolean;
  /** First retry delay after a network error or 5xx, doubled each time up to maxBackoffMs (default 200). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Give up after failing to reach the aggregator for this long (default 10 minutes). */
  giveUpAfterMs?: number;
  /** Stop after this many submitted updates (default: until the federation finishes). */
  maxRounds?: number;
  signal?: AbortSignal;
  /** Injected fetch (default globalThis.fetch). */
  fetch?: typeof fetch;
  log?: (line: string) => void;
  /** Called when a task has arrived, before training it (awaited). */
  onTask?: (info: TaskInfo) => void | Promise<void>;
  /** Called after each update the aggregator accepted or refused. */
  onRound?: (event: { round: number; accepted: boolean; trainLoss: number; reason?: string }) => void;
  /** Local training progress: samples processed of the round's total, after every step (0 at the start). */
  onProgress?: (event: { round: number; samples: number; total: number }) => void;
}

export interface ClientSummary {
  clientId: number;
  /** Rounds this client trained and sent an update for. */
  roundsTrained: number;
  accepted: number;
  refused: number;
  /** Why the loop ended. */
  ended: 'finished' | 'max-rounds';
}

export class TransportError extends FeddipError {
  constructor(message: string, readonly status?: number) {
    super('IO_ERROR', message);
    this.name = 'TransportError';
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function errorOf(response: Response): Promise<ErrorReply> {
  try {
    const body = await response.json() as ErrorReply;
    if (typeof body?.error === 'string') return body;
  } catch { /* not JSON: fall through */ }
  return { error: `http_${response.status}`, message: `HTTP ${response.status} ${response.statusText}` };
}

export async function runClient(url: string | URL, o: RunClientOptions): Promise<ClientSummary> {
  const base = new URL(API_PREFIX + '/', url);
  const doFetch = o.fetch ?? globalThis.fetch.bind(globalThis);
  const log = o.log ?? (() => undefined);
  const backoff = o.backoffMs ?? 200;
  const maxBackoff = o.maxBackoffMs ?? 10_000;
  const giveUp = o.giveUpAfterMs ?? 600_000;
  const layout = o.model.layout;
  const hash = layout.hash();
  if (o.data.indices.length === 0) throw new InvalidArgumentError('runClient: this client has no training samples');
  const auth = { authorization: `Bearer ${o.token}` };
  const rng = new Rng(o.seed ?? 1);
  const jitter = rng.fork('jitter');

  /** One request, retried through network errors and 5xx; other answers are returned as they are. */
  const request = async (path: string, init: RequestInit = {}): Promise<Response> => {
    let delay = backoff;
    const started = Date.now();
    for (;;) {
      o.signal?.throwIfAborted();
      let failure: string;
      try {
        const response = await doFetch(new URL(path, base), { ...init, headers: { ...auth, ...init.headers }, signal: o.signal });
        if (response.status < 500) return response;
        failure = `HTTP ${response.status}: ${(await errorOf(response)).message}`;
      } catch (error) {
        if (o.signal?.aborted) throw error;
        failure = (error as Error)?.message ?? String(error);
      }
      if (Date.now() - started > giveUp) throw new TransportError(`the aggregator at ${base.href} has not answered for ${Math.round(giveUp / 1000)} s (last: ${failure})`);
      log(`client: ${path}: ${failure}; retrying in ${delay} ms`);
      await sleep(delay * (0.5 + jitter.uniform()), o.signal);
      delay = Math.min(maxBackoff, delay * 2);
    }
  };

  const fail = async (what: string, response: Response): Promise<never> => {
    const e = await errorOf(response);
    throw new TransportError(`${what}: ${response.status} ${e.error}: ${e.message}`, response.status);
  };

  const join = async (): Promise<number> => {
    // The sample count goes with the join: the aggregator never weights this client's updates
    // with more than it declared here.
    const response = await request('join', {
      method: 'POST', body: JSON.stringify({ samples: o.data.indices.length }), headers: { 'content-type': 'application/json' },
    });
    if (response.status !== 200) return fail('join refused', response);
    const reply = await response.json() as JoinReply;
    if (reply.layoutHash !== hash) {
      throw new TransportError(`the aggregator trains model layout ${reply.layoutHash} (${reply.parameters} parameters), this client's ${o.model.name} is ${hash} (${layout.size})`);
    }
    log(`client: joined as client ${reply.clientId} (${reply.method}, round ${reply.round} of ${reply.rounds})`);
    return reply.clientId;
  };

  let clientId = await join();
  const net = new Network(o.model, o.backend);
  const summary: ClientSummary = { clientId, roundsTrained: 0, accepted: 0, refused: 0, ended: 'finished' };
  let state: ClientState | undefined;
  try {
    for (;;) {
      if (o.maxRounds !== undefined && summary.roundsTrained >= o.maxRounds) { summary.ended = 'max-rounds'; break; }
      const response = await request(`task?client=${clientId}`);
      if (response.status === 410) { await response.body?.cancel(); break; }
      if (response.status === 204) {
        const ms = Number(response.headers.get(RETRY_MS_HEADER) ?? NaN);
        const wait = Number.isFinite(ms) && ms >= 0 ? ms : 1000 * Number(response.headers.get('retry-after') ?? 1);
        await sleep(Math.min(wait, 60_000), o.signal);
        continue;
      }
      if (response.status === 403 && (await errorOf(response.clone())).error === 'not_joined') {
        await response.body?.cancel();
        clientId = summary.clientId = await join(); // the aggregator restarted without our registration
        continue;
      }
      if (response.status !== 200) await fail('fetching a task failed', response);
      const info = JSON.parse(response.headers.get(TASK_HEADER) ?? 'null') as TaskInfo | null;
      if (!info || typeof info.round !== 'number' || !info.config) throw new TransportError(`the task has no valid '${TASK_HEADER}' header`);
      const frame = decodeFrame(new Uint8Array(await response.arrayBuffer()), { kind: 'model', layoutHash: hash, length: layout.size });
      await o.onTask?.(info);
      const task = { config: info.config, weights: frame.values, mask: info.masked ? frame.sent : null, ...(state ? { state } : {}) };
      const buffers = new BatchBuffers(info.config.batch, o.data.sampleSize);
      const total = taskSamples(info.config, o.data.indices.length);
      let samples = 0;
      o.onProgress?.({ round: info.round, samples, total });
      const onStep = o.onProgress && ((count: number) => { samples += count; o.onProgress!({ round: info.round, samples, total }); });
      const result = await trainClient(task, { clientId, net, data: o.data, rng: rng.fork(`round-${info.round}`), buffers, onStep });
      summary.roundsTrained++;
      const body = encodeFrame(result.update, {
        kind: 'update', round: info.round, layoutHash: hash, segmentSizes: layout.segments.map((s) => s.size), sent: result.sent, fp16: o.fp16,
      });
      const query = `update?client=${clientId}&round=${info.round}&samples=${result.samples}&loss=${Number.isFinite(result.trainLoss) ? result.trainLoss : ''}`;
      const answer = await request(query, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/octet-stream' } });
      if (answer.status === 202) {
        await answer.body?.cancel();
        state = result.state;
        summary.accepted++;
        o.onRound?.({ round: info.round, accepted: true, trainLoss: result.trainLoss });
      } else if (answer.status === 401 || answer.status === 403) {
        await fail('the aggregator refused our credentials', answer);
      } else {
        // Late (409) or refused as invalid (4xx): this round is lost, the next task is what counts.
        const e = await errorOf(answer);
        // Error feedback loses nothing: what this update would have delivered waits in the residual.
        if (result.state?.residual) {
          const residual = result.state.residual;
          for (let i = 0; i < residual.length; i++) residual[i] = residual[i]! + result.update[i]!;
          state = result.state;
        }
        summary.refused++;
        log(`client ${clientId}: update for round ${info.round} refused (${answer.status} ${e.error}): ${e.message}`);
        o.onRound?.({ round: info.round, accepted: false, trainLoss: result.trainLoss, reason: e.error });
      }
    }
  } finally {
    net.dispose();
  }
  return summary;
}
