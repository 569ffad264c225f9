// Buffers are reused across steps: after a warm-up, many training steps grow neither wasm memory,
// nor the number of live tensors (GPU buffers on webgpu), nor the JS heap beyond noise.
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, createBackend, initParameters, lenet5, Network, Rng, type BackendName } from '../../src/index.ts';

async function steps(name: BackendName, count: number, batch: number) {
  let b;
  try {
    b = await createBackend(name);
  } catch (error) {
    if (error instanceof BackendUnavailableError && process.env.FEDDIP_REQUIRE_WEBGPU !== '1') return undefined;
    throw error;
  }
  const model = lenet5();
  const net = new Network(model, b);
  const rng = new Rng(1);
  net.setParameters(initParameters(model.layout, () => rng.uniform()));
  const x = Float32Array.from({ length: batch * 784 }, () => rng.uniform());
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const mask = new Uint8Array(model.layout.size).fill(1);
  const step = async (i: number) => {
    if (i % 50 === 0) net.setMask(mask); // mask updates, as at reconfiguration rounds
    net.trainStep(x, labels, { lr: 0.01, weightDecay: 5e-4, lambda: 1e-4 });
    await net.lastLoss();
    if (i % 100 === 0) await net.getParameters();
  };
  for (let i = 0; i < 20; i++) await step(i);
  const before = { tensors: b.liveTensors, wasm: (b as unknown as { memoryStats?: () => { reserved: number } }).memoryStats?.().reserved, heap: process.memoryUsage().heapUsed };
  for (let i = 20; i < count; i++) await step(i);
  const after = { tensors: b.liveTensors, wasm: (b as unknown as { memoryStats?: () => { reserved: number } }).memoryStats?.().reserved, heap: process.memoryUsage().heapUsed };
  net.dispose();
  const leftover = b.liveTensors;
  b.dispose();
  return { before, after, leftover };
}

describe('memory stays flat over many training steps', () => {
  it('wasm: 1,000 LeNet-5 steps', async () => {
    const r = (await steps('wasm', 1000, 16))!;
    expect(r.after.tensors).toBe(r.before.tensors);
    expect(r.after.wasm).toBe(r.before.wasm);
    // The JS heap only holds per-step garbage; 1,000 steps must not retain tens of megabytes.
    expect(r.after.heap - r.before.heap).toBeLessThan(32 * 1024 * 1024);
    expect(r.leftover).toBe(0);
  }, 120_000);

  it('webgpu: 100 LeNet-5 steps (GPU buffers are tensors: their count stays flat)', async (ctx) => {
    const r = await steps('webgpu', 100, 4);
    if (!r) return ctx.skip('no WebGPU adapter');
    expect(r.after.tensors).toBe(r.before.tensors);
    expect(r.leftover).toBe(0);
  }, 120_000);
});
