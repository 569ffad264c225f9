// The aggregator of a real federation, as one web-standard handler `(Request) => Promise<Response>`
// that Node (through platform/http.ts), Deno.serve, or a test with `new Request(...)` can drive.
// The HTTP API is documented in protocol.ts.
//
// A round: when at least `minClients` clients have joined, the strategy plans round r over the
// joined clients (ids 0 … N−1 in join order); the aggregator adds ⌈overSelect·m⌉ − m more at
// random, because some of any m clients drop out. Each selected client fetches the model, trains
// and posts its update, which is validated in full and buffered — nothing touches the global model
// before the round closes. The round closes when
//   • max(minClients, m) updates have been accepted (stragglers then get 409), or
//   • every selected client has answered (accepted or refused) and ≥ minClients were accepted, or
//   • the deadline passes with ≥ minClients accepted. With fewer, the deadline is extended once;
//     after that the round is skipped (nothing applied) so a federation never stalls for good.
// Closing aggregates, writes the checkpoint, and only then opens the next round, so a crash loses
// at most the round in flight.
//
// Accepted updates are folded as they arrive: Σ p_k·Δ_k goes into one float64 accumulator and the
// update itself is dropped, so an open round holds 8 bytes per parameter however many clients
// report (for strategies with aggregateMean; the others get their results buffered, as they need
// them one by one). The weight p_k of an update is the sample count its client reports, capped —
// a client cannot buy itself a bigger say: see #weight.
import { decodeSparseFrame, encodeFrame, type SparseScratch } from '../codec/frame.ts';
import { CodecError, FeddipError, InvalidArgumentError } from '../errors.ts';
import type { Strategy } from '../fl/strategy.ts';
import type { ClientFailure, ClientResult } from '../fl/types.ts';
import type { ParamLayout } from '../nn/layout.ts';
import { Rng, type RngState } from '../util/rng.ts';
import { type CheckpointArray, type CheckpointStore, CheckpointError, decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';
import {
  API_PREFIX, type ErrorReply, type JoinReply, type Phase, RETRY_MS_HEADER, type RoundRecord, type StatusReply,
  TASK_HEADER, type TaskInfo, type UpdateReply,
} from './protocol.ts';
import type { TokenSet } from './tokens.ts';

export const CHECKPOINT_FILE = 'aggregator.ckpt';

/**
 * Methods whose rounds need more than one model down and one update up per client. A strategy
 * with afterSetup() is refused for the same reason even when not listed.
 */
const NOT_OVER_HTTP: Record<string, string> = {
  snip: "its mask comes from one client's sensitivity report before round 0 (a setup exchange), which the HTTP protocol does not carry",
  prunefl: 'its initial pruning is a setup exchange with one client and its masks come from per-client importance statistics, which the HTTP protocol does not carry',
  feddst: 'every client trains under a mask of its own that the server keeps and hands out per client, which the HTTP protocol does not carry',
};

/** The methods `createAggregator` serves (the others run in `simulate`). */
export function servableOverHttp(strategy: Strategy): { ok: true } | { ok: false; reason: string } {
  const reason = NOT_OVER_HTTP[strategy.name] ?? (strategy.afterSetup ? 'it asks for setup exchanges (afterSetup), which the HTTP protocol does not carry' : undefined);
  return reason ? { ok: false, reason } : { ok: true };
}

export interface AggregatorOptions {
  layout: ParamLayout;
  /** A fresh strategy (createStrategy); the aggregator initializes it, or restores it on resume. */
  strategy: Strategy;
  /** Initial global weights (ignored when resuming from a checkpoint). */
  initial: Float32Array;
  tokens: TokenSet;
  rounds: number;
  /** Updates a round needs to be applied. */
  minClients: number;
  /** Joined clients needed before a round opens (default minClients). */
  minAvailable?: number;
  /** Milliseconds a round stays open (once more, if it is short of updates). */
  roundTimeoutMs: number;
  /** Over-selection factor ≥ 1 (default 1.3). */
  overSelect?: number;
  /** Seed of client selection (default 1); its generator is checkpointed. */
  seed?: number;
  /** Where checkpoints go; none are written without one. */
  store?: CheckpointStore;
  /** Continue from the store's checkpoint (a fresh start when there is none). */
  resume?: boolean;
  /** An update is refused when its L2 norm exceeds this × the median of the round's accepted ones (default 10; needs ≥ 3 accepted). */
  normFactor?: number;
  /**
   * The most samples any update is weighted with (default: no federation-wide cap). Per-client
   * limits come from the tokens file; see #weight for the whole rule.
   */
  maxSamples?: number;
  /** Largest update body accepted, in bytes (default: a dense fp32 frame of the model plus 1 KiB). */
  maxUpdateBytes?: number;
  /** What 204 answers tell clients to wait (default 1000 ms). */
  retryAfterMs?: number;
  /** Send the model as fp16. */
  fp16?: boolean;
  /** Diagnostics: refused updates, internal errors, checkpoint failures. */
  log?: (line: string) => void;
  /** Called after every closed (or skipped) round, once its checkpoint is written. */
  onRound?: (record: RoundRecord) => void;
  /** The clock, in ms since the epoch (tests). */
  now?: () => number;
}

interface ClientEntry {
  id: number;
  name: string;
  joined: number;
  /** The sample count the client declared when it first joined (lowered, never raised, by later joins). */
  samples: number | null;
}

/** What is kept of an accepted update once it has been folded in. */
interface Accepted { samples: number; trainLoss: number }

interface OpenRound {
  round: number;
  selected: number[];
  selectedSet: Set<number>;
  /** Accepted updates needed to close early. */
  target: number;
  frame: Uint8Array;
  info: TaskInfo;
  targetSparsity: number;
  accepted: Map<number, Accepted>;
  /** Σ p_k·Δ_k of the accepted updates (strategies with aggregateMean), else null. */
  sum: Float64Array | null;
  /** The accepted results themselves (strategies without aggregateMean), else null. */
  results: ClientResult[] | null;
  weight: number;
  clamped: number;
  norms: RunningMedian;
  /** Selected clients that answered, accepted or refused. */
  answered: Set<number>;
  rejected: number;
  deadline: number;
  extended: boolean;
  started: number;
  bytesDown: number;
  bytesUp: number;
}

/** A refusal: an HTTP status and the ErrorReply body. */
class Refusal extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly round?: number, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_TYPE, ...headers } });
}

