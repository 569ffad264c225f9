// What the calling thread and the kernel workers agree on: the kernels that can be split (by their
// index in this list) and the layout of the control block they share.

/** The `…Part` exports of assembly/parallel.ts; each takes its serial kernel's arguments, then (part, parts, slot). */
export const PARALLEL_KERNELS = [
  'linearForwardPart', 'gemmNTPart', 'linearBackwardDataPart', 'linearBackwardWeightPart', 'conv2dForwardPart', 'conv2dBackwardPart',
  'maxPool2dForwardPart', 'maxPool2dBackwardPart', 'avgPool2dForwardPart', 'avgPool2dBackwardPart',
  'adaptiveAvgPool2dForwardPart', 'adaptiveAvgPool2dBackwardPart', 'batchNorm2dForwardPart', 'batchNorm2dBackwardPart',
  'reluForwardPart', 'reluBackwardPart', 'sgdStepPart', 'axpyPart', 'fillPart', 'copyPart', 'addScaledByInvNormPart',
  'dropoutPart', 'addTensorsPart', 'applyMaskPart', 'conv2dWeightGradPooledPart', 'conv2dWeightGradPartialsPart', 'sumPartialsPart',
  'biasGradPart', 'conv2dBackwardDataPooledPart', 'sparseConv2dBackwardDataPooledPart',
] as const;

export type ParallelKernel = typeof PARALLEL_KERNELS[number];

/** Int32 slots of the control block. */
export const Slot = {
  /** Bumped by the caller for every task; workers wait on it. */
  Generation: 0,
  /** Shares of the current task finished; the thread that finishes the last one notifies. */
  Done: 1,
  /** Index into PARALLEL_KERNELS, or STOP. */
  Kernel: 2,
  ArgCount: 3,
  /** Number of the first worker whose share threw during the current task, 0 if none. */
  Failed: 4,
  /** Tasks the workers have taken part in since start, and the shares of them they ran (for tests and diagnostics). */
  WorkerParts: 5,
  WorkerShares: 6,
} as const;

/**
 * Index, in a BigInt64Array over the control block, of the claim word: the current task's
 * generation (high 32 bits) and its next unclaimed share (low 32 bits). Tagging claims with the
 * generation lets a worker that wakes up late, after the task it saw was finished by the others,
 * find out without being able to take a share of the next one with the arguments of this one.
 */
export const CLAIM = 4;

/** The claim word that opens task `generation`: its tag, share 0 next. */
export function openClaims(generation: number): bigint {
  return BigInt(generation >>> 0) << 32n;
}

export const STOP = -1;
/** Byte offset of the Float64 arguments (every i32 pointer and f32 value is exact in a double). */
export const ARGS_OFFSET = 64;
export const MAX_ARGS = 24;
/**
 * Byte offset of the per-worker slots: worker i (1-based, its thread number) owns the 64 bytes at
 * WORKERS_OFFSET + (i − 1)·WORKER_BYTES, a cache line of its own, so that workers writing their
 * progress do not bounce one line between cores.
 */
export const WORKERS_OFFSET = ARGS_OFFSET + 8 * MAX_ARGS;
export const WORKER_BYTES = 64;

/** Int32 slots inside a worker's own line (offsets from its first slot). */
export const WorkerSlot = {
  /** The generation of the last task this worker picked up. */
  Started: 0,
  /** The generation of the last task this worker finished (set before it decrements Pending). */
  Finished: 1,
} as const;

/** Bytes of the control block for `workers` kernel workers. */
export function controlBytes(workers: number): number {
  return WORKERS_OFFSET + WORKER_BYTES * workers;
}

/** Index into the control block's Int32Array of `slot` of worker `index` (1-based). */
export function workerSlot(index: number, slot: number): number {
  return (WORKERS_OFFSET + (index - 1) * WORKER_BYTES) / 4 + slot;
}

/**
 * Polls of an atomic before falling asleep on it. A training step issues kernels microseconds
 * apart, and waking a sleeping thread costs a system call on both sides; a short spin (tens of
 * microseconds) keeps that off the critical path without burning a core while the backend idles.
 */
export const SPIN_POLLS = 20_000;

/**
 * Runs the shares of task `generation` (one per thread: `shares`) that this thread manages to
 * claim, until none is left: kernel(...args, share, shares, slot). Threads claim one share at a time, so a thread that is
 * running takes the shares of one that is not (descheduled by other work, or still waking up: on
 * a 2-vCPU virtual machine one of two busy threads stalls for 0.3–1 ms about a hundred times a
 * second), and nobody waits for a thread that has nothing left to do. A share that throws is still
 * counted as done (`failed` hears of it), so the caller never waits for it. Returns the shares run.
 */
export function runShares(
  control: Int32Array, claims: BigInt64Array, generation: number, shares: number, kernel: (...args: number[]) => void,
  args: number[], slot: number, failed: (error: unknown) => void,
): number {
  const tag = openClaims(generation);
  const n = args.length;
  args.push(0, shares, slot);
  let ran = 0;
  for (;;) {
    const claim = Atomics.load(claims, CLAIM);
    // Another task's tag: this one is over (and its arguments may already be overwritten).
    if ((claim & ~0xffffffffn) !== tag) break;
    const share = Number(claim & 0xffffffffn);
    if (share >= shares) break;
    if (Atomics.compareExchange(claims, CLAIM, claim, claim + 1n) !== claim) continue;
    args[n] = share;
    try {
      kernel(...args);
    } catch (error) {
      failed(error);
    }
    ran++;
    if (Atomics.add(control, Slot.Done, 1) + 1 === shares) Atomics.notify(control, Slot.Done);
  }
  args.length = n;
  return ran;
}

export interface KernelWorkerInit {
  type: 'init';
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** This worker's number, 1 … threads − 1 (the calling thread is 0): its workspace slot and where its progress slots are. */
  index: number;
  /** Threads sharing every split kernel, the calling one included: the shares of every task. */
  threads: number;
}
