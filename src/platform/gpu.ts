// Finding a WebGPU adapter is the only runtime-specific part of the WebGPU backend:
// browsers and Deno have navigator.gpu; Node gets Dawn through the optional `webgpu` package.
import { importDynamic, runtimeName } from './runtime.ts';

export type AdapterSearch =
  | { adapter: GPUAdapter; via: string }
  | { adapter: null; reason: string };

interface DawnPackage {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

// Dawn instances are made once per flag set and kept: creating and dropping them repeatedly has
// crashed the process (native teardown while an adapter from the instance is still referenced).
const dawnInstances = new Map<string, GPU>();

function dawnInstance(dawn: DawnPackage, flags: string[]): GPU {
  const key = flags.join(',');
  let gpu = dawnInstances.get(key);
  if (!gpu) {
    gpu = dawn.create(flags);
    dawnInstances.set(key, gpu);
  }
  return gpu;
}

function navigatorGpu(): GPU | undefined {
  return (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
}

async function fromNavigator(where: string): Promise<AdapterSearch> {
  const gpu = navigatorGpu();
  if (!gpu) return { adapter: null, reason: `${where} exposes no navigator.gpu (WebGPU is disabled or unsupported)` };
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { adapter: null, reason: `${where}: navigator.gpu.requestAdapter() found no adapter` };
  return { adapter, via: `${where} navigator.gpu` };
}

async function fromDawn(): Promise<AdapterSearch> {
  const env = (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process.env;
  // Dawn's GL backend needs EGL without a display server; it reads this when the package loads.
  env.EGL_PLATFORM ??= 'surfaceless';
  let dawn: DawnPackage;
  try {
    dawn = await importDynamic<DawnPackage>('webgpu');
  } catch (error) {
    return {
      adapter: null,
      reason: `Node has no built-in WebGPU and the optional package 'webgpu' could not be loaded `
        + `(${(error as Error).message.split('\n')[0]}); install it with 'npm i webgpu'`,
    };
  }
  Object.assign(globalThis, dawn.globals);
  // Vulkan/Metal/D3D first (real GPUs); then Dawn's OpenGL ES backend in compatibility mode,
  // which is what works with Mesa on machines without a GPU.
  const attempts: Array<{ flags: string[]; options: GPURequestAdapterOptions; label: string }> = [
    { flags: [], options: { powerPreference: 'high-performance' }, label: 'Dawn (default backend)' },
    { flags: ['backend=opengles'], options: { featureLevel: 'compatibility' } as GPURequestAdapterOptions, label: 'Dawn (OpenGL ES, compatibility)' },
  ];
  const failures: string[] = [];
  for (const attempt of attempts) {
    try {
      const adapter = await dawnInstance(dawn, attempt.flags).requestAdapter(attempt.options);
      if (adapter) return { adapter, via: attempt.label };
      failures.push(`${attempt.label}: no adapter`);
    } catch (error) {
      failures.push(`${attempt.label}: ${(error as Error).message}`);
    }
  }
  return { adapter: null, reason: `no WebGPU adapter from the 'webgpu' package (${failures.join('; ')})` };
}

/** Looks for a WebGPU adapter in whatever runtime we are in; never throws. */
export async function findAdapter(): Promise<AdapterSearch> {
  try {
    switch (runtimeName()) {
      case 'node': return await fromDawn();
      case 'deno': return await fromNavigator('Deno');
      case 'browser': return await fromNavigator('this browser');
      default: return await fromNavigator('this runtime');
    }
  } catch (error) {
    return { adapter: null, reason: `looking for a WebGPU adapter failed: ${(error as Error).message}` };
  }
}
