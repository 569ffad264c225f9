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

export async function openDevice(): Promise<OpenedDevice> {
  const found = await findAdapter();
  if (!found.adapter) throw new BackendUnavailableError('webgpu', found.reason);
  const adapter = found.adapter;
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const name = [info?.description, info?.vendor, info?.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  const fallback = Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter
    ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter);
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
  return { device, adapterLabel: `${name} via ${found.via}`, software: fallback || SOFTWARE.test(name) };
}
