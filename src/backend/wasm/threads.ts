// The calling side of the threaded wasm backend: N − 1 kernel workers on one shared memory, and
// `run`, which hands a split kernel to all of them, does part 0 on the calling thread and returns
// once every part is done. Kernels stay synchronous calls, as on one thread: the backend's
// allocator, argument checks and tensor bookkeeping never leave the calling thread.
//
// A worker that dies (terminated, out of memory, killed by the embedder) never finishes its part,
// and the calling thread, blocked in `run`, cannot see its 'exit' event. So `run` sleeps in slices
// and gives up after `timeoutMs` without progress; from then on, and after a death the event loop
// did get to report, every call fails fast instead of hanging or reading memory a stuck part may
// still be writing.
import { FeddipError, BackendUnavailableError } from '../../errors.ts';
import { spawnWorker, type WorkerHandle } from '../../platform/worker.ts';
import {
  ARGS_OFFSET, controlBytes, type KernelWorkerInit, MAX_ARGS, PARALLEL_KERNELS, type ParallelKernel, Slot, SPIN_POLLS, STOP, workerSlot, WorkerSlot,
} from './protocol.ts';
import kernelWorkerUrl from 'feddip:kernel-worker-url';

type Kernel = (...args: number[]) => void;

const INDEX = new Map<string, number>(PARALLEL_KERNELS.map((name, i) => [name, i]));

/**
 * How long a split kernel of the threaded wasm backend waits with no worker thread making progress
 * before it declares one dead (`createBackend('wasm', { workerTimeoutMs })` sets another). A part
 * takes micro- to milliseconds (seconds for the largest convolutions on a slow machine), and an
 * overloaded machine delays a wake-up by a scheduler slice, so only a thread that is gone (or
 * hung) stays silent this long.
 */
export const DEFAULT_WORKER_TIMEOUT_MS = 30_000;

/** Longest single sleep while joining: the watchdog looks at the workers' progress this often. */
const MAX_SLICE_MS = 100;

/** Polls between clock reads on a page's main thread, where the join cannot sleep. */
const POLLS_PER_CLOCK = 4096;

export class KernelThreads {
  /** Threads that share every split kernel, the calling one included. */
  readonly parts: number;
  readonly #control: Int32Array;
  readonly #args: Float64Array;
  readonly #workers: WorkerHandle[];
  readonly #kernels: Kernel[];
  /** False on a browser page's main thread, which may not Atomics.wait: it polls instead. */
  readonly #block: boolean;
  readonly #timeoutMs: number;
  #closed = false;
  #split = 0;
  /** Why the threads can no longer run kernels (a worker died or stopped responding); sticky. */
  #failure: FeddipError | undefined;

