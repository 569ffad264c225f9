// What the calling thread and the kernel workers agree on: the kernels that can be split (by their
// index in this list) and the layout of the control block they share.

/** The `…Part` exports of assembly/parallel.ts; each takes its serial kernel's arguments, then (part, parts). */
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
  /** Workers still running the current task; the last one to finish notifies. */
  Pending: 1,
  /** Index into PARALLEL_KERNELS, or STOP. */
  Kernel: 2,
  ArgCount: 3,
  /** Number of the first worker whose call threw during the current task, 0 if none. */
  Failed: 4,
  Parts: 5,
  /** Parts the workers have run since start (for tests and diagnostics: proof that work was shared). */
  WorkerParts: 6,
} as const;

export const STOP = -1;
/** Byte offset of the Float64 arguments (every i32 pointer and f32 value is exact in a double). */
export const ARGS_OFFSET = 64;
export const MAX_ARGS = 24;
/**
 * Byte offset of the per-worker slots: worker i (1-based, its part number) owns the 64 bytes at
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

export interface KernelWorkerInit {
  type: 'init';
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** This worker's part (the calling thread is part 0); also where its progress slots are. */
  index: number;
}
