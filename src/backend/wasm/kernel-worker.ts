// A kernel worker of the threaded wasm backend: it instantiates the kernel module on the backend's
// shared memory, then runs its share of every split kernel until told to stop. It never returns to
// its event loop while the backend lives: tasks arrive through the shared control block (a
// generation counter it waits on with Atomics.wait), which costs microseconds, where a
// postMessage round trip costs tens to hundreds.
import { parentPort } from '../../platform/worker.ts';
import { ARGS_OFFSET, type KernelWorkerInit, MAX_ARGS, PARALLEL_KERNELS, runShares, Slot, SPIN_POLLS, STOP, workerSlot, WorkerSlot } from './protocol.ts';

type Kernel = (...args: number[]) => void;

const port = await parentPort();

port.onMessage(async (m) => {
  const init = m as KernelWorkerInit;
  if (init.type !== 'init') return;
  let kernels: Kernel[];
  try {
    const instance = await WebAssembly.instantiate(init.module, {
      env: { memory: init.memory, abort: () => { throw new Error('feddip wasm kernel aborted'); } },
    });
    const exports = instance.exports as Record<string, unknown>;
    kernels = PARALLEL_KERNELS.map((name) => {
      const f = exports[name];
      if (typeof f !== 'function') throw new Error(`the kernel module has no export '${name}' (stale build/wasm/feddip-mt.wasm?)`);
      return f as Kernel;
    });
  } catch (error) {
    port.post({ type: 'init-error', message: (error as Error).message });
    return;
  }
  port.post({ type: 'ready' });
  serve(new Int32Array(init.control), new BigInt64Array(init.control), new Float64Array(init.control, ARGS_OFFSET, MAX_ARGS), kernels, init.index, init.threads);
});

function serve(control: Int32Array, claims: BigInt64Array, args: Float64Array, kernels: Kernel[], index: number, threads: number): void {
  // Generation 0 is the fresh control block's; reading it here instead could miss a task that the
  // caller, having seen 'ready', already published.
  let seen = 0;
  const call: number[] = [];
  // Progress the caller's watchdog reads: which task this thread took a share of and which it
  // finished, so that a thread stuck in a share can be named.
  const started = workerSlot(index, WorkerSlot.Started);
  const finished = workerSlot(index, WorkerSlot.Finished);
  const failed = () => {
    // The caller reports it (it knows which kernel and shapes); this thread carries on.
    Atomics.compareExchange(control, Slot.Failed, 0, index);
  };
  for (;;) {
    let polls = 0;
    let now = Atomics.load(control, Slot.Generation);
    while (now === seen) {
      if (++polls > SPIN_POLLS) Atomics.wait(control, Slot.Generation, seen);
      now = Atomics.load(control, Slot.Generation);
    }
    seen = now;
    const kernel = Atomics.load(control, Slot.Kernel);
    if (kernel === STOP) return;
    // A late thread may read the next task's arguments half-written: runShares then claims nothing,
    // since that can only happen once every share of this task was claimed.
    const count = Math.min(control[Slot.ArgCount]!, MAX_ARGS);
    call.length = 0;
    for (let i = 0; i < count; i++) call.push(args[i]!);
    Atomics.store(control, started, now);
    const ran = kernels[kernel] ? runShares(control, claims, now, threads, kernels[kernel]!, call, index, failed) : 0;
    Atomics.store(control, finished, now);
    if (ran > 0) {
      Atomics.add(control, Slot.WorkerParts, 1);
      Atomics.add(control, Slot.WorkerShares, ran);
    }
  }
}
