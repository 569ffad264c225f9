// Opens a GPUDevice on whatever adapter this runtime offers, asking only for the limits the
// kernels need (the adapter's maxima for buffer sizes, defaults otherwise).
import { findAdapter } from '../../platform/gpu.ts';
import { BackendUnavailableError } from '../../errors.ts';

export interface OpenedDevice {
  device: GPUDevice;
  adapterLabel: string;
  software: boolean;
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render/i;

/** The parts of GPUAdapterInfo that name an adapter (all optional: runtimes fill in what they know). */
export interface AdapterIdentity {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** A readable name for the adapter: its description, vendor, architecture and device, as given. */
export function adapterName(info: AdapterIdentity | undefined): string {
  return [info?.description, info?.vendor, info?.architecture, info?.device].filter(Boolean).join(' ') || 'unknown adapter';
}

/**
 * Whether the adapter renders on the CPU. Any of the info's fields may carry the renderer's name:
 * Dawn's OpenGL ES backend on Mesa puts it only in `device` ("llvmpipe-llvm-15-0-6-256-bits-",
 * with the description "OpenGL version OpenGL ES 3.2 Mesa 22.3.6").
 */
export function isSoftwareAdapter(info: AdapterIdentity | undefined, fallback = false): boolean {
  return fallback || Boolean(info?.isFallbackAdapter) || SOFTWARE.test(adapterName(info));
}

/** isSoftwareAdapter for an adapter itself: its info, and the older adapter-level fallback flag. */
export function adapterIsSoftware(adapter: GPUAdapter): boolean {
  const info = (adapter as GPUAdapter & { info?: AdapterIdentity }).info;
  return isSoftwareAdapter(info, Boolean((adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter));
}

export async function openDevice(): Promise<OpenedDevice> {
  const found = await findAdapter();
  if (!found.adapter) throw new BackendUnavailableError('webgpu', found.reason);
  const adapter = found.adapter;
  const name = adapterName((adapter as GPUAdapter & { info?: AdapterIdentity }).info);
  const software = adapterIsSoftware(adapter);
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
        // Compatibility mode starts at 4 storage buffers and 128 invocations; some kernels (batch
        // norm) bind up to 8 buffers and use 256-wide workgroups. Never ask beyond the adapter.
        maxStorageBuffersPerShaderStage: Math.min(8, adapter.limits.maxStorageBuffersPerShaderStage),
        maxComputeInvocationsPerWorkgroup: Math.min(256, adapter.limits.maxComputeInvocationsPerWorkgroup),
        maxComputeWorkgroupSizeX: Math.min(256, adapter.limits.maxComputeWorkgroupSizeX),
      },
    });
  } catch (cause) {
    throw new BackendUnavailableError('webgpu', `the adapter (${name}) refused to create a device: ${(cause as Error).message}`, { cause });
  }
  return { device, adapterLabel: `${name} via ${found.via}`, software };
}