/** Reads a body, refusing (413) as soon as it is known to exceed `limit`, without buffering more. */
async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw new Refusal(413, 'too_large', `the body of ${declared} bytes exceeds the limit of ${limit} bytes`);
  if (!request.body) return new Uint8Array(0);
  if (declared !== null) {
    // HTTP framing holds a body to its declared length, so the runtime may read it in one go;
    // the check after is for Requests built in-process, whose header nothing enforces.
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.length > limit) throw new Refusal(413, 'too_large', `the body exceeds the limit of ${limit} bytes`);
    return bytes;
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw new Refusal(413, 'too_large', `the body exceeds the limit of ${limit} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}

function integerParam(url: URL, name: string, where: 'query' | 'query or header' = 'query', header?: string | null): number {
  const raw = url.searchParams.get(name) ?? header ?? null;
  if (raw === null) throw new Refusal(400, 'bad_request', `the ${where} parameter '${name}' is missing`);
  if (!/^\d{1,15}$/.test(raw)) throw new Refusal(400, 'bad_request', `the ${where} parameter '${name}' must be a non-negative integer, got '${raw.slice(0, 40)}'`);
  return Number(raw);
}

/** The median of a growing list in O(log n) per insertion: two heaps, the lower half and the upper half. */
export class RunningMedian {
  /** Max-heap (stored negated) of the lower half; never shorter than `high`. */
  readonly #low: number[] = [];
  /** Min-heap of the upper half. */
  readonly #high: number[] = [];

  get size(): number {
    return this.#low.length + this.#high.length;
  }

  push(x: number): void {
    if (this.#low.length === 0 || x <= -this.#low[0]!) heapPush(this.#low, -x);
    else heapPush(this.#high, x);
    if (this.#low.length > this.#high.length + 1) heapPush(this.#high, -heapPop(this.#low));
    else if (this.#high.length > this.#low.length) heapPush(this.#low, -heapPop(this.#high));
  }

  /** NaN when empty. */
  median(): number {
    if (this.#low.length === 0) return NaN;
    return this.#low.length > this.#high.length ? -this.#low[0]! : (-this.#low[0]! + this.#high[0]!) / 2;
  }
}

function heapPush(h: number[], x: number): void {
  let i = h.length;
  h.push(x);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (h[parent]! <= x) break;
    h[i] = h[parent]!;
    i = parent;
  }
  h[i] = x;
}

function heapPop(h: number[]): number {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const c = l + 1 < h.length && h[l + 1]! < h[l]! ? l + 1 : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}

export class Aggregator {
  readonly #o: Required<Omit<AggregatorOptions, 'store' | 'onRound' | 'initial'>> & Pick<AggregatorOptions, 'store' | 'onRound'>;
  readonly #layout: ParamLayout;
  readonly #hash: string;
  readonly #segmentSizes: number[];
  readonly #clients = new Map<string, ClientEntry>();
  readonly #byId: ClientEntry[] = [];
  readonly #history: RoundRecord[] = [];
  #rng: Rng;
  #round = 0;
  #phase: Phase = 'waiting';
  #open: OpenRound | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closing: Promise<void> = Promise.resolve();
  #disposed = false;
  /** Where update frames are decoded (one at a time: decoding and folding never yield). */
  readonly #scratch: SparseScratch = { indices: new Uint32Array(0), values: new Float32Array(0) };
  /** The fold's accumulator, kept from round to round. */
  #sum: Float64Array | null = null;
  #finished!: () => void;
  /** Clients answered 410 since the federation finished. */
  readonly #told = new Set<number>();
  #farewell!: () => void;
  /** Resolves when the last round has closed. */
  readonly done: Promise<void>;
  /**
   * Resolves once every joined client has been told the federation is over (a 410 on /task). A
   * server that stops at `done` leaves clients polling a closed port until they give up; one that
   * waits for this (with a time limit, for clients that died) lets them all end cleanly.
   */
  readonly toldAll: Promise<void>;

  /** Use createAggregator(), which also restores a checkpoint. */
  constructor(options: AggregatorOptions) {
    const o = options;
    const bad = (what: string) => { throw new InvalidArgumentError(`aggregator: ${what}`); };
    if (!Number.isSafeInteger(o.rounds) || o.rounds < 1) bad(`rounds must be a positive integer, got ${o.rounds}`);
    if (!Number.isSafeInteger(o.minClients) || o.minClients < 1) bad(`minClients must be a positive integer, got ${o.minClients}`);
    const available = o.minAvailable ?? o.minClients;
    if (!Number.isSafeInteger(available) || available < o.minClients) bad(`minAvailable must be an integer ≥ minClients (${o.minClients}), got ${available}`);
    if (available > o.tokens.size) bad(`${available} clients must join before a round starts but the tokens file names only ${o.tokens.size}: no round could ever start`);
    if (!(o.roundTimeoutMs > 0)) bad(`roundTimeoutMs must be positive, got ${o.roundTimeoutMs}`);
    if (o.overSelect !== undefined && !(o.overSelect >= 1 && o.overSelect <= 10)) bad(`overSelect must be in [1, 10], got ${o.overSelect}`);
    if (o.normFactor !== undefined && !(o.normFactor > 1)) bad(`normFactor must be > 1, got ${o.normFactor}`);
    if (o.maxSamples !== undefined && !(Number.isSafeInteger(o.maxSamples) && o.maxSamples >= 1)) bad(`maxSamples must be a positive integer, got ${o.maxSamples}`);
    const servable = servableOverHttp(o.strategy);
    if (!servable.ok) bad(`method '${o.strategy.name}' cannot run over HTTP: ${servable.reason}; run it with \`feddip simulate\``);
    this.#layout = o.layout;
    this.#hash = o.layout.hash();
    this.#segmentSizes = o.layout.segments.map((s) => s.size);
    const denseFrame = 24 + 9 * this.#segmentSizes.length + 4 * o.layout.size + 4;
    this.#o = {
      layout: o.layout, strategy: o.strategy, tokens: o.tokens, rounds: o.rounds, minClients: o.minClients,
      minAvailable: available, roundTimeoutMs: o.roundTimeoutMs, overSelect: o.overSelect ?? 1.3, seed: o.seed ?? 1, store: o.store,
      resume: o.resume ?? false, normFactor: o.normFactor ?? 10, maxSamples: o.maxSamples ?? 1e9, maxUpdateBytes: o.maxUpdateBytes ?? denseFrame + 1024,
      retryAfterMs: o.retryAfterMs ?? 1000, fp16: o.fp16 ?? false, log: o.log ?? ((line) => console.error(line)),
      onRound: o.onRound, now: o.now ?? Date.now,
    };
    this.#rng = new Rng(this.#o.seed).fork('selection');
    o.strategy.initialize(o.layout, o.initial);
    this.done = new Promise((resolve) => { this.#finished = resolve; });
    this.toldAll = new Promise((resolve) => { this.#farewell = resolve; });
  }

  /** The handler: every path returns a Response; nothing a client sends makes it throw. */
  readonly handle = async (request: Request): Promise<Response> => {
    try {
      if (this.#disposed) return json(503, { error: 'shutting_down', message: 'the aggregator is shutting down' }, { 'retry-after': '1' });
      const response = await this.#route(request);
      this.#tick();
      return response;
    } catch (error) {
      // A refusal can complete a round too (the last selected client answered, badly).
      this.#tickSafely();
      if (error instanceof Refusal) {
        const body: ErrorReply = { error: error.code, message: error.message, ...(error.round !== undefined ? { round: error.round } : {}) };
        return json(error.status, body, error.headers);
      }
      this.#o.log(`aggregator: internal error on ${request.method} ${safePath(request)}: ${(error as Error)?.stack ?? String(error)}`);
      return json(500, { error: 'internal', message: 'internal error; the aggregator logged the details' });
    }
  };

  get round(): number { return this.#round; }
  get phase(): Phase { return this.#phase; }
  /** Closed rounds so far (copies). */
  metrics(): RoundRecord[] { return this.#history.map((r) => ({ ...r })); }
  /** The model a user would deploy now. */
  deployed(): { weights: Float32Array; mask: Uint8Array | null } { return this.#o.strategy.deployed(); }

  status(): StatusReply {
    const open = this.#open;
    return {
      phase: this.#phase, round: this.#round, rounds: this.#o.rounds, method: this.#o.strategy.name,
      joined: this.#byId.length, minClients: this.#o.minClients, selected: open ? [...open.selected] : [],
      received: open?.accepted.size ?? 0, deadline: open?.deadline ?? null, deadlineExtended: open?.extended ?? false,
    };
  }

  /** Stops timers and refuses further requests; waits for a checkpoint being written. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#closing;
  }

  // ------------------------------------------------------------------ routing

  async #route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname.replace(/\/+$/, '');
    const routes: Record<string, string> = { '/join': 'POST', '/task': 'GET', '/update': 'POST', '/status': 'GET', '/metrics': 'GET' };
    const endpoint = path.startsWith(API_PREFIX) ? path.slice(API_PREFIX.length) : '';
    const method = routes[endpoint];
    if (!method) throw new Refusal(404, 'not_found', `no such endpoint ${path.slice(0, 100)}; see the API in protocol.ts (${Object.keys(routes).map((r) => API_PREFIX + r).join(', ')})`);
    const name = this.#authenticate(request);
    if (request.method !== method) throw new Refusal(405, 'method_not_allowed', `${API_PREFIX}${endpoint} takes ${method}, not ${request.method}`, undefined, { allow: method });
    switch (endpoint) {
      case '/join': return this.#join(request, name);
      case '/task': return this.#task(url, name);
      case '/update': return this.#update(request, url, name);
      case '/status': return json(200, this.status());
      default: return json(200, this.metrics());
    }
  }

  #authenticate(request: Request): string {
    const header = request.headers.get('authorization');
    const challenge = { 'www-authenticate': 'Bearer realm="feddip"' };
    if (!header) throw new Refusal(401, 'unauthorized', "missing 'Authorization: Bearer <token>' header", undefined, challenge);
    const m = /^Bearer +([\x21-\x7e]{1,512})$/i.exec(header);
    if (!m) throw new Refusal(401, 'unauthorized', "the Authorization header must be 'Bearer <token>'", undefined, challenge);
    const name = this.#o.tokens.lookup(m[1]!);
    if (name === undefined) throw new Refusal(401, 'unauthorized', 'unknown token', undefined, challenge);
    return name;
  }

  /** The client the token belongs to, which must be the one the request names. */
  #client(url: URL, name: string): ClientEntry {
    const entry = this.#clients.get(name);
    if (!entry) throw new Refusal(403, 'not_joined', 'this token has not joined yet: POST /v1/join first');
    const id = integerParam(url, 'client');
    if (id !== entry.id) throw new Refusal(403, 'wrong_client', `this token belongs to client ${entry.id}, not ${id}`);
    return entry;
  }

  async #join(request: Request, name: string): Promise<Response> {
    const body = await readBody(request, 4096);
    let samples: number | null = null;
    if (body.length) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
      } catch {
        throw new Refusal(400, 'bad_request', "the join body must be empty or JSON {\"samples\": <count>}");
      }
      const declared = (parsed as { samples?: unknown } | null)?.samples;
      if (declared !== undefined) {
        if (!Number.isSafeInteger(declared) || (declared as number) < 1 || (declared as number) > 1e9) {
          throw new Refusal(400, 'bad_request', `'samples' must be an integer in 1 … 10^9, got ${JSON.stringify(declared)?.slice(0, 40)}`);
        }
        samples = declared as number;
      }
    }
    let entry = this.#clients.get(name);
    if (!entry) {
      entry = { id: this.#byId.length, name, joined: this.#o.now(), samples };
      this.#clients.set(name, entry);
      this.#byId.push(entry);
    } else if (samples !== null && (entry.samples === null || samples < entry.samples)) {
      // Re-joining can lower the declared count, never raise it: the weight stays what it was.
      entry.samples = samples;
    }
    const reply: JoinReply = {
      clientId: entry.id, round: this.#round, rounds: this.#o.rounds, layoutHash: this.#hash,
      parameters: this.#layout.size, method: this.#o.strategy.name, samples: entry.samples,
      maxSamples: this.#cap(entry),
    };
    return json(200, reply);
  }

  /** The most samples client `entry`'s updates are weighted with: see #weight. */
  #cap(entry: ClientEntry): number {
    return Math.min(entry.samples ?? Infinity, this.#o.tokens.maxSamples(entry.name) ?? Infinity, this.#o.maxSamples);
  }

  /**
   * The aggregation weight of an update: the sample count it reports, capped by the count its
   * client declared at join, by the client's limit in the tokens file, and by maxSamples. A
   * client's reported count is untrusted — without the caps one client could outweigh all others
   * by claiming 10^9 samples.
   */
  #weight(entry: ClientEntry, reported: number): number {
    return Math.min(reported, this.#cap(entry));
  }

  #wait(): Response {
    const ms = this.#o.retryAfterMs;
    return new Response(null, { status: 204, headers: { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))), [RETRY_MS_HEADER]: String(ms), 'cache-control': 'no-store' } });
  }

  #task(url: URL, name: string): Response {
    const client = this.#client(url, name);
    if (this.#phase === 'finished') {
      this.#told.add(client.id);
      if (this.#told.size >= this.#byId.length) this.#farewell();
      throw new Refusal(410, 'finished', `the federation has finished all ${this.#o.rounds} rounds`, this.#round);
    }
    const open = this.#open;
    if (this.#phase !== 'open' || !open || !open.selectedSet.has(client.id) || open.answered.has(client.id)) return this.#wait();
    open.bytesDown += open.frame.length;
    return new Response(open.frame as Uint8Array<ArrayBuffer>, {
      status: 200,
      headers: { 'content-type': 'application/octet-stream', 'cache-control': 'no-store', [TASK_HEADER]: JSON.stringify(open.info) },
    });
  }

  async #update(request: Request, url: URL, name: string): Promise<Response> {
    const client = this.#client(url, name);
    const round = integerParam(url, 'round');
    const samples = integerParam(url, 'samples', 'query or header', request.headers.get('feddip-samples'));
    if (samples < 1 || samples > 1e9) throw new Refusal(400, 'bad_request', `samples must be in 1 … 10^9, got ${samples}`);
    const lossText = url.searchParams.get('loss');
    const loss = lossText === null ? NaN : Number(lossText);
    const declared = request.headers.get('content-length');
    if (declared !== null && Number(declared) > this.#o.maxUpdateBytes) {
      throw new Refusal(413, 'too_large', `an update of ${declared} bytes exceeds the limit of ${this.#o.maxUpdateBytes} bytes`);
    }
    const open = this.#expectRound(round, client.id);
    let bytes: Uint8Array;
    try {
      bytes = await readBody(request, this.#o.maxUpdateBytes);
    } catch (error) {
      if (error instanceof Refusal && error.status === 413) open.answered.add(client.id);
      throw error;
    }
    // The round may have closed while the body arrived.
    this.#expectRound(round, client.id);
    const refuse = (status: number, code: string, message: string): never => {
      open.answered.add(client.id);
      open.rejected++;
      this.#o.log(`aggregator: round ${round}: refused the update of client ${client.id} (${code}): ${message}`);
      throw new Refusal(status, code, message, round);
    };
    let frame;
    try {
      frame = decodeSparseFrame(bytes, { maxBytes: this.#o.maxUpdateBytes }, this.#scratch);
    } catch (error) {
      if (error instanceof CodecError) return refuse(400, 'bad_frame', `the body is not a valid update frame: ${error.message}`);
      throw error;
    }
    if (frame.kind !== 'update') refuse(400, 'bad_frame', `expected an update frame, got a ${frame.kind} frame`);
    if (frame.layoutHash !== this.#hash) refuse(400, 'wrong_layout', `the update is for model layout ${frame.layoutHash}, this federation's is ${this.#hash}`);
    if (frame.length !== this.#layout.size) refuse(400, 'wrong_length', `the update has ${frame.length} entries, the model ${this.#layout.size}`);
    if (frame.round !== round) refuse(400, 'round_mismatch', `the frame says round ${frame.round} but the request says round ${round}`);
    const { indices, values } = frame;
    let squares = 0;
    for (let k = 0; k < values.length; k++) {
      const x = values[k]!;
      if (!Number.isFinite(x)) refuse(400, 'non_finite', `entry ${indices[k]} of the update is ${x}; updates must be finite`);
      squares += x * x;
    }
    const norm = Math.sqrt(squares);
    if (open.norms.size >= 3) {
      const m = open.norms.median();
      if (norm > this.#o.normFactor * m) {
        refuse(422, 'norm_outlier', `the update's L2 norm ${norm.toPrecision(4)} exceeds ${this.#o.normFactor}× the median ${m.toPrecision(4)} of this round's accepted updates`);
      }
    }
    // Accepted: nothing below can refuse it any more.
    const weight = this.#weight(client, samples);
    if (weight < samples) {
      open.clamped++;
      this.#o.log(`aggregator: round ${round}: client ${client.id} reported ${samples} samples; weighted with its cap of ${weight}`);
    }
    open.answered.add(client.id);
    open.norms.push(norm);
    open.bytesUp += bytes.length;
    open.weight += weight;
    const trainLoss = Number.isFinite(loss) ? loss : NaN;
    open.accepted.set(client.id, { samples: weight, trainLoss });
    if (open.sum) {
      const sum = open.sum;
      for (let k = 0; k < indices.length; k++) sum[indices[k]!] = sum[indices[k]!]! + weight * values[k]!;
    } else {
      const update = new Float32Array(this.#layout.size);
      const sent = new Uint8Array(this.#layout.size);
      for (let k = 0; k < indices.length; k++) { update[indices[k]!] = values[k]!; sent[indices[k]!] = 1; }
      open.results!.push({ clientId: client.id, samples: weight, update, sent, trainLoss });
    }
    const reply: UpdateReply = { accepted: true, round, received: open.accepted.size, samples: weight };
    return json(202, reply);
  }

  /** The open round, if `round` is it and this client may still send to it; else a 409 that says why. */
  #expectRound(round: number, id: number): OpenRound {
    const open = this.#open;
    if (this.#phase !== 'open' || !open || open.round !== round) {
      throw new Refusal(409, 'wrong_round', `round ${round} is not open (the current round is ${this.#round}${this.#phase === 'open' ? '' : `, ${this.#phase}`}); fetch a new task`, this.#round);
    }
    if (!open.selectedSet.has(id)) throw new Refusal(409, 'not_selected', `client ${id} was not selected for round ${round}`, round);
    if (open.accepted.has(id)) throw new Refusal(409, 'duplicate', `round ${round} already has an update from client ${id}`, round);
    if (open.answered.has(id)) throw new Refusal(409, 'already_refused', `client ${id}'s update for round ${round} was refused; wait for the next round`, round);
    return open;
  }

  // ------------------------------------------------------------------ rounds

  /** Moves the federation on when it can: opens a round, closes one, handles the deadline. */
  #tick(): void {
    if (this.#disposed) return;
    const open = this.#open;
    if (this.#phase === 'waiting' && this.#byId.length >= this.#o.minAvailable) {
      if (this.#round >= this.#o.rounds) this.#finish();
      else this.#openRound();
    } else if (this.#phase === 'open' && open) {
      const accepted = open.accepted.size;
      const allAnswered = open.selected.every((id) => open.answered.has(id));
      if (accepted >= open.target || (allAnswered && accepted >= this.#o.minClients)) this.#close('complete');
      // Everyone selected has answered and it is not enough: no one else can send to this round.
      else if (allAnswered) this.#close('skipped');
      else if (this.#o.now() >= open.deadline) {
        if (accepted >= this.#o.minClients) this.#close('deadline');
        else if (!open.extended) {
          open.extended = true;
          open.deadline = this.#o.now() + this.#o.roundTimeoutMs;
          open.info = { ...open.info, deadline: open.deadline };
          this.#o.log(`aggregator: round ${open.round}: ${accepted} of ${this.#o.minClients} needed updates at the deadline; extending it once`);
          this.#schedule(open.deadline);
        } else this.#close('skipped');
      }
    }
  }

  #tickSafely(): void {
    try {
      this.#tick();
    } catch (error) {
      this.#o.log(`aggregator: internal error while moving the federation on: ${(error as Error)?.stack ?? String(error)}`);
    }
  }

  #schedule(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const timer = setTimeout(() => { this.#timer = undefined; this.#tickSafely(); }, Math.max(0, at - this.#o.now()) + 5);
    // A pending deadline alone must not keep a process alive (Node, Deno).
    (timer as { unref?: () => void }).unref?.();
    this.#timer = timer;
  }

  #openRound(): void {
    const round = this.#round;
    const n = this.#byId.length;
    const plan = this.#o.strategy.configureRound(round, n, this.#rng);
    if (plan.setup || plan.states?.size) {
      // servableOverHttp() keeps such strategies out; one that plans this anyway cannot be served.
      throw new FeddipError('CLIENT_ERROR', `aggregator: method '${this.#o.strategy.name}' planned a setup exchange or server-held client states for round ${round}, which the HTTP protocol does not carry`);
    }
    const chosen = new Set(plan.clients);
    // Never fewer than minClients, or the round could not succeed even if everyone answered.
    const want = Math.min(n, Math.max(this.#o.minClients, Math.ceil(this.#o.overSelect * plan.clients.length - 1e-9)));
    const rest = Array.from({ length: n }, (_, i) => i).filter((i) => !chosen.has(i));
    for (const k of this.#rng.sample(rest.length, want - chosen.size)) chosen.add(rest[k]!);
    const selected = [...chosen].sort((a, b) => a - b);
    const now = this.#o.now();
    const deadline = now + this.#o.roundTimeoutMs;
    const frame = encodeFrame(plan.task.weights, {
      kind: 'model', round, layoutHash: this.#hash, segmentSizes: this.#segmentSizes, fp16: this.#o.fp16,
      sent: plan.task.mask ?? new Uint8Array(this.#layout.size).fill(1),
    });
    const folds = typeof this.#o.strategy.aggregateMean === 'function';
    if (folds) this.#sum ??= new Float64Array(this.#layout.size);
    this.#open = {
      round, selected, selectedSet: new Set(selected), target: Math.min(selected.length, Math.max(this.#o.minClients, plan.clients.length)), frame,
      info: { round, config: plan.task.config, masked: plan.task.mask !== null, deadline },
      targetSparsity: plan.targetSparsity, accepted: new Map(), sum: folds ? this.#sum : null, results: folds ? null : [],
      weight: 0, clamped: 0, norms: new RunningMedian(), answered: new Set(), rejected: 0,
      deadline, extended: false, started: now, bytesDown: 0, bytesUp: 0,
    };
    this.#phase = 'open';
    this.#schedule(deadline);
  }

  #close(how: RoundRecord['closedBy']): void {
    const open = this.#open!;
    this.#phase = 'closing';
    this.#open = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const contributors = [...open.accepted.keys()].sort((a, b) => a - b);
    const missing = open.selected.filter((id) => !open.accepted.has(id));
    const applied = how !== 'skipped';
    if (applied) {
      const failures: ClientFailure[] = missing.map((clientId) => ({ clientId, reason: open.answered.has(clientId) ? 'update refused' : 'no update before the round closed' }));
      if (open.sum) {
        const mean = new Float32Array(open.sum.length);
        for (let i = 0; i < mean.length; i++) mean[i] = open.sum[i]! / open.weight;
        this.#o.strategy.aggregateMean!(open.round, { mean, samples: open.weight, contributors }, failures);
      } else {
        this.#o.strategy.aggregate(open.round, open.results!.sort((a, b) => a.clientId - b.clientId), failures);
      }
    } else {
      this.#o.log(`aggregator: round ${open.round} skipped: ${contributors.length} of the ${this.#o.minClients} updates needed arrived before the extended deadline`);
    }
    // Ready for the next round's fold (a skipped round's partial sum must not leak into it).
    open.sum?.fill(0);
    const losses = [...open.accepted.values()].map((r) => r.trainLoss).filter(Number.isFinite);
    const record: RoundRecord = {
      round: open.round, applied, selected: open.selected, contributors: applied ? contributors : [], missing,
      rejected: open.rejected, samples: applied ? open.weight : 0, samplesClamped: open.clamped,
      trainLoss: losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : null,
      targetSparsity: open.targetSparsity, lr: open.info.config.lr, lambda: open.info.config.lambda,
      bytesDown: open.bytesDown, bytesUp: open.bytesUp, seconds: (this.#o.now() - open.started) / 1000, closedBy: how,
    };
    this.#history.push(record);
    this.#round = open.round + 1;
    this.#closing = this.#closing.then(async () => {
      try {
        await this.#checkpoint();
      } catch (error) {
        this.#o.log(`aggregator: could not write the checkpoint after round ${open.round}: ${(error as Error)?.message ?? String(error)}`);
      }
      try {
        this.#o.onRound?.(record);
      } catch (error) {
        this.#o.log(`aggregator: onRound failed: ${(error as Error)?.message}`);
      }
      this.#phase = 'waiting';
      this.#tickSafely();
    });
  }

  #finish(): void {
    this.#phase = 'finished';
    this.#finished();
    if (this.#byId.length === 0) this.#farewell();
  }

  // ------------------------------------------------------------------ checkpoints

  async #checkpoint(): Promise<void> {
    const store = this.#o.store;
    if (!store) return;
    const state = this.#o.strategy.exportState!(); // checked in createAggregator
    const arrays: Record<string, CheckpointArray> = {};
    for (const [k, a] of Object.entries(state.arrays)) arrays[`strategy.${k}`] = a;
    await store.write(CHECKPOINT_FILE, encodeCheckpoint({
      format: 'feddip-aggregator', round: this.#round, rounds: this.#o.rounds, layoutHash: this.#hash,
      strategy: { name: state.name, json: state.json }, rng: this.#rng.getState(),
      clients: this.#byId.map((c) => ({ id: c.id, name: c.name, joined: c.joined, samples: c.samples })), history: this.#history,
    }, arrays));
  }

  /** Restores a checkpoint written by #checkpoint (createAggregator calls it before serving). */
  restore(bytes: Uint8Array, where: string): void {
    const { json: j, arrays } = decodeCheckpoint(bytes, where);
    const bad = (what: string): never => { throw new CheckpointError(`${where}: ${what}`); };
    if (j.format !== 'feddip-aggregator') bad('not an aggregator checkpoint');
    if (j.layoutHash !== this.#hash) bad(`it is for model layout ${String(j.layoutHash)}, this model's is ${this.#hash}`);
    if (j.rounds !== this.#o.rounds) bad(`it is from a ${String(j.rounds)}-round federation, this one has ${this.#o.rounds} rounds (the schedules depend on it)`);
    const strategy = j.strategy as { name: string; json: Record<string, unknown> };
    if (strategy?.name !== this.#o.strategy.name) bad(`it is from method '${String(strategy?.name)}', this federation runs '${this.#o.strategy.name}'`);
    const round = j.round as number;
    if (!Number.isSafeInteger(round) || round < 0 || round > this.#o.rounds) bad(`round ${String(round)} is out of range`);
    const clients = j.clients as ClientEntry[];
    if (!Array.isArray(clients) || clients.some((c, i) => c?.id !== i || typeof c.name !== 'string'
      || !(c.samples === undefined || c.samples === null || (Number.isSafeInteger(c.samples) && c.samples >= 1)))) bad('its client registry is malformed');
    const strategyArrays: Record<string, Float32Array | Uint8Array> = {};
    for (const [k, a] of Object.entries(arrays)) if (k.startsWith('strategy.')) strategyArrays[k.slice(9)] = a;
    try {
      this.#o.strategy.importState!({ name: strategy.name, json: strategy.json, arrays: strategyArrays });
      this.#rng = Rng.fromState(j.rng as RngState);
    } catch (error) {
      if (error instanceof FeddipError) bad(error.message);
      throw error;
    }
    this.#clients.clear();
    this.#byId.length = 0;
    for (const c of clients) {
      const entry: ClientEntry = { id: c.id, name: c.name, joined: c.joined, samples: c.samples ?? null };
      this.#clients.set(c.name, entry);
      this.#byId.push(entry);
    }
    this.#history.length = 0;
    this.#history.push(...((j.history as RoundRecord[] | undefined) ?? []));
    this.#round = round;
  }

  /** Starts the round machinery (createAggregator calls it once the state is in place). */
  start(): void {
    this.#tick();
  }
}

function safePath(request: Request): string {
  try {
    return new URL(request.url).pathname.slice(0, 100);
  } catch {
    return '?';
  }
}

/**
 * Builds an aggregator. With `resume`, state comes from the store's checkpoint when there is one;
 * without it, an existing checkpoint is an error (rather than silently overwritten).
 */
export async function createAggregator(options: AggregatorOptions): Promise<Aggregator> {
  if (options.store && (!options.strategy.exportState || !options.strategy.importState)) {
    throw new InvalidArgumentError(`method '${options.strategy.name}' cannot save and restore its state (no exportState/importState), so it cannot run behind a checkpointing aggregator; implement both, or run it without a checkpoint store`);
  }
  const aggregator = new Aggregator(options);
  const store = options.store;
  if (store) {
    const bytes = await store.read(CHECKPOINT_FILE);
    if (bytes && !options.resume) {
      throw new InvalidArgumentError(`${store.location} already holds a checkpoint; resume from it (--resume) or choose another folder`);
    }
    if (bytes) aggregator.restore(bytes, `the checkpoint in ${store.location}`);
  }
  aggregator.start();
  return aggregator;
}
