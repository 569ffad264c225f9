// Who trains the selected clients: one Network in this thread, one after another, or a pool of
// workers that train several clients at once (one per core). Both run the same trainClient with the
// same per-client random stream, so a run's numbers do not depend on the number of threads.
import type { Backend, BackendName } from '../backend/backend.ts';
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

/**
 * Workers, each with its own backend and Network of the named model; the training data is shared
 * (SharedArrayBuffer) where possible and copied once per worker otherwise.
 */
export class WorkerPool implements ClientPool {
  readonly #workers: WorkerHandle[];
  readonly #pending = new Map<number, Pending>();
  #next = 0;

  private constructor(workers: WorkerHandle[]) {
    this.#workers = workers;
  }

  get threads(): number {
    return this.#workers.length;
  }

  static async create(threads: number, model: ModelDef, backend: BackendName, data: TrainingData): Promise<WorkerPool> {
    const images = shared(data.images);
    const labels = shared(data.labels);
    const workers: WorkerHandle[] = [];
    try {
      for (let i = 0; i < threads; i++) workers.push(await spawnWorker(workerUrl));
    } catch (cause) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw new FeddipError('BACKEND_UNAVAILABLE', `could not start ${threads} training workers: ${(cause as Error).message}`, { cause });
    }
    const pool = new WorkerPool(workers);
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      w.onError((e) => { reject(e); pool.#failAll(e); });
      w.onMessage((m) => {
        const msg = m as { type: string; id?: number; result?: ClientResult; message?: string; samples?: number };
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'progress') pool.#pending.get(msg.id!)?.progress(msg.samples!);
        else if (msg.type === 'init-error') reject(new FeddipError('BACKEND_UNAVAILABLE', `training worker failed to start: ${msg.message}`));
        else if (msg.id !== undefined) {
          const p = pool.#pending.get(msg.id);
          pool.#pending.delete(msg.id);
          p?.resolve(msg.type === 'result' ? msg.result! : new Error(msg.message));
        }
      });
      w.post({ type: 'init', model: model.name, classes: model.classes, backend, images, labels, sampleSize: data.sampleSize, augment: data.augment ?? null });
    }))).catch(async (error) => {
      await pool.close();
      throw error;
    });
    return pool;
  }

  async run(jobs: readonly ClientJob[], events: PoolEvents = {}): Promise<Array<ClientResult | Error>> {
    const results: Array<ClientResult | Error> = new Array(jobs.length);
    let cursor = 0;
    // Each worker takes the next job as soon as it is free; results keep job order.
    const lane = async (w: WorkerHandle) => {
      while (cursor < jobs.length) {
        const k = cursor++;
        const job = jobs[k]!;
        const id = this.#next++;
        results[k] = await new Promise<ClientResult | Error>((resolve) => {
          this.#pending.set(id, { resolve, progress: (samples) => events.onSamples?.(k, samples) });
          w.post({ type: 'train', id, job });
        });
        events.onDone?.(k);
        events.onStep?.();
      }
    };
    await Promise.all(this.#workers.map(lane));
    return results;
  }

  #failAll(error: Error): void {
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.resolve(new Error(`training worker crashed: ${error.message}`));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