  private constructor(control: SharedArrayBuffer, workers: WorkerHandle[], kernels: Kernel[], block: boolean, timeoutMs: number) {
    this.parts = workers.length + 1;
    this.#control = new Int32Array(control);
    this.#args = new Float64Array(control, ARGS_OFFSET, MAX_ARGS);
    this.#workers = workers;
    this.#kernels = kernels;
    this.#block = block;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Starts `workers` kernel workers on `memory` (shared) with the module the caller instantiated
   * as `exports`; resolves once every worker has its instance and is waiting for work. `timeoutMs`:
   * how long a split kernel waits without progress before the threads are declared dead.
   */
  static async start(
    module: WebAssembly.Module, memory: WebAssembly.Memory, exports: Record<string, unknown>, workers: number, block: boolean,
    timeoutMs = DEFAULT_WORKER_TIMEOUT_MS,
  ): Promise<KernelThreads> {
    const kernels = PARALLEL_KERNELS.map((name) => {
      const f = exports[name];
      if (typeof f !== 'function') throw new BackendUnavailableError('wasm', `the threaded kernel module lacks '${name}'; rebuild it (npm run build:wasm)`);
      return f as Kernel;
    });
    const control = new SharedArrayBuffer(controlBytes(workers));
    const handles: WorkerHandle[] = [];
    try {
      for (let i = 0; i < workers; i++) handles.push(await spawnWorker(kernelWorkerUrl));
      await Promise.all(handles.map((w, i) => new Promise<void>((resolve, reject) => {
        w.onError(reject);
        w.onMessage((m) => {
          const msg = m as { type: string; message?: string };
          if (msg.type === 'ready') resolve();
          else if (msg.type === 'init-error') reject(new Error(msg.message));
        });
        const init: KernelWorkerInit = { type: 'init', module, memory, control, index: i + 1 };
        w.post(init);
      })));
    } catch (cause) {
      await Promise.all(handles.map((w) => w.terminate()));
      throw new BackendUnavailableError('wasm', `could not start ${workers} kernel worker thread(s): ${(cause as Error).message}; create the backend with { threads: 1 } to run on this thread only`, { cause });
    }
    // From here on the workers only act for this backend; they must not keep a process alive.
    for (const w of handles) w.unref();
    const threads = new KernelThreads(control, handles, kernels, block, timeoutMs);
    // Delivered only when the calling thread returns to its event loop (between kernels, never
    // during one): enough for the next `run` to fail at once rather than wait out the deadline.
    handles.forEach((w, i) => w.onError((error) => threads.#died(i + 1, error)));
    return threads;
  }

  /** Why every call now fails, once a worker died or stopped responding; undefined while healthy. */
  get failure(): FeddipError | undefined {
    return this.#failure;
  }

  /** Kernels split so far, and the parts of them the workers ran (each split kernel gives every worker one). */
  get stats(): { split: number; workerParts: number } {
    return { split: this.#split, workerParts: Atomics.load(this.#control, Slot.WorkerParts) };
  }

  /** Runs `kernel` (arguments of its serial kernel) split over all threads; returns when all parts are done. */
  run(kernel: ParallelKernel, args: readonly number[]): void {
    if (this.#failure) throw this.#failure;
    if (this.#closed) throw new FeddipError('INVALID_ARGUMENT', 'wasm: the kernel threads were stopped (backend disposed)');
    const c = this.#control;
    const index = INDEX.get(kernel)!;
    for (let i = 0; i < args.length; i++) this.#args[i] = args[i]!;
    c[Slot.Kernel] = index;
    c[Slot.ArgCount] = args.length;
    c[Slot.Parts] = this.parts;
    c[Slot.Failed] = 0;
    this.#split++;
    Atomics.store(c, Slot.Pending, this.parts - 1);
    // The atomic bump publishes the plain writes above to every worker that sees the new generation.
    // Int32 wrap-around is harmless: workers and watchdog only compare generations for equality.
    const generation = (Atomics.add(c, Slot.Generation, 1) + 1) | 0;
    Atomics.notify(c, Slot.Generation);
    let own: unknown;
    try {
      this.#kernels[index]!(...args, 0, this.parts);
    } catch (error) {
      own = error;
    }
    // Even when our part failed, the workers are still writing into memory the caller may reuse.
    this.#join(kernel, generation);
    if (own !== undefined) throw own;
    const failed = Atomics.load(c, Slot.Failed);
    if (failed !== 0) {
      throw new FeddipError('INVALID_ARGUMENT', `wasm: kernel ${kernel} trapped on worker thread ${failed} (an out-of-bounds access: tensors released or arguments inconsistent); the outputs are undefined`);
    }
  }

  #join(kernel: ParallelKernel, generation: number): void {
    const c = this.#control;
    let left = Atomics.load(c, Slot.Pending);
    for (let polls = 0; left !== 0 && polls < SPIN_POLLS; polls++) left = Atomics.load(c, Slot.Pending);
    if (left === 0) return;
    // The deadline runs from the last sign of progress, not from the start: on a loaded machine
    // threads come late but they come, and every one that starts or finishes its part resets it.
    const limit = this.#timeoutMs;
    const slice = Math.max(1, Math.min(MAX_SLICE_MS, limit / 4));
    let progress = this.#progress(generation);
    let since = performance.now();
    for (;;) {
      if (this.#block) {
        Atomics.wait(c, Slot.Pending, left, slice);
        left = Atomics.load(c, Slot.Pending);
      } else {
        for (let polls = 0; left !== 0 && polls < POLLS_PER_CLOCK; polls++) left = Atomics.load(c, Slot.Pending);
      }
      if (left === 0) return;
      const now = performance.now();
      const p = this.#progress(generation);
      if (p !== progress) {
        progress = p;
        since = now;
      } else if (now - since >= limit) {
        throw this.#giveUp(kernel, generation, now - since);
      }
    }
  }

  /** Parts of task `generation` the workers have started plus those they have finished. */
  #progress(generation: number): number {
    const c = this.#control;
    let n = 0;
    for (let i = 1; i < this.parts; i++) {
      if (Atomics.load(c, workerSlot(i, WorkerSlot.Started)) === generation) n++;
      if (Atomics.load(c, workerSlot(i, WorkerSlot.Finished)) === generation) n++;
    }
    return n;
  }

  /** Names the workers that did not finish task `generation`, and breaks the threads for good. */
  #giveUp(kernel: ParallelKernel, generation: number, waitedMs: number): FeddipError {
    const c = this.#control;
    const silent: number[] = [];
    const stuck: number[] = [];
    for (let i = 1; i < this.parts; i++) {
      if (Atomics.load(c, workerSlot(i, WorkerSlot.Started)) !== generation) silent.push(i);
      else if (Atomics.load(c, workerSlot(i, WorkerSlot.Finished)) !== generation) stuck.push(i);
    }
    const what: string[] = [];
    if (silent.length) what.push(`${threadList(silent)} never picked the task up (dead: terminated, out of memory or killed)`);
    if (stuck.length) what.push(`${threadList(stuck)} started ${stuck.length === 1 ? 'its part' : 'their parts'} but never finished (died or hangs mid-kernel)`);
    const error = new FeddipError('BACKEND_UNAVAILABLE',
      `wasm: kernel worker ${what.join('; ')}: ${kernel} waited ${(waitedMs / 1000).toFixed(1)} s without progress. `
      + `Its outputs are undefined and a stuck part may still be writing, so ${ADVICE} `
      + `If the machine is only overloaded, raise the deadline: createBackend('wasm', { workerTimeoutMs }) (now ${this.#timeoutMs} ms).`);
    this.#fail(error);
    return error;
  }

  /** A worker's 'error' or 'exit' (before close(), any exit is a death), seen between kernels. */
  #died(index: number, cause: Error): void {
    if (this.#closed || this.#failure) return;
    this.#fail(new FeddipError('BACKEND_UNAVAILABLE',
      `wasm: kernel worker thread ${index} died (${cause.message}); every split kernel needs all ${this.parts} threads, so ${ADVICE}`, { cause }));
  }

  /** Terminates every worker, so that a part still running stops writing into the shared memory. */
  #fail(error: FeddipError): void {
    this.#failure = error;
    for (const w of this.#workers) void w.terminate();
  }

  /** Stops the workers (they leave their loop, then are terminated). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Broken threads were terminated already; there is no loop left to leave.
    if (this.#failure) return;
    const c = this.#control;
    Atomics.store(c, Slot.Kernel, STOP);
    Atomics.add(c, Slot.Generation, 1);
    Atomics.notify(c, Slot.Generation);
    for (const w of this.#workers) void w.terminate();
  }
}

const ADVICE = 'this backend now refuses every call: dispose it and create a new one, '
  + 'or create it with { threads: 1 } to run every kernel on the calling thread.';

const threadList = (indices: number[]): string =>
  indices.length === 1 ? `thread ${indices[0]}` : `threads ${indices.join(', ')}`;
