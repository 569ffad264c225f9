// Workers that die: a kernel thread of the wasm backend, and a client-training worker of the
// simulation's pool. Neither may hang its owner. The kernel threads take the shares of a dead one;
// a thread stuck inside a share makes the call give up after its deadline (or at once, when the
// event loop heard of the death) with a typed error, and every later call is refused; the pool
// fails only the dead worker's client, replaces the worker and keeps its lanes.
//
// The workers are killed the way an embedder kills them, with terminate() on their real handles,
// which a thin wrapper around spawnWorker hands to the tests. Workers run dist/*.js, so these tests
// need `npm run build:js` first.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBackend, FeddipError, fl, mlp, Rng, type Backend } from '../../src/index.ts';
import type * as WorkerModule from '../../src/platform/worker.ts';
import { PARALLEL_KERNELS } from '../../src/backend/wasm/protocol.ts';
import type { WorkerHandle } from '../../src/platform/worker.ts';
import { type ClientJob, InProcessPool, WorkerPool } from '../../src/fl/pool.ts';
import type { ClientResult, ClientTask } from '../../src/fl/types.ts';
import { seededWeights, split, synthetic } from './fl-helpers.ts';

interface Spawned {
  url: string; handle: WorkerHandle; trains: number;
  /** Die on the next training job instead of running it: a death with a job surely in flight. */
  dieOnTrain?: boolean;
}

const hooks = vi.hoisted(() => ({ spawned: [] as Spawned[], failSpawns: false, hangingKernels: undefined as WebAssembly.Module | undefined }));

vi.mock('../../src/platform/worker.ts', async (importOriginal) => {
  const real = await importOriginal<typeof WorkerModule>();
  return {
    ...real,
    spawnWorker: async (url: URL) => {
      if (hooks.failSpawns) throw new Error('spawning refused by the test (as when the runtime is out of memory)');
      const handle = await real.spawnWorker(url);
      const entry: Spawned = { url: url.href, handle, trains: 0 };
      hooks.spawned.push(entry);
      return {
        ...handle,
        post: (m: unknown, t?: Transferable[]) => {
          // A kernel worker handed a module whose kernels never return: a thread that hangs inside a share.
          if ((m as { type?: string }).type === 'init' && hooks.hangingKernels) m = { ...(m as object), module: hooks.hangingKernels };
          if ((m as { type?: string }).type === 'train') {
            entry.trains++;
            if (entry.dieOnTrain) { void handle.terminate(); return; }
          }
          handle.post(m, t);
        },
      };
    },
  };
});

const kernelWorkers = () => hooks.spawned.filter((s) => s.url.endsWith('/kernel-worker.js'));
const trainingWorkers = () => hooks.spawned.filter((s) => s.url.endsWith('/worker.js'));

/**
 * A wasm module on a shared memory whose every split kernel (`names`) loops forever: a worker
 * instantiated with it claims a share and never finishes it.
 */
function hangingModule(names: readonly string[]): WebAssembly.Module {
  const bytes: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const uleb = (n: number): number[] => { const out: number[] = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n); return out; };
  const str = (t: string): number[] => [...uleb(t.length), ...new TextEncoder().encode(t)];
  const section = (id: number, body: number[]) => bytes.push(id, ...uleb(body.length), ...body);
  section(1, [1, 0x60, 0, 0]); // one type: () → ()
  section(2, [1, ...str('env'), ...str('memory'), 0x02, 0x03, 0, ...uleb(65536)]); // shared memory, 0 … 65536 pages
  section(3, [...uleb(names.length), ...names.map(() => 0)]);
  section(7, [...uleb(names.length), ...names.flatMap((name, i) => [...str(name), 0x00, ...uleb(i)])]);
  const body = [0, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b]; // no locals; loop br 0 end; end
  section(10, [...uleb(names.length), ...names.flatMap(() => [...uleb(body.length), ...body])]);
  return new WebAssembly.Module(new Uint8Array(bytes));
}

