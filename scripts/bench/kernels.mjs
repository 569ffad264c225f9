// GEMM at several shapes and LeNet's fc1 as a training layer, on the wasm backend (1 thread).
export const name = 'kernels';

export async function run({ feddip, timed, rand, add }) {
  const backend = await feddip.createBackend('wasm');
  try {
    // C = A·Bᵀ, as the linear layer's forward pass runs it.
    for (const size of [64, 128, 256, 512]) {
      const x = backend.tensor('f32', [size, size], rand(size * size));
      const w = backend.tensor('f32', [size, size], rand(size * size));
      const y = backend.tensor('f32', [size, size]);
      const s = timed(() => backend.linearForward({ x, w, y }));
      add({ name: `gemm_nt_${size}`, kind: 'gemm_nt', m: size, n: size, k: size, threads: 1 },
        { value: (2 * size ** 3) / s / 1e9, unit: 'GFLOP/s', batch: size, flops: true });
      for (const t of [x, w, y]) backend.release(t);
    }
    // LeNet's fc1 (400→120) forward + both backward products at batch 128.
    const t = {
      x: backend.tensor('f32', [128, 400], rand(128 * 400)), w: backend.tensor('f32', [120, 400], rand(48000)),
      b: backend.tensor('f32', [120], rand(120)), y: backend.tensor('f32', [128, 120]), dy: backend.tensor('f32', [128, 120], rand(128 * 120)),
      dx: backend.tensor('f32', [128, 400]), dw: backend.tensor('f32', [120, 400]), db: backend.tensor('f32', [120]),
    };
    const s = timed(() => {
      backend.linearForward({ x: t.x, w: t.w, b: t.b, y: t.y });
      backend.linearBackward({ x: t.x, w: t.w, dy: t.dy, dx: t.dx, dw: t.dw, db: t.db });
    });
    add({ name: 'linear_400x120_train_b128', kind: 'linear_train', batch: 128, in: 400, out: 120, threads: 1 },
      { value: (6 * 128 * 400 * 120) / s / 1e9, unit: 'GFLOP/s', batch: 128, flops: true });
    for (const v of Object.values(t)) backend.release(v);
  } finally {
    backend.dispose();
  }
}
