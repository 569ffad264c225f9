// Who trains the selected clients: one Network in this thread, one after another, or a pool of
// workers that train several clients at once (one per core). Both run the same trainClient with the
// same per-client random stream, so a run's numbers do not depend on the number of threads.
import type { Backend, BackendName, SimdBuild } from '../backend/backend.ts';
import { FeddipError } from '../errors.ts';
import type { ModelDef } from '../nn/models.ts';
import { Network } from '../nn/network.ts';
import { canShareMemory, spawnWorker, type WorkerHandle } from '../platform/worker.ts';
import { Rng, type RngState } from '../util/rng.ts';
import { BatchBuffers, trainClient } from './client.ts';
import type { ClientResult, ClientTask } from './types.ts';
import type { Augmentation } from '../data/prepare.ts';
import workerUrl from 'feddip:worker-url';

export interface TrainingData {
  images: Float32Array;
  labels: Int32Array;
  sampleSize: number;
  augment?: Augmentation | null;
}

export interface ClientJob {
  clientId: number;
  indices: Int32Array;
  task: ClientTask;
  rng: RngState;
}

/** What a pool tells while it trains; `job` is an index into the jobs given to run(). */
export interface PoolEvents {
  /** After every local step (in this thread) or every finished client (workers). */
  onStep?: () => void;
  /** Samples job `job` has processed so far; from workers at most every PROGRESS_INTERVAL_MS. */
  onSamples?: (job: number, samples: number) => void;
  /** Job `job` finished, trained or failed. */
  onDone?: (job: number) => void;
}

export interface ClientPool {
  readonly threads: number;
  /** Trains the jobs (in parallel where the pool can) and returns results in job order. */
  run(jobs: readonly ClientJob[], events?: PoolEvents): Promise<Array<ClientResult | Error>>;
  close(): Promise<void>;
}

/** Clients take turns on one Network: memory is independent of the number of clients. */
export class InProcessPool implements ClientPool {
  readonly threads = 1;
  readonly #net: Network;
  readonly #buffers = new Map<number, BatchBuffers>();

  constructor(model: ModelDef, backend: Backend, readonly data: TrainingData) {
    this.#net = new Network(model, backend);
  }

  async run(jobs: readonly ClientJob[], events: PoolEvents = {}): Promise<Array<ClientResult | Error>> {
    const out: Array<ClientResult | Error> = [];
    for (const [k, job] of jobs.entries()) {
      let samples = 0;
      const onStep = (count: number) => {
        samples += count;
        events.onSamples?.(k, samples);
        events.onStep?.();
      };
      let buffers = this.#buffers.get(job.task.config.batch);
      if (!buffers) this.#buffers.set(job.task.config.batch, (buffers = new BatchBuffers(job.task.config.batch, this.data.sampleSize)));
      try {
        if (job.indices.length === 0) throw new Error('client has no training samples');
        out.push(await trainClient(job.task, {
          clientId: job.clientId, net: this.#net, buffers, onStep, rng: Rng.fromState(job.rng),
          data: { ...this.data, indices: job.indices },
        }));
      } catch (error) {
        out.push(error as Error);
      }
      events.onDone?.(k);
    }
    return out;
  }

  async close(): Promise<void> {
    this.#net.dispose();
  }
}

/** Copies an array into shared memory when the runtime allows it (so workers do not copy it). */
function shared<T extends Float32Array | Int32Array>(a: T): T {
  if (!canShareMemory() || a.buffer instanceof SharedArrayBuffer) return a;
  const copy = new (a.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength));
  copy.set(a);
  return copy;
}

interface Pending { resolve(r: ClientResult | Error): void; progress(samples: number): void }

/** One worker's place in the pool; the worker in it is replaced when it dies. */
interface Lane {
  /** The ready worker serving this lane; undefined while a replacement starts, or for good once dropped. */
  worker: WorkerHandle | undefined;
  /** Settles once a replacement is ready or has failed (then the lane is dropped). */
  restarting: Promise<void> | undefined;
  /** The id of the job in flight on this lane's worker, the one its death fails. */
  job: number | undefined;
}

/**
 * Workers, each with its own backend and Network of the named model; the training data is shared
 * (SharedArrayBuffer) where possible and copied once per worker otherwise. A worker that dies
 * (crash, out of memory, killed) fails only the client it was training — a client failure, as the
 * simulation counts them — and is replaced by a fresh one; a lane whose replacement cannot start is
 * dropped and the others carry on.
 */
export class WorkerPool implements ClientPool {
  readonly #lanes: Lane[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #init: object;
  #next = 0;
  #closed = false;
  /** Why the last lane was dropped, for the error once none is left. */
  #lastLoss: Error | undefined;

  private constructor(init: object) {
    this.#init = init;
  }

  /** Workers serving now or being replaced; a lane whose replacement failed no longer counts. */
  get threads(): number {
    return this.#lanes.length;
  }

