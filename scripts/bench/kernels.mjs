// GEMM at several shapes (512³ also in the plain SIMD build), LeNet's fc1 as a training layer, and LeNet's two convolutions forward
// and backward (and their weight and input gradients taken from the max-pool's side), on the wasm backend at
// 1 thread and at 2 (kernels split across threads).
export const name = 'kernels';

/** LeNet-5's convolutions at batch 128; conv1 is the first layer, so training never needs its dx. */
const CONVS = [
  { id: 'lenet5_conv1', n: 128, c: 1, h: 28, w: 28, o: 6, k: 5, pad: 2, inputGrad: false },
  { id: 'lenet5_conv2', n: 128, c: 6, h: 14, w: 14, o: 16, k: 5, pad: 0, inputGrad: true },
];

export async function run({ feddip, timed, rand, add, note }) {
  note('lenet5_conv*_wgrad_pooled: dW and db of the conv from the gradient at its 2×2 max-pool\'s output (conv2dWeightGradPooled), every pooled gradient non-zero; GFLOP/s counts the dense product\'s multiply-adds (2·N·O·C·k²·Ho·Wo), the peer is PyTorch\'s dW and db from the dense dy');
  note('lenet5_conv2_dgrad_pooled: dx of the conv from the same pooled gradient (conv2dInputGradPooled), and with the weight 95 % pruned (_s0.95: sparseConv2dInputGradPooled on the CSR of Wᵀ); GFLOP/s counts the dense product\'s multiply-adds, the peer is PyTorch\'s dense dx alone from the dense dy');
  for (const threads of [1, 2]) {
    const backend = await feddip.createBackend('wasm', { threads });
    const suffix = threads === 1 ? '' : `_t${threads}`;
    try {
      for (const size of threads === 1 ? [64, 128, 256, 512] : [256, 512]) gemm(backend, size, `gemm_nt_${size}${suffix}`, threads, { timed, rand, add });
      if (threads === 1) {
        // 512³ in the plain SIMD build, rated against the plain ceiling: what the fused multiply-add adds.
        const plain = await feddip.createBackend('wasm', { threads: 1, simd: 'baseline' });
        try {
          gemm(plain, 512, 'gemm_nt_512_baseline', 1, { timed, rand, add }, 'baseline');
        } finally {
          plain.dispose();
        }
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
      add({ name: `linear_400x120_train_b128${suffix}`, kind: 'linear_train', batch: 128, in: 400, out: 120, threads },
        { value: (6 * 128 * 400 * 120) / s / 1e9, unit: 'GFLOP/s', batch: 128, flops: true });
      for (const v of Object.values(t)) backend.release(v);

      for (const c of CONVS) {
        const ho = c.h + 2 * c.pad - c.k + 1;
        const wo = c.w + 2 * c.pad - c.k + 1;
        const macs = c.n * c.o * c.c * c.k * c.k * ho * wo;
        const v = {
          x: backend.tensor('f32', [c.n, c.c, c.h, c.w], rand(c.n * c.c * c.h * c.w)),
          w: backend.tensor('f32', [c.o, c.c, c.k, c.k], rand(c.o * c.c * c.k * c.k)),
          b: backend.tensor('f32', [c.o], rand(c.o)),
          y: backend.tensor('f32', [c.n, c.o, ho, wo]),
          dy: backend.tensor('f32', [c.n, c.o, ho, wo], rand(c.n * c.o * ho * wo)),
          dx: backend.tensor('f32', [c.n, c.c, c.h, c.w]),
          dw: backend.tensor('f32', [c.o, c.c, c.k, c.k]),
          db: backend.tensor('f32', [c.o]),
        };
        const padding = [c.pad, c.pad];
        const shape = { kind: 'conv_fwd', n: c.n, c: c.c, h: c.h, w: c.w, o: c.o, k: c.k, pad: c.pad, input_grad: c.inputGrad, threads };
        const fwd = timed(() => backend.conv2dForward({ x: v.x, w: v.w, b: v.b, y: v.y, padding }));
        add({ name: `${c.id}_fwd_b${c.n}_t${threads}`, ...shape },
          { value: (2 * macs) / fwd / 1e9, unit: 'GFLOP/s', batch: c.n, flops: true });
        // The gradients training computes: dW and db, and dx where a layer precedes this one.
        const bwd = timed(() => backend.conv2dBackward({ x: v.x, w: v.w, dy: v.dy, dw: v.dw, db: v.db, dx: c.inputGrad ? v.dx : undefined, padding }));
        add({ name: `${c.id}_bwd_b${c.n}_t${threads}`, ...shape, kind: 'conv_bwd' },
          { value: ((c.inputGrad ? 4 : 2) * macs) / bwd / 1e9, unit: 'GFLOP/s', batch: c.n, flops: true });
        // The weight gradient when the conv feeds a 2×2 max-pool (LeNet): from the pool's side, one
        // patch per pooled position. Every pooled gradient is non-zero here (the worst case: in
        // training a ReLU and sparse layers above zero many); the peer is PyTorch's dW and db from
        // the dense dy, the same work it does in that case. Rated as dense-equivalent GFLOP/s.
        const pooled = { n: c.n, o: c.o, h: ho / 2, w: wo / 2 };
        const pooledSize = pooled.n * pooled.o * pooled.h * pooled.w;
        const g = backend.tensor('f32', [pooled.n, pooled.o, pooled.h, pooled.w], rand(pooledSize).map((x) => x || 1));
        const indices = backend.tensor('i32', [pooled.n, pooled.o, pooled.h, pooled.w]);
        const pooledOut = backend.tensor('f32', [pooled.n, pooled.o, pooled.h, pooled.w]);
        backend.maxPool2dForward({ x: v.dy, y: pooledOut, indices, kernel: [2, 2] });
        const wgrad = timed(() => backend.conv2dWeightGradPooled({ x: v.x, g, indices, dw: v.dw, db: v.db, padding }));
        add({ name: `${c.id}_wgrad_pooled_b${c.n}_t${threads}`, ...shape, kind: 'conv_bwd', input_grad: false },
          { value: (2 * macs) / wgrad / 1e9, unit: 'GFLOP/s', batch: c.n });
        // The input gradient from the pool's side (conv2dInputGradPooled), for the conv that needs
        // one; the peer is PyTorch's dx alone from the dense dy.
        if (c.inputGrad) {
          const dgrad = timed(() => backend.conv2dInputGradPooled({ g, indices, w: v.w, dx: v.dx, padding }));
          add({ name: `${c.id}_dgrad_pooled_b${c.n}_t${threads}`, ...shape, kind: 'conv_dgrad' },
            { value: (2 * macs) / dgrad / 1e9, unit: 'GFLOP/s', batch: c.n });
          // The same with the weight 95 % pruned (a random mask), as the CSR of Wᵀ the sparse path holds.
          const taps = c.c * c.k * c.k;
          const st = feddip.sparse.csrTranspose(feddip.sparse.csrFromMask(rand(c.o * taps).map((x) => (x < 0.05 ? 1 : 0)), c.o, taps));
          const wt = feddip.uploadCsr(backend, st);
          backend.write(wt.values, rand(wt.values.size));
          const sparseGrad = timed(() => backend.sparseConv2dInputGradPooled({ g, indices, wt, kernel: [c.k, c.k], dx: v.dx, padding }));
          add({ name: `${c.id}_dgrad_pooled_s0.95_b${c.n}_t${threads}`, ...shape, kind: 'conv_dgrad' },
            { value: (2 * macs) / sparseGrad / 1e9, unit: 'GFLOP/s', batch: c.n });
          feddip.releaseCsr(backend, wt);
        }
        for (const x of [g, indices, pooledOut]) backend.release(x);
        for (const x of Object.values(v)) backend.release(x);
      }
    } finally {
      backend.dispose();
    }
  }
}

/** C = A·Bᵀ on size² operands, as the linear layer's forward pass runs it. */
function gemm(backend, size, name, threads, { timed, rand, add }, simd) {
  const x = backend.tensor('f32', [size, size], rand(size * size));
  const w = backend.tensor('f32', [size, size], rand(size * size));
  const y = backend.tensor('f32', [size, size]);
  const s = timed(() => backend.linearForward({ x, w, y }));
  add({ name, kind: 'gemm_nt', m: size, n: size, k: size, threads },
    { value: (2 * size ** 3) / s / 1e9, unit: 'GFLOP/s', batch: size, flops: true, ...(simd ? { simd } : {}) });
  for (const t of [x, w, y]) backend.release(t);
}