/** Blocks this thread without running its event loop, as a kernel call does. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function thrown(fn: () => unknown): FeddipError {
  try {
    fn();
  } catch (error) {
    return error as FeddipError;
  }
  throw new Error('did not throw');
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 20));

afterEach(() => {
  hooks.failSpawns = false;
});

describe('wasm kernel threads: a dead worker thread', () => {
  const opened: Backend[] = [];
  afterEach(() => {
    for (const b of opened.splice(0)) b.dispose();
  });
  const open = async (options: Parameters<typeof createBackend>[1]) => {
    const b = await createBackend('wasm', { minSplitMacs: 0, minSplitElements: 0, ...options });
    opened.push(b);
    return b;
  };

  it('finishes a split kernel without a thread that died before it, then refuses every call once the death is reported', async () => {
    const before = kernelWorkers().length;
    const b = await open({ threads: 3 });
    const [, second] = kernelWorkers().slice(before);
    const x = b.tensor('f32', [4096], Float32Array.from({ length: 4096 }, (_, i) => i - 2048));
    const y = b.tensor('f32', [4096]);
    b.reluForward({ x, y });
    // Killed while this thread holds on: its 'exit' event cannot be delivered before the kernel call.
    void second!.handle.terminate();
    sleepSync(100);
    const z = b.tensor('f32', [4096]);
    b.reluForward({ x, y: z });
    const out = await b.read(z);
    for (let i = 0; i < 4096; i++) if (out[i] !== Math.max(0, i - 2048)) throw new Error(`element ${i}: ${out[i]}`);
    await turn();
    const error = thrown(() => b.reluForward({ x, y }));
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(error.message).toMatch(/^wasm: kernel worker thread 2 died /);
  });

  it('makes a split kernel throw a typed error once the deadline passes when a thread hangs inside its share, naming it; later calls fail fast', async () => {
    hooks.hangingKernels = hangingModule(PARALLEL_KERNELS);
    let b: Backend;
    try {
      b = await open({ threads: 2, workerTimeoutMs: 400 });
    } finally {
      hooks.hangingKernels = undefined;
    }
    // Shares of a few milliseconds each: the worker claims its share long before this thread is
    // done with its own (should it wake up later than that, the next call finds it spinning).
    const n = 1 << 23;
    const x = b.tensor('f32', [n]);
    const y = b.tensor('f32', [n]);
    const small = b.tensor('f32', [3]);
    let error: FeddipError | undefined;
    let waited = 0;
    for (let attempt = 0; attempt < 5 && !error; attempt++) {
      const t0 = performance.now();
      try {
        b.reluForward({ x, y });
      } catch (e) {
        error = e as FeddipError;
        waited = performance.now() - t0;
      }
    }
    expect(error).toBeInstanceOf(FeddipError);
    expect(error!.code).toBe('BACKEND_UNAVAILABLE');
    expect(error!.message).toMatch(/kernel worker thread 1 took a share of reluForwardPart and never finished it \(died or hangs mid-kernel\): waited \d+\.\d s without progress\. Its outputs are undefined/);
    expect(error!.message).toMatch(/dispose it and create a new one, or create it with \{ threads: 1 \}/);
    expect(error!.message).toMatch(/workerTimeoutMs \}\) \(now 400 ms\)/);
    expect(waited).toBeGreaterThanOrEqual(400);
    expect(waited).toBeLessThan(5000);

    // Every later call, split or not, memory included, fails at once with the same explanation.
    for (const call of [
      () => b.reluForward({ x, y }),
      () => b.fill({ y: small, value: 1 }),
      () => b.tensor('f32', [2]),
      () => b.write(x, new Float32Array(n)),
    ]) {
      const t1 = performance.now();
      const again = thrown(call);
      expect(performance.now() - t1).toBeLessThan(50);
      expect(again.code).toBe('BACKEND_UNAVAILABLE');
      expect(again.message).toBe(error!.message);
    }
    await expect(b.read(y)).rejects.toThrow(error!.message);
    // Release and dispose still work: the memory is given back, nothing hangs.
    b.release(y);
    b.dispose();
    expect(b.liveTensors).toBe(0);
  });

  it('fails the next kernel at once when the death was reported between kernels', async () => {
    const before = kernelWorkers().length;
    const b = await open({ threads: 2 }); // the default deadline: 30 s, which this must not wait for
    const [worker] = kernelWorkers().slice(before);
    const x = b.tensor('f32', [1024]);
    const y = b.tensor('f32', [1024]);
    const logits = b.tensor('f32', [2, 5]), labels = b.tensor('i32', [2]), loss = b.tensor('f32', [1]), dlogits = b.tensor('f32', [2, 5]);
    b.reluForward({ x, y });
    await worker!.handle.terminate();
    await turn();
    const t0 = performance.now();
    const error = thrown(() => b.reluForward({ x, y }));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(error).toBeInstanceOf(FeddipError);
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(error.message).toMatch(/^wasm: kernel worker thread 1 died \(worker exited with code 1\); every split kernel needs all 2 threads, so this backend now refuses every call/);
    expect(error.message).toMatch(/dispose it and create a new one/);
    // Kernels that would not be split fail too: the backend as a whole is out.
    expect(thrown(() => b.softmaxCrossEntropy({ logits, labels, loss, dlogits })).message).toBe(error.message);
  });

  it('rejects a deadline that is not a positive number', async () => {
    for (const workerTimeoutMs of [0, -5, Number.NaN]) {
      await expect(createBackend('wasm', { threads: 2, workerTimeoutMs })).rejects.toThrow(/'workerTimeoutMs' must be a number > 0/);
    }
  });
});

// ------------------------------------------------------------------ the client-training pool

const model = mlp();
const train = synthetic(240, 1);
const data = { ...train, sampleSize: 784 };
const initial = seededWeights(model.layout, 2);

/** Four clients of 60 samples, one epoch each. */
function jobs(round: number): ClientJob[] {
  const task: ClientTask = {
    config: { round, lr: 0.05, weightDecay: 5e-4, lambda: 0, localEpochs: 1, batch: 20, uplink: 'dense', uplinkDensity: 1 },
    weights: initial, mask: null,
  };
  return [0, 1, 2, 3].map((clientId) => ({
    clientId, indices: Int32Array.from({ length: 60 }, (_, i) => clientId * 60 + i), task, rng: new Rng(7).fork(`client-${clientId}-round-${round}`).getState(),
  }));
}

