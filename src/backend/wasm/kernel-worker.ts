// A kernel worker of the threaded wasm backend: it instantiates the kernel module on the backend's
// shared memory, then runs its share of every split kernel until told to stop. It never returns to
// its event loop while the backend lives: tasks arrive through the shared control block (a
// generation counter it waits on with Atomics.wait), which costs microseconds, where a
// postMessage round trip costs tens to hundreds.
import { parentPort } from '../../platform/worker.ts';
import { ARGS_OFFSET, type KernelWorkerInit, MAX_ARGS, PARALLEL_KERNELS, Slot, SPIN_POLLS, STOP, workerSlot, WorkerSlot } from './protocol.ts';

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
  serve(new Int32Array(init.control), new Float64Array(init.control, ARGS_OFFSET, MAX_ARGS), kernels, init.index);
});

function serve(control: Int32Array, args: Float64Array, kernels: Kernel[], index: number): void {
  // Generation 0 is the fresh control block's; reading it here instead could miss a task that the
  // caller, having seen 'ready', already published.
  let seen = 0;
  const call: number[] = [];
  // Progress the caller's watchdog reads: which task this thread took and which it finished, so
  // that a thread that stopped can be named, and told apart from one still busy with its part.
  const started = workerSlot(index, WorkerSlot.Started);
  const finished = workerSlot(index, WorkerSlot.Finished);
  for (;;) {
    let polls = 0;
    let now = Atomics.load(control, Slot.Generation);
    while (now === seen) {
      if (++polls > SPIN_POLLS) Atomics.wait(control, Slot.Generation, seen);
      now = Atomics.load(control, Slot.Generation);
    }
    seen = now;
    Atomics.store(control, started, now);
    const kernel = Atomics.load(control, Slot.Kernel);
    if (kernel === STOP) return;
    const count = control[Slot.ArgCount]!;
    call.length = 0;
    for (let i = 0; i < count; i++) call.push(args[i]!);
    call.push(index, control[Slot.Parts]!);
    try {
      kernels[kernel]!(...call);
    } catch {
      // The caller reports it (it knows which kernel and shapes); this thread carries on.
      Atomics.compareExchange(control, Slot.Failed, 0, index);
    }
    Atomics.add(control, Slot.WorkerParts, 1);
    Atomics.store(control, finished, now);
    if (Atomics.sub(control, Slot.Pending, 1) === 1) Atomics.notify(control, Slot.Pending);
  }
}
