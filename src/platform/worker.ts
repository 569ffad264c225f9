// Module workers in every runtime, behind one small interface: Node's worker_threads, and the web
// Worker that Deno and browsers share. Only this file knows which is which.
import { importDynamic, runtimeName } from './runtime.ts';

export interface WorkerHandle {
  post(message: unknown, transfer?: Transferable[]): void;
  onMessage(handler: (message: unknown) => void): void;
  /**
   * The worker failed or is gone: an uncaught error, or (Node) its exit, whatever the code and
   * cause, terminate() included — owners ignore the exits they asked for. Node reports an
   * uncaught error twice (error, then exit).
   */
  onError(handler: (error: Error) => void): void;
  terminate(): Promise<void>;
  /**
   * Lets the runtime exit while this worker is alive (Node; a no-op elsewhere): for helper threads
   * that only ever do work on behalf of their owner, so a forgotten dispose() does not hang a process.
   */
  unref(): void;
}

interface NodeWorker {
  postMessage(m: unknown, t?: readonly unknown[]): void;
  on(event: 'message' | 'error' | 'exit', h: (v: never) => void): void;
  terminate(): Promise<number>;
  unref(): void;
}

/**
 * The process's Node flags minus those about the main script's own source (-e, -p, --input-type):
 * a worker inherits execArgv, and Node refuses to start one under `node --input-type=module -e …`
 * ("--input-type can only be used with string input"), which left such a script single-threaded.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!;
    if (flag === '-e' || flag === '--eval' || flag === '-p' || flag === '--print' || flag === '-pe' || flag === '--input-type') {
      i++; // and its value
      continue;
    }
    if (/^--(eval|print|input-type)=/.test(flag)) continue;
    kept.push(flag);
  }
  return kept;
}

/** Starts the module at `url` in a worker. */
export async function spawnWorker(url: URL): Promise<WorkerHandle> {
  if (runtimeName() === 'node') {
    const { Worker } = await importDynamic<{ Worker: new (u: URL, o?: object) => NodeWorker }>('node:worker_threads');
    const execArgv = (globalThis as unknown as { process: { execArgv: string[] } }).process.execArgv;
    const w = new Worker(url, { execArgv: workerExecArgv(execArgv) });
    return {
      post: (m, t) => w.postMessage(m, t),
      onMessage: (h) => w.on('message', h as (v: never) => void),
      onError: (h) => {
        w.on('error', h as (v: never) => void);
        // Even code 0: a worker that left on its own is as gone for its owner as a crashed one.
        w.on('exit', ((code: number) => h(new Error(`worker exited with code ${code}`))) as (v: never) => void);
      },
      terminate: async () => { await w.terminate(); },
      unref: () => w.unref(),
    };
  }
  const WebWorker = (globalThis as { Worker?: new (u: URL, o: { type: 'module' }) => Worker }).Worker;
  if (!WebWorker) throw new Error('this runtime has no Worker');
  const w = new WebWorker(url, { type: 'module' });
  return {
    post: (m, t) => w.postMessage(m, t ?? []),
    onMessage: (h) => w.addEventListener('message', (e) => h((e as MessageEvent).data)),
    onError: (h) => w.addEventListener('error', (e) => { e.preventDefault?.(); h(new Error((e as ErrorEvent).message || 'worker error')); }),
    terminate: async () => { w.terminate(); },
    unref: () => {},
  };
}

export interface ParentPort {
  post(message: unknown, transfer?: Transferable[]): void;
  onMessage(handler: (message: unknown) => void): void;
}

/** Inside a worker: the channel to the thread that started it. */
export async function parentPort(): Promise<ParentPort> {
  if (runtimeName() === 'node') {
    const { parentPort: port } = await importDynamic<{ parentPort: { postMessage(m: unknown, t?: readonly unknown[]): void; on(e: 'message', h: (m: unknown) => void): void } | null }>('node:worker_threads');
    if (!port) throw new Error('parentPort() called outside a worker');
    return { post: (m, t) => port.postMessage(m, t), onMessage: (h) => port.on('message', h) };
  }
  const scope = globalThis as unknown as { postMessage(m: unknown, t?: Transferable[]): void; addEventListener(t: 'message', h: (e: MessageEvent) => void): void };
  return { post: (m, t) => scope.postMessage(m, t ?? []), onMessage: (h) => scope.addEventListener('message', (e) => h(e.data)) };
}

/** Whether memory can be shared with workers here (browsers need cross-origin isolation). */
export function canShareMemory(): boolean {
  return typeof SharedArrayBuffer === 'function'
    && (runtimeName() !== 'browser' || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true);
}

/**
 * Whether this thread may block in Atomics.wait: everywhere except a browser page's main thread,
 * which must stay responsive (the call throws there).
 */
export function canBlock(): boolean {
  return runtimeName() !== 'browser' || typeof (globalThis as { document?: unknown }).document === 'undefined';
}

/** Number of logical CPUs (hardwareConcurrency in Deno and browsers, availableParallelism in Node). */
export async function cpuCount(): Promise<number> {
  if (runtimeName() === 'node') {
    const os = await importDynamic<{ availableParallelism?: () => number; cpus(): unknown[] }>('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
}
