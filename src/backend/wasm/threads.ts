// The calling side of the threaded wasm backend: N − 1 kernel workers on one shared memory, and
// `run`, which cuts a split kernel into one share per thread, lets every thread (the calling one
// included) claim shares until none is left, and returns once every share is done. Kernels stay
// synchronous calls, as on one thread: the backend's allocator, argument checks and tensor
// bookkeeping never leave the calling thread.
//
// A worker that dies (terminated, out of memory, killed by the embedder) before it claims a share
// costs only speed: the other threads take its shares. One that dies or hangs inside a share never
// finishes it, and the calling thread, blocked in `run`, cannot see its 'exit' event. So `run`
// sleeps in slices and gives up after `timeoutMs` without progress; from then on, and after a death
// the event loop did get to report, every call fails fast instead of hanging or reading memory a
// stuck share may still be writing.
import { FeddipError, BackendUnavailableError } from '../../errors.ts';
import { spawnWorker, type WorkerHandle } from '../../platform/worker.ts';
import {
  ARGS_OFFSET, controlBytes, type KernelWorkerInit, MAX_ARGS, PARALLEL_KERNELS, type ParallelKernel, CLAIM, openClaims, runShares, Slot, SPIN_POLLS, STOP, workerSlot, WorkerSlot,
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
  /** The same control block as 64-bit words, for the claim word (see CLAIM). */
  readonly #claims: BigInt64Array;
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
    this.#claims = new BigInt64Array(control);
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
        const init: KernelWorkerInit = { type: 'init', module, memory, control, index: i + 1, threads: workers + 1 };
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

  /**
   * Kernels split so far, how many of them the workers took part in (claimed a share of), and the
   * shares the workers ran.
   */
  get stats(): { split: number; workerParts: number; workerShares: number } {
    return { split: this.#split, workerParts: Atomics.load(this.#control, Slot.WorkerParts), workerShares: Atomics.load(this.#control, Slot.WorkerShares) };
  }

  /**
   * Runs `kernel` (arguments of its serial kernel) cut into one share per thread, which the threads
   * claim as they come free; returns when all are done. The calling thread starts at once and goes
   * on claiming: a worker that is late (descheduled, or still waking up) finds its share taken.
   * More shares than threads measured no faster on LeNet-5 (each share pays its kernel's setup).
   */
  run(kernel: ParallelKernel, args: readonly number[]): void {
    if (this.#failure) throw this.#failure;
    if (this.#closed) throw new FeddipError('INVALID_ARGUMENT', 'wasm: the kernel threads were stopped (backend disposed)');
    const c = this.#control;
    const index = INDEX.get(kernel)!;
    for (let i = 0; i < args.length; i++) this.#args[i] = args[i]!;
    c[Slot.Kernel] = index;
    c[Slot.ArgCount] = args.length;
    c[Slot.Failed] = 0;
    c[Slot.Done] = 0;
    this.#split++;
    // Int32 wrap-around is harmless: workers and watchdog only compare generations for equality.
    const generation = (c[Slot.Generation]! + 1) | 0;
    Atomics.store(this.#claims, CLAIM, openClaims(generation));
    // The atomic store publishes the plain writes above to every worker that sees the new generation.
    Atomics.store(c, Slot.Generation, generation);
    Atomics.notify(c, Slot.Generation);
    let own: unknown;
    runShares(c, this.#claims, generation, this.parts, this.#kernels[index]!, args.slice(), 0, (error) => { own ??= error; });
    // Even when our share failed, the workers may still be writing into memory the caller may reuse.
    this.#join(kernel, generation, this.parts);
    if (own !== undefined) throw own;
    const failed = Atomics.load(c, Slot.Failed);
    if (failed !== 0) {
      throw new FeddipError('INVALID_ARGUMENT', `wasm: kernel ${kernel} trapped on worker thread ${failed} (an out-of-bounds access: tensors released or arguments inconsistent); the outputs are undefined`);
    }
  }

  /** Waits until every share of task `generation` is done (the calling thread claims none left). */
  #join(kernel: ParallelKernel, generation: number, shares: number): void {
    const c = this.#control;
    let done = Atomics.load(c, Slot.Done);
    for (let polls = 0; done !== shares && polls < SPIN_POLLS; polls++) done = Atomics.load(c, Slot.Done);
    if (done === shares) return;
    // The deadline runs from the last sign of progress, not from the start: on a loaded machine
    // threads come late but they come, and every share finished resets it.
    const limit = this.#timeoutMs;
    const slice = Math.max(1, Math.min(MAX_SLICE_MS, limit / 4));
    let progress = done;
    let since = performance.now();
    for (;;) {
      if (this.#block) {
        Atomics.wait(c, Slot.Done, done, slice);
        done = Atomics.load(c, Slot.Done);
      } else {
        for (let polls = 0; done !== shares && polls < POLLS_PER_CLOCK; polls++) done = Atomics.load(c, Slot.Done);
      }
      if (done === shares) return;
      const now = performance.now();
      if (done !== progress) {
        progress = done;
        since = now;
      } else if (now - since >= limit) {
        throw this.#giveUp(kernel, generation, now - since);
      }
    }
  }

  /** Names the workers that did not finish task `generation`, and breaks the threads for good. */
  #giveUp(kernel: ParallelKernel, generation: number, waitedMs: number): FeddipError {
    const c = this.#control;
    // Only a thread that took a share of this task and never came back can hold one.
    const stuck: number[] = [];
    for (let i = 1; i < this.parts; i++) {
      if (Atomics.load(c, workerSlot(i, WorkerSlot.Started)) === generation && Atomics.load(c, workerSlot(i, WorkerSlot.Finished)) !== generation) stuck.push(i);
    }
    const who = stuck.length ? threadList(stuck) : 'thread(s)';
    const error = new FeddipError('BACKEND_UNAVAILABLE',
      `wasm: kernel worker ${who} took a share of ${kernel} and never finished it (died or hangs mid-kernel): waited ${(waitedMs / 1000).toFixed(1)} s without progress. `
      + `Its outputs are undefined and a stuck share may still be writing, so ${ADVICE} `
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