/** What each client trains to, in this thread: the reference for the workers' results. */
async function expected(round: number): Promise<ClientResult[]> {
  const backend = await createBackend('wasm', { threads: 1 });
  const pool = new InProcessPool(model, backend, data);
  try {
    return (await pool.run(jobs(round))) as ClientResult[];
  } finally {
    await pool.close();
    backend.dispose();
  }
}

function expectSame(got: ClientResult | Error, want: ClientResult) {
  if (got instanceof Error) throw new Error(`client ${want.clientId} failed: ${got.message}`);
  expect(got.clientId).toBe(want.clientId);
  expect(got.trainLoss).toBe(want.trainLoss);
  expect(got.update).toEqual(want.update);
}

describe('WorkerPool: a dead training worker', () => {
  it('fails only its own client, is replaced, and the next run uses the full pool', async () => {
    const want = await expected(0);
    const before = trainingWorkers().length;
    const pool = await WorkerPool.create(2, model, 'wasm', data);
    try {
      const [first, second] = trainingWorkers().slice(before);
      // run() hands job 0 to the first worker, which dies as it gets it, and job 1 to the second.
      first!.dieOnTrain = true;
      const out = await pool.run(jobs(0));
      expect(out[0]).toBeInstanceOf(Error);
      expect((out[0] as Error).message).toBe('training worker crashed: worker exited with code 1');
      for (const k of [1, 2, 3]) expectSame(out[k]!, want[k]!);
      expect(pool.threads).toBe(2);

      // A run need not wait for a replacement (the other worker may take the jobs); wait here, so
      // that the next run starts with both lanes and each takes a job at once.
      await pool.ready();
      const replacement = trainingWorkers()[before + 2];
      expect(replacement, 'a fresh worker took the dead one\'s place').toBeDefined();
      const trainsBefore = [replacement!.trains, second!.trains];
      const next = await pool.run(jobs(0));
      next.forEach((r, k) => expectSame(r, want[k]!));
      // Both lanes trained: the replacement took work, not only the surviving worker.
      expect(replacement!.trains).toBeGreaterThan(trainsBefore[0]!);
      expect(second!.trains).toBeGreaterThan(trainsBefore[1]!);
      expect(first!.trains).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('replaces a worker that dies while idle, so no client of the next run fails', async () => {
    const want = await expected(0);
    const before = trainingWorkers().length;
    const pool = await WorkerPool.create(2, model, 'wasm', data);
    try {
      await trainingWorkers()[before]!.handle.terminate();
      await turn();
      // Without this the other worker might train all four clients before the replacement is up.
      await pool.ready();
      const out = await pool.run(jobs(0));
      out.forEach((r, k) => expectSame(r, want[k]!));
      expect(pool.threads).toBe(2);
      expect(trainingWorkers().length).toBe(before + 3);
      expect(trainingWorkers()[before + 2]!.trains).toBeGreaterThan(0);
    } finally {
      await pool.close();
    }
  });

  it('drops a lane whose replacement cannot start, carries on with the rest, and says so once none is left', async () => {
    const want = await expected(0);
    const before = trainingWorkers().length;
    const pool = await WorkerPool.create(2, model, 'wasm', data);
    try {
      const [first, second] = trainingWorkers().slice(before);
      hooks.failSpawns = true;
      // Terminated when its first job reaches it (a terminate() racing the job could lose to a
      // worker that finishes 60 samples first).
      first!.dieOnTrain = true;
      const out = await pool.run(jobs(0));
      expect(out[0]).toBeInstanceOf(Error);
      for (const k of [1, 2, 3]) expectSame(out[k]!, want[k]!);
      expect(second!.trains).toBe(3);
      expect(pool.threads).toBe(1);

      await second!.handle.terminate();
      await turn();
      expect(pool.threads).toBe(0);
      const error = await pool.run(jobs(1)).then(() => undefined, (e: FeddipError) => e);
      expect(error).toBeInstanceOf(FeddipError);
      expect(error!.code).toBe('BACKEND_UNAVAILABLE');
      expect(error!.message).toMatch(/^every training worker died and none could be restarted \(the last replacement failed: spawning refused by the test/);
      expect(error!.message).toMatch(/4 of 4 clients were not trained/);
    } finally {
      await pool.close();
    }
  });
});

describe('simulation with a training worker that dies', () => {
  it('counts the client as failed in that round, replaces the worker and runs the remaining rounds', async () => {
    const backend = await createBackend('wasm', { threads: 1 });
    const before = trainingWorkers().length;
    let killed = false;
    const metrics: fl.RoundMetrics[] = [];
    try {
      for await (const m of fl.simulate({
        model, backend, strategy: fl.fedavg({ rounds: 3, fraction: 1, localEpochs: 1, batch: 20, lr: 0.05 }),
        initial, train, test: { ...synthetic(60, 3), sampleSize: 784 },
        partitions: split(240, 4),
        rounds: 3, rng: new Rng(5), threads: 2,
        // Round 1 starts (its jobs are posted right after this report): a worker dies on its job.
        onProgress: (p) => {
          if (p.round === 1 && !killed) {
            killed = true;
            trainingWorkers()[before]!.dieOnTrain = true;
          }
        },
      })) metrics.push(m);
    } finally {
      backend.dispose();
    }
    expect(killed).toBe(true);
    expect(metrics.map((m) => [m.clients_ok, m.clients_failed])).toEqual([[4, 0], [3, 1], [4, 0]]);
    // A replacement was started (whether it trained in round 2 depends on how fast it started).
    expect(trainingWorkers().length).toBe(before + 3);
    expect(Number.isFinite(metrics[2]!.test_acc)).toBe(true);
  });
});