  /**
   * Starts `threads` workers, each with its own `backend`; `simd` picks the wasm build they run (give
   * the aggregator's, so that a client trains to the same bits in a worker and in process).
   */
  static async create(threads: number, model: ModelDef, backend: BackendName, data: TrainingData, simd?: SimdBuild['kind']): Promise<WorkerPool> {
    const images = shared(data.images);
    const labels = shared(data.labels);
    const pool = new WorkerPool({ type: 'init', model: model.name, classes: model.classes, backend, simd: simd ?? null, images, labels, sampleSize: data.sampleSize, augment: data.augment ?? null });
    for (let i = 0; i < threads; i++) pool.#lanes.push({ worker: undefined, restarting: undefined, job: undefined });
    try {
      await Promise.all(pool.#lanes.map((lane) => pool.#start(lane)));
    } catch (cause) {
      await pool.close();
      if (cause instanceof FeddipError) throw cause;
      throw new FeddipError('BACKEND_UNAVAILABLE', `could not start ${threads} training workers: ${(cause as Error).message}`, { cause });
    }
    return pool;
  }

  /** Spawns a worker for `lane` and initialises it; resolves once it is ready and serving the lane. */
  async #start(lane: Lane): Promise<void> {
    const w = await spawnWorker(workerUrl);
    // Events of a worker this pool gave up on (or terminated itself) are ignored.
    let live = true;
    try {
      await new Promise<void>((resolve, reject) => {
        let ready = false;
        w.onError((error) => {
          if (!live) return;
          live = false;
          if (ready) this.#lost(lane, w, error);
          else reject(new FeddipError('BACKEND_UNAVAILABLE', `training worker died while starting: ${error.message}`, { cause: error }));
        });
        w.onMessage((m) => {
          if (!live) return;
          const msg = m as { type: string; id?: number; result?: ClientResult; message?: string; samples?: number };
          if (msg.type === 'ready') {
            // At once, not after an await: a death from here on must find the worker in its lane.
            ready = true;
            lane.worker = w;
            resolve();
          } else if (msg.type === 'init-error') {
            live = false;
            reject(new FeddipError('BACKEND_UNAVAILABLE', `training worker failed to start: ${msg.message}`));
          } else if (msg.type === 'progress') {
            this.#pending.get(msg.id!)?.progress(msg.samples!);
          } else if (msg.id !== undefined) {
            const p = this.#pending.get(msg.id);
            this.#pending.delete(msg.id);
            if (lane.job === msg.id) lane.job = undefined;
            p?.resolve(msg.type === 'result' ? msg.result! : new Error(msg.message));
          }
        });
        w.post(this.#init);
      });
    } catch (error) {
      live = false;
      await w.terminate();
      throw error;
    }
    if (this.#closed && live) {
      live = false;
      lane.worker = undefined;
      await w.terminate();
    }
  }

  /** Resolves once no worker is being replaced: every lane left has a ready worker. */
  async ready(): Promise<void> {
    for (let lane = this.#lanes.find((l) => l.restarting); lane; lane = this.#lanes.find((l) => l.restarting)) await lane.restarting;
  }

  /** Lane `lane`'s worker died: fail its client (only that one), then put a fresh worker in its place. */
  #lost(lane: Lane, dead: WorkerHandle, error: Error): void {
    lane.worker = undefined;
    // An 'error' event may leave a web worker running in a state nobody knows; make sure it is gone.
    void dead.terminate();
    if (this.#closed) return;
    lane.restarting = this.#start(lane).then(
      () => { lane.restarting = undefined; },
      (cause: Error) => {
        lane.restarting = undefined;
        this.#lastLoss = cause;
        const at = this.#lanes.indexOf(lane);
        if (at >= 0) this.#lanes.splice(at, 1);
      },
    );
    // After the restart is under way, so that the lane waiting on this job sees it restarting.
    if (lane.job !== undefined) {
      const p = this.#pending.get(lane.job);
      this.#pending.delete(lane.job);
      lane.job = undefined;
      p?.resolve(new Error(`training worker crashed: ${error.message}`));
    }
  }

  async run(jobs: readonly ClientJob[], events: PoolEvents = {}): Promise<Array<ClientResult | Error>> {
    if (this.#closed) throw new FeddipError('INVALID_ARGUMENT', 'WorkerPool.run: the pool was closed');
    const results: Array<ClientResult | Error> = new Array(jobs.length);
    let cursor = 0;
    let done = 0;
    return new Promise((resolve, reject) => {
      if (jobs.length === 0) resolve(results);
      // Each worker takes the next job as soon as it is free; results keep job order. A lane whose
      // worker is being replaced joins in once it is ready; the run does not wait for it.
      const serve = async (lane: Lane) => {
        while (cursor < jobs.length) {
          if (lane.restarting) {
            await lane.restarting;
            continue;
          }
          const w = lane.worker;
          if (!w) break; // dropped: its replacement could not start
          const k = cursor++;
          const job = jobs[k]!;
          const id = this.#next++;
          results[k] = await new Promise<ClientResult | Error>((settle) => {
            w.post({ type: 'train', id, job });
            this.#pending.set(id, { resolve: settle, progress: (samples) => events.onSamples?.(k, samples) });
            lane.job = id;
          });
          events.onDone?.(k);
          events.onStep?.();
          if (++done === jobs.length) resolve(results);
        }
        if (cursor < jobs.length && this.#lanes.length === 0) {
          const why = this.#lastLoss ? ` (the last replacement failed: ${this.#lastLoss.message})` : '';
          reject(new FeddipError('BACKEND_UNAVAILABLE',
            `every training worker died and none could be restarted${why}; ${jobs.length - cursor} of ${jobs.length} clients were not trained. `
            + 'Run with fewer threads (1 trains the clients in this thread) or free memory, and start again.', { cause: this.#lastLoss }));
        }
      };
      // A job that cannot even be posted (e.g. data that does not clone) fails the run, as it always did.
      if (this.#lanes.length === 0) serve({ worker: undefined, restarting: undefined, job: undefined }).catch(reject);
      for (const lane of [...this.#lanes]) serve(lane).catch(reject);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const lanes = this.#lanes.splice(0);
    await Promise.all(lanes.map((lane) => lane.worker?.terminate()));
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.resolve(new Error('the training pool was closed'));
    }
  }
}
