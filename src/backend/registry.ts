// Which backends exist here, and creating one by name. Asking for a backend that cannot run is an
// error that says why; nothing falls back silently. 'auto' picks and says what it picked.
import { BackendUnavailableError, InvalidArgumentError } from '../errors.ts';
import type { Backend, BackendName } from './backend.ts';
import { ReferenceBackend } from './reference/backend.ts';
import { WasmBackend, type WasmBackendOptions } from './wasm/backend.ts';
import { WebGpuBackend } from './webgpu/backend.ts';

export const BACKEND_NAMES: readonly BackendName[] = ['wasm', 'webgpu', 'reference'];

export type BackendReport =
  | { name: BackendName; available: true; description: string; software?: boolean }
  | { name: BackendName; available: false; reason: string };

/** Options of createBackend; `threads` and the split thresholds apply to the wasm backend only. */
export type BackendOptions = WasmBackendOptions;

const factories: Record<BackendName, (options: BackendOptions) => Promise<Backend>> = {
  wasm: (options) => WasmBackend.create(options),
  webgpu: () => WebGpuBackend.create(),
  reference: async () => new ReferenceBackend(),
};

/**
 * Creates a backend. `'auto'` (the default) prefers WebGPU on a hardware adapter and WebAssembly
 * otherwise, since a software GPU rasteriser is far slower than wasm SIMD on the same CPU.
 * `options.threads` sets the wasm backend's kernel threads (default: one per core).
 */
export async function createBackend(name: BackendName | 'auto' = 'auto', options: BackendOptions = {}): Promise<Backend> {
  if (name === 'auto') {
    try {
      const gpu = await WebGpuBackend.create();
      if (!gpu.software) return gpu;
      gpu.dispose();
    } catch (error) {
      if (!(error instanceof BackendUnavailableError)) throw error;
    }
    return WasmBackend.create(options);
  }
  const factory = factories[name as BackendName];
  if (!factory) {
    throw new InvalidArgumentError(`unknown backend '${String(name)}'; choose one of ${[...BACKEND_NAMES, 'auto'].join(', ')}`);
  }
  return factory(options);
}

/** Reports, for every backend, whether it runs here and what it runs on, or why not. */
export async function backends(): Promise<BackendReport[]> {
  const reports: BackendReport[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      const backend = await factories[name]({});
      const software = backend instanceof WebGpuBackend ? backend.software : undefined;
      reports.push({ name, available: true, description: backend.description, ...(software === undefined ? {} : { software }) });
      backend.dispose();
    } catch (error) {
      if (!(error instanceof BackendUnavailableError)) throw error;
      reports.push({ name, available: false, reason: error.reason });
    }
  }
  return reports;
}
