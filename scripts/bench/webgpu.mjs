// The WebGPU backend against our WASM backend, in one process on one machine: GEMM (C = A·Bᵀ, the
// linear layer's product) at 4096³ and one AlexNet-CIFAR training step at batch 32. WASM runs on
// every core. The GEMM's result is read back from both and compared, so a device that computes
// nothing cannot pass for a fast one.
//
// Only a hardware adapter is measured: software WebGPU (llvmpipe, SwiftShader) is 15–350× slower
// than WASM SIMD on a CPU and says nothing about GPUs. Where only a software adapter exists the suite
// adds nothing and says why in a note. FEDDIP_BENCH_WEBGPU=software measures it anyway at small
// sizes (GEMM 256³, the LeNet-5 step at batch 32), under names ending in `_software`, to check the
// suite itself. No PyTorch peer: Debian's python3-torch has no GPU; `wasm` and `vs_wasm` in each
// entry are the comparison.
import { cpus } from 'node:os';

export const name = 'webgpu';

export async function run({ feddip, quick, timed, rand, add, note }) {
  let gpu;
  try {
    gpu = await feddip.createBackend('webgpu');
  } catch (error) {
    note(`webgpu: not measured: ${error.message}`);
    return;
  }
  const forced = process.env.FEDDIP_BENCH_WEBGPU === 'software';
  if (gpu.software && !forced) {
    note(`webgpu: not measured: the only adapter here is a software one (${gpu.description}); set FEDDIP_BENCH_WEBGPU=software to time it anyway at small sizes`);
    gpu.dispose();
    return;
  }
  const threads = cpus().length;
  const wasm = await feddip.createBackend('wasm', { threads });
  const suffix = gpu.software ? '_software' : '';
  const adapter = gpu.description;
  try {
    const size = gpu.software ? 256 : 4096;
    const g = gemm(gpu, wasm, size, rand);
    const sGpu = await gpuTimed(gpu, g.onGpu, quick);
    const sWasm = timed(g.onWasm, quick ? 0.05 : 0.5, 3);
    const diff = await g.maxRelativeDifference();
    g.release();
    // F32 products of 4096 terms each, summed in a different order: 1e-6–1e-5 of the largest
    // element. Far more means the device's results are wrong, and its speed is not worth reporting.
    if (!(diff <= 1e-4)) {
      note(`webgpu: not measured: its GEMM ${size}³ differs from our WASM's by ${diff} of the largest element (${adapter})`);
      return;
    }
    const flop = 2 * size ** 3;
    add({ name: `webgpu_gemm_nt_${size}${suffix}`, kind: 'webgpu_gemm_nt', peer: false, threads },
      { value: flop / sGpu / 1e9, unit: 'GFLOP/s', batch: size, extra: { wasm: flop / sWasm / 1e9, vs_wasm: sWasm / sGpu, max_rel_diff_vs_wasm: diff, adapter } });

    const m = gpu.software ? { id: 'lenet5', make: () => feddip.lenet5(), classes: 10 } : { id: 'alexnet_cifar', make: () => feddip.alexnetCifar(10), classes: 10 };
    const batch = 32;
    const model = m.make();
    const rng = new feddip.Rng(0);
    const initial = feddip.initParameters(model.layout, () => rng.uniform());
    const x = rand(batch * model.inputShape.reduce((a, b) => a * b, 1));
    const labels = Int32Array.from({ length: batch }, (_, i) => i % m.classes);
    const options = { lr: 0.01, weightDecay: 5e-4 };
    const onGpu = new feddip.Network(model, gpu);
    const onWasm = new feddip.Network(model, wasm);
    try {
      onGpu.setParameters(initial);
      onWasm.setParameters(initial);
      const stepGpu = await gpuTimed(gpu, () => onGpu.trainStep(x, labels, options), quick);
      const stepWasm = timed(() => onWasm.trainStep(x, labels, options), quick ? 0.05 : 0.5, 3);
      add({ name: `webgpu_${m.id}_step_b${batch}${suffix}`, kind: 'webgpu_step', peer: false, threads },
        { value: stepGpu, unit: 's/step', batch, lowerIsBetter: true, extra: { wasm: stepWasm, vs_wasm: stepWasm / stepGpu, adapter } });
    } finally {
      onGpu.dispose();
      onWasm.dispose();
    }
    note(`webgpu: ${adapter}${gpu.software ? ' (a software adapter: these figures say nothing about GPUs)' : ''}; wasm and vs_wasm in its entries: our WASM backend on ${threads} threads, same process (vs_wasm > 1: WebGPU faster)`);
  } finally {
    wasm.dispose();
    gpu.dispose();
  }
}

/** The same product on both backends, from the same random operands. */
function gemm(gpu, wasm, size, rand) {
  const a = rand(size * size);
  const b = rand(size * size);
  const on = (backend) => ({ x: backend.tensor('f32', [size, size], a), w: backend.tensor('f32', [size, size], b), y: backend.tensor('f32', [size, size]) });
  const g = on(gpu);
  const w = on(wasm);
  return {
    onGpu: () => gpu.linearForward(g),
    onWasm: () => wasm.linearForward(w),
    /** max |gpu − wasm| / max |wasm| over C. */
    async maxRelativeDifference() {
      const [cg, cw] = [await gpu.read(g.y), await wasm.read(w.y)];
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < cw.length; i++) {
        diff = Math.max(diff, Math.abs(cg[i] - cw[i]));
        scale = Math.max(scale, Math.abs(cw[i]));
      }
      return Number.isFinite(diff) && scale > 0 ? diff / scale : Infinity;
    },
    release() {
      for (const t of Object.values(g)) gpu.release(t);
      for (const t of Object.values(w)) wasm.release(t);
    },
  };
}

/**
 * Median seconds of fn() until the device has finished it (each repetition waits for the queue to
 * drain), after two unmeasured calls that compile the pipelines.
 */
async function gpuTimed(backend, fn, quick) {
  for (let i = 0; i < 2; i++) {
    fn();
    await backend.sync();
  }
  const samples = [];
  for (let r = 0; r < (quick ? 3 : 7); r++) {
    const t = performance.now();
    fn();
    await backend.sync();
    samples.push((performance.now() - t) / 1000);
  }
  samples.sort((p, q) => p - q);
  return samples[samples.length >> 1];
}
