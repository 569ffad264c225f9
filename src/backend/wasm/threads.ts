// The calling side of the threaded wasm backend: N − 1 kernel workers on one shared memory, and
// `run`, which hands a split kernel to all of them, does part 0 on the calling thread and returns
// once every part is done. Kernels stay synchronous calls, as on one thread: the backend's
// allocator, argument checks and tensor bookkeeping never leave the calling thread.
import { FeddipError, BackendUnavailableError } from '../../errors.ts';
import { spawnWorker, type WorkerHandle } from '../../platform/worker.ts';
import { ARGS_OFFSET, CONTROL_BYTES, type KernelWorkerInit, MAX_ARGS, PARALLEL_KERNELS, type ParallelKernel, Slot, SPIN_POLLS, STOP } from './protocol.ts';
import kernelWorkerUrl from 'feddip:kernel-worker-url';

type Kernel = (...args: number[]) => void;

const INDEX = new Map<string, number>(PARALLEL_KERNELS.map((name, i) => [name, i]));

export class KernelThreads {
  /** Threads that share every split kernel, the calling one included. */
  readonly parts: number;
  readonly #control: Int32Array;
  readonly #args: Float64Array;
  readonly #workers: WorkerHandle[];
  readonly #kernels: Kernel[];
  /** False on a browser page's main thread, which may not Atomics.wait: it polls instead. */
  readonly #block: boolean;
  #closed = false;
  #split = 0;

  private constructor(control: SharedArrayBuffer, workers: WorkerHandle[], kernels: Kernel[], block: boolean) {
    this.parts = workers.length + 1;
    this.#control = new Int32Array(control);
    this.#args = new Float64Array(control, ARGS_OFFSET, MAX_ARGS);
    this.#workers = workers;
    this.#kernels = kernels;
    this.#block = block;
  }

  /**
   * Starts `workers` kernel workers on `memory` (shared) with the module the caller instantiated
   * as `exports`; resolves once every worker has its instance and is waiting for work.
   */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, exports: Record<string, unknown>, workers: number, block: boolean): Promise<KernelThreads> {
    const kernels = PARALLEL_KERNELS.map((name) => {
      const f = exports[name];
      if (typeof f !== 'function') throw new BackendUnavailableError('wasm', `the threaded kernel module lacks '${name}'; rebuild it (npm run build:wasm)`);
      return f as Kernel;
    });
    const control = new SharedArrayBuffer(CONTROL_BYTES);
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
    return new KernelThreads(control, handles, kernels, block);
  }

  /** Kernels split so far, and the parts of them the workers ran (each split kernel gives every worker one). */
  get stats(): { split: number; workerParts: number } {
    return { split: this.#split, workerParts: Atomics.load(this.#control, Slot.WorkerParts) };
  }

  /** Runs `kernel` (arguments of its serial kernel) split over all threads; returns when all parts are done. */
  run(kernel: ParallelKernel, args: readonly number[]): void {
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
    Atomics.add(c, Slot.Generation, 1);
    Atomics.notify(c, Slot.Generation);
    let own: unknown;
    try {
      this.#kernels[index]!(...args, 0, this.parts);
    } catch (error) {
      own = error;
    }
    // Even when our part failed, the workers are still writing into memory the caller may reuse.
    this.#join();
    if (own !== undefined) throw own;
    const failed = Atomics.load(c, Slot.Failed);
    if (failed !== 0) {
      throw new FeddipError('INVALID_ARGUMENT', `wasm: kernel ${kernel} trapped on worker thread ${failed} (an out-of-bounds access: tensors released or arguments inconsistent); the outputs are undefined`);
    }
  }

  #join(): void {
    const c = this.#control;
    let polls = 0;
    for (let left = Atomics.load(c, Slot.Pending); left !== 0; left = Atomics.load(c, Slot.Pending)) {
      if (this.#block && ++polls > SPIN_POLLS) Atomics.wait(c, Slot.Pending, left);
    }
  }

  /** Stops the workers (they leave their loop, then are terminated). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const c = this.#control;
    Atomics.store(c, Slot.Kernel, STOP);
    Atomics.add(c, Slot.Generation, 1);
    Atomics.notify(c, Slot.Generation);
    for (const w of this.#workers) void w.terminate();
  }
}
