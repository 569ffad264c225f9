// The client-training worker: started by WorkerPool, it builds its own backend and Network for the
// named model and trains the jobs it is sent, one at a time.
import { createBackend } from '../backend/registry.ts';
import type { BackendName, SimdBuild } from '../backend/backend.ts';
import { modelByName } from '../nn/models.ts';
import { Network } from '../nn/network.ts';
import { parentPort } from '../platform/worker.ts';
import { Rng } from '../util/rng.ts';
import { BatchBuffers, PROGRESS_INTERVAL_MS, trainClient } from './client.ts';
import type { ClientJob } from './pool.ts';
import type { ClientResult } from './types.ts';
import type { Augmentation } from '../data/prepare.ts';

interface Init { type: 'init'; model: string; classes: number; backend: BackendName; simd: SimdBuild['kind'] | null; images: Float32Array; labels: Int32Array; sampleSize: number; augment: Augmentation | null }

/** Every buffer of a result, once each (a buffer listed twice makes postMessage throw). */
function transferables(r: ClientResult): ArrayBuffer[] {
  const arrays = [r.update, r.sent, ...Object.values(r.extras ?? {}), ...Object.values(r.state ?? {})];
  return [...new Set(arrays.filter((a) => a !== undefined).map((a) => a.buffer as ArrayBuffer))];
}

const port = await parentPort();
let state: { net: Network; data: Init; buffers: Map<number, BatchBuffers> } | undefined;

port.onMessage(async (m) => {
  const msg = m as Init | { type: 'train'; id: number; job: ClientJob };
  if (msg.type === 'init') {
    try {
      // The pool already runs one client per core: kernel threads inside each would oversubscribe.
      // The SIMD build is the main backend's, so that clients train to the same bits there and here.
      const backend = await createBackend(msg.backend, { threads: 1, ...(msg.simd ? { simd: msg.simd } : {}) });
      state = { net: new Network(modelByName(msg.model, msg.classes), backend), data: msg, buffers: new Map() };
      port.post({ type: 'ready' });
    } catch (error) {
      port.post({ type: 'init-error', message: (error as Error).message });
    }
    return;
  }
  const { id, job } = msg;
  try {
    if (!state) throw new Error('worker used before init');
    if (job.indices.length === 0) throw new Error('client has no training samples');
    const batch = job.task.config.batch;
    let buffers = state.buffers.get(batch);
    if (!buffers) state.buffers.set(batch, (buffers = new BatchBuffers(batch, state.data.sampleSize)));
    let samples = 0;
    let posted = performance.now();
    const onStep = (count: number) => {
      samples += count;
      const now = performance.now();
      if (now - posted < PROGRESS_INTERVAL_MS) return;
      posted = now;
      port.post({ type: 'progress', id, samples });
    };
    const result = await trainClient(job.task, {
      clientId: job.clientId, net: state.net, buffers, rng: Rng.fromState(job.rng), onStep,
      data: { images: state.data.images, labels: state.data.labels, sampleSize: state.data.sampleSize, indices: job.indices, augment: state.data.augment },
    });
    port.post({ type: 'result', id, result }, transferables(result));
  } catch (error) {
    port.post({ type: 'error', id, message: (error as Error).message });
  }
});
