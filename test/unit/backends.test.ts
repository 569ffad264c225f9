// The backend contract, checked on every backend this machine can run: argument errors are typed
// and identical, and the fast kernels agree with the plain references on awkward shapes (sizes that
// are not multiples of the SIMD widths or block sizes).
import { describe, expect, it } from 'vitest';
import { createBackend, FeddipError, InvalidArgumentError, reference } from '../../src/index.ts';
import type { BackendName } from '../../src/index.ts';
import { expectClose, forEachBackend, randomArray, rng } from './kernel-harness.ts';
import { findAdapter } from '../../src/platform/gpu.ts';
import { adapterIsSoftware, isSoftwareAdapter } from '../../src/backend/webgpu/device.ts';
import { WebGpuBackend } from '../../src/backend/webgpu/backend.ts';

forEachBackend('backend contract', (run, name) => {
  run('round-trips f32 and i32 data and zero-fills new tensors', async (b) => {
    const f = b.tensor('f32', [2, 3], [1.5, -2, 3, 4, 5, 6.25]);
    const i = b.tensor('i32', [3], [7, -1, 2147483647]);
    const z = b.tensor('f32', [5]);
    expect([...await b.read(f)]).toEqual([1.5, -2, 3, 4, 5, 6.25]);
    expect([...await b.read(i)]).toEqual([7, -1, 2147483647]);
    expect([...await b.read(z)]).toEqual([0, 0, 0, 0, 0]);
    b.release(f); b.release(i); b.release(z);
    // Memory handed back and out again is zeroed too.
    const again = b.tensor('f32', [6]);
    expect([...await b.read(again)]).toEqual([0, 0, 0, 0, 0, 0]);
    b.release(again);
  });

  run('linear forward and backward match the reference on odd shapes', async (b) => {
    const r = rng(7);
    for (const [batch, inF, outF] of [[1, 1, 1], [3, 5, 7], [7, 13, 9], [2, 33, 17], [5, 4, 8], [9, 16, 3],
      [6, 35, 22], // 6 = 4 + 2 rows: the two-row GEMM block, with column tails
    ] as const) {
      const xs = randomArray(batch * inF, r); const ws = randomArray(outF * inF, r);
      const bs = randomArray(outF, r); const dys = randomArray(batch * outF, r);
      const d = { batch, inFeatures: inF, outFeatures: outF };
      const y = new Float32Array(batch * outF); const dx = new Float32Array(batch * inF);
      const dw = new Float32Array(outF * inF); const db = new Float32Array(outF);
      reference.linearForwardRef(xs, ws, bs, y, d);
      reference.linearBackwardRef(xs, ws, dys, dx, dw, db, d);
      const t = {
        x: b.tensor('f32', [batch, inF], xs), w: b.tensor('f32', [outF, inF], ws), b: b.tensor('f32', [outF], bs),
        dy: b.tensor('f32', [batch, outF], dys), y: b.tensor('f32', [batch, outF]), dx: b.tensor('f32', [batch, inF]),
        dw: b.tensor('f32', [outF, inF]), db: b.tensor('f32', [outF]),
      };
      b.linearForward({ x: t.x, w: t.w, b: t.b, y: t.y });
      b.linearBackward({ x: t.x, w: t.w, dy: t.dy, dx: t.dx, dw: t.dw, db: t.db });
      expectClose(await b.read(t.y), y);
      expectClose(await b.read(t.dx), dx);
      expectClose(await b.read(t.dw), dw);
      expectClose(await b.read(t.db), db);
      // Without bias, y is the bare product.
      b.linearForward({ x: t.x, w: t.w, y: t.y });
      reference.linearForwardRef(xs, ws, undefined, y, d);
      expectClose(await b.read(t.y), y);
      for (const v of Object.values(t)) b.release(v);
    }
  });

  run('ReLU keeps a NaN and zeroes its gradient, in the SIMD lanes and the scalar tail alike', async (b) => {
    // torch.relu(nan) is nan; the gradient of ReLU at a NaN is 0 (x > 0 is false).
    const special = [Number.NaN, -1, 0, -0, 2.5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (const n of [7, 9]) { // 4 lanes + a tail of 3; 8 lanes + a tail of 1 (the NaN lands in both)
      const xs = Float32Array.from({ length: n }, (_, i) => special[(i + n) % special.length]!);
      const x = b.tensor('f32', [n], xs), y = b.tensor('f32', [n]), dy = b.tensor('f32', [n], new Float32Array(n).fill(3));
      b.reluForward({ x, y });
      const want = new Float32Array(n); reference.reluForwardRef(xs, want);
      const got = await b.read(y);
      expect(Array.from(got).map(String)).toEqual(Array.from(want).map(String));
      expect(Array.from(got).filter(Number.isNaN).length).toBe(Array.from(xs).filter(Number.isNaN).length);
      b.reluBackward({ x, dy, dx: y });
      expect(Array.from(await b.read(y))).toEqual(Array.from(xs, (v) => (v > 0 ? 3 : 0)));
      b.release(x); b.release(y); b.release(dy);
    }
  });

  run('element-wise kernels handle lengths that are not multiples of 4', async (b) => {
    const r = rng(3);
    for (const n of [1, 3, 5, 67]) {
      const xs = randomArray(n, r); const gs = randomArray(n, r);
      const x = b.tensor('f32', [n], xs); const g = b.tensor('f32', [n], gs); const y = b.tensor('f32', [n]);
      b.reluForward({ x, y });
      const want = new Float32Array(n); reference.reluForwardRef(xs, want);
      expectClose(await b.read(y), want);
      b.reluBackward({ x, dy: g, dx: y });
      reference.reluBackwardRef(xs, gs, want);
      expectClose(await b.read(y), want);
      b.sgdStep({ param: x, grad: g, lr: 0.1, weightDecay: 5e-4 });
      const p = xs.slice(); reference.sgdStepRef(p, gs, 0.1, 5e-4);
      expectClose(await b.read(x), p);
      b.fill({ y, value: 2 });
      b.axpy({ alpha: -0.5, x: g, y });
      expectClose(await b.read(y), gs.map((v) => 2 - 0.5 * v));
      b.release(x); b.release(g); b.release(y);
    }
  });

  run('copy, sum of squares and the norm-penalty gradient match the reference', async (b) => {
    const r = rng(11);
    for (const n of [1, 5, 4099]) {
      const xs = randomArray(n, r); const gs = randomArray(n, r);
      const x = b.tensor('f32', [n], xs); const y = b.tensor('f32', [1, n]);
      const ss = b.tensor('f32', [1]); const g = b.tensor('f32', [n], gs);
      b.copy({ x, y });
      expectClose(await b.read(y), xs);
      b.sumSquares({ x, out: ss });
      const want = reference.sumSquaresRef(Float64Array.from(xs));
      expect(Math.abs((await b.read(ss))[0]! - want)).toBeLessThan(1e-5 * want);
      b.addScaledByInvNorm({ x, sumSquares: ss, grad: g, lambda: 1e-3 });
      const gw = gs.slice(); reference.addScaledByInvNormRef(xs, want, gw, 1e-3);
      expectClose(await b.read(g), gw);
      // A zero norm leaves the gradient alone (the penalty's subgradient at 0).
      b.fill({ y: ss, value: 0 });
      b.addScaledByInvNorm({ x, sumSquares: ss, grad: g, lambda: 1 });
      expectClose(await b.read(g), gw);
      for (const t of [x, y, ss, g]) b.release(t);
    }
  });

  run('cross-entropy gives NaN for a label out of range instead of reading past the row', async (b) => {
    const logits = b.tensor('f32', [2, 3], [1, 2, 3, 0, 0, 0]);
    const labels = b.tensor('i32', [2], [2, 3]);
    const loss = b.tensor('f32', [1]);
    b.softmaxCrossEntropy({ logits, labels, loss });
    expect(Number.isNaN((await b.read(loss))[0])).toBe(true);
    b.write(labels, [2, 0]);
    b.softmaxCrossEntropy({ logits, labels, loss });
    const want = ((Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3) + Math.log(3)) / 2;
    expect((await b.read(loss))[0]).toBeCloseTo(want, 5);
    b.release(logits); b.release(labels); b.release(loss);
  });

  run('rejects wrong shapes, dtypes, aliasing and dead or foreign tensors with typed errors', async (b) => {
    const x = b.tensor('f32', [2, 3]);
    const w = b.tensor('f32', [4, 5]);
    const y = b.tensor('f32', [2, 4]);
    const err = (fn: () => unknown) => { try { fn(); } catch (e) { return e as FeddipError; } throw new Error('did not throw'); };
    const shape = err(() => b.linearForward({ x, w, y }));
    expect(shape).toBeInstanceOf(InvalidArgumentError);
    expect(shape.code).toBe('SHAPE_MISMATCH');
    expect(shape.message).toMatch(/x has 3 features but w is \[4, 5\]/);
    const labels = b.tensor('f32', [2]);
    expect(err(() => b.softmaxCrossEntropy({ logits: x, labels, loss: y })).message).toMatch(/'labels' must be i32/);
    expect(err(() => b.reluForward({ x, y: x })).message).toMatch(/must be different tensors/);
    expect(err(() => b.sgdStep({ param: x, grad: x, lr: 0.1 })).message).toMatch(/different tensors/);
    const g = b.tensor('f32', [2, 4]);
    expect(err(() => b.sgdStep({ param: y, grad: g, lr: Number.NaN })).message).toMatch(/finite/);
    expect(err(() => b.tensor('f32', [2, -1])).code).toBe('INVALID_ARGUMENT');
    expect(err(() => b.tensor('f32', [2], [1, 2, 3])).message).toMatch(/holds 2 elements but data has 3/);
    const other = await createBackend('reference');
    const foreign = other.tensor('f32', [2, 3]);
    expect(err(() => b.reluForward({ x: foreign, y: x })).code).toBe('FOREIGN_TENSOR');
    other.dispose();
    b.release(x);
    expect(err(() => b.reluForward({ x, y: w })).code).toBe('TENSOR_RELEASED');
    b.release(x); // twice is harmless
    for (const t of [w, y, labels, g]) b.release(t);
  });

  run('dispose releases every tensor and refuses further use', async () => {
    const fresh = await createBackend(name);
    fresh.tensor('f32', [3]);
    fresh.tensor('i32', [2]);
    expect(fresh.liveTensors).toBe(2);
    fresh.dispose();
    expect(fresh.liveTensors).toBe(0);
    expect(() => fresh.tensor('f32', [1])).toThrow(/disposed/);
  });
});

describe('createBackend', () => {
  it('names the choices when asked for an unknown backend', async () => {
    await expect(createBackend('cuda' as BackendName)).rejects.toThrow(/unknown backend 'cuda'; choose one of wasm, webgpu, reference, auto/);
  });

  it('tells a software adapter by any field of its info', () => {
    // What Dawn's OpenGL ES backend reports on Mesa: the renderer only in `device`.
    expect(isSoftwareAdapter({ vendor: '', architecture: '', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', device: '', description: '' })).toBe(true);
    expect(isSoftwareAdapter({ description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100 80GB HBM3' })).toBe(false);
    expect(isSoftwareAdapter({ vendor: 'nvidia', isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia' }, true)).toBe(true);
    expect(isSoftwareAdapter(undefined)).toBe(false);
  });

  it('\'auto\' takes WebGPU only on a hardware adapter, and a software one is reported as such', async () => {
    const found = await findAdapter();
    const auto = await createBackend('auto', { threads: 1 });
    try {
      if (!found.adapter) {
        expect(auto.name).toBe('wasm');
        return;
      }
      const software = adapterIsSoftware(found.adapter);
      expect(auto.name).toBe(software ? 'wasm' : 'webgpu');
      const gpu = await createBackend('webgpu');
      try {
        expect((gpu as WebGpuBackend).software).toBe(software);
      } finally {
        gpu.dispose();
      }
    } finally {
      auto.dispose();
    }
  });
});
