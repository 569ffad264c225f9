// The wasm backend's two SIMD builds: which one runs and why, what a bad choice gets, and that the
// relaxed build really fuses its multiply-adds (where the CPU can) while staying within float32
// rounding of the plain one on whole training steps.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createBackend, InvalidArgumentError, initParameters, lenet5, Network, Rng, SIMD_CHOICES } from '../../src/index.ts';
import { expectClose, randomArray, rng } from './kernel-harness.ts';

/** Whether this CPU has fused multiply-add, from Linux's /proc/cpuinfo; undefined where unknown. */
function cpuHasFma(): boolean | undefined {
  try {
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
    if (flags !== undefined) return flags.split(/\s+/).includes('fma');
    const features = /^Features\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
    return features === undefined ? undefined : true; // every AArch64 core has fused multiply-add
  } catch {
    return undefined;
  }
}

describe('wasm SIMD builds', () => {
  it('runs relaxed SIMD by default in Node (the backend sets V8\'s flag itself) and plain SIMD when asked', async () => {
    expect(SIMD_CHOICES).toEqual(['auto', 'relaxed', 'baseline']);
    for (const simd of [undefined, 'auto', 'relaxed'] as const) {
      const b = await createBackend('wasm', { threads: 1, simd });
      expect(b.simd?.kind).toBe('relaxed');
      expect(b.simd?.reason).toMatch(/^relaxed SIMD: multiply-adds fused/);
      expect(b.description).toBe('wasm (relaxed SIMD, 1 thread)');
      b.dispose();
    }
    const plain = await createBackend('wasm', { threads: 1, simd: 'baseline' });
    expect(plain.simd).toEqual({ kind: 'baseline', reason: "plain SIMD: 'baseline' requested" });
    expect(plain.description).toBe('wasm (SIMD, 1 thread)');
    plain.dispose();
    // Backends that run no WebAssembly have no build.
    const ref = await createBackend('reference');
    expect(ref.simd).toBeNull();
    ref.dispose();
  });

  it('refuses a build that does not exist, naming the choices', async () => {
    for (const simd of ['fast', '', 'RELAXED', 1]) {
      const error = await createBackend('wasm', { simd: simd as never }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toBe(`wasm backend: 'simd' must be one of auto, relaxed, baseline, got ${String(simd)}`);
    }
  });

  it('fuses in the relaxed build exactly where the CPU has fused multiply-add; the plain build never does', async () => {
    // c + a·b with a = 1 + 2⁻¹², c = −(1 + 2⁻¹¹): a·b = 1 + 2⁻¹¹ + 2⁻²⁴ is not a float32 and rounds
    // to 1 + 2⁻¹¹, which c cancels: 0 when rounded after the product, 2⁻²⁴ when fused. Each row of
    // x·Wᵀ holds 1·c at depth 0, then a·a: at depth 8 of 12, in the vector lane and accumulator that
    // holds c (vector body), or at depth 8 of 9 (the scalar tail after the vector body). Five rows
    // and nine outputs take the block tails too.
    const a = 1 + 2 ** -12;
    const c = -(1 + 2 ** -11);
    const rows = 5, outputs = 9;
    const fma = cpuHasFma();
    for (const { depth, at } of [{ depth: 12, at: 8 }, { depth: 9, at: 8 }]) {
      const row = (first: number) => Array.from({ length: depth }, (_, p) => (p === 0 ? first : p === at ? a : 0));
      const x = Array.from({ length: rows }, () => row(1)).flat();
      const w = Array.from({ length: outputs }, () => row(c)).flat();
      const results: Record<string, number[]> = {};
      for (const simd of ['relaxed', 'baseline'] as const) {
        const b = await createBackend('wasm', { threads: 1, simd });
        const tx = b.tensor('f32', [rows, depth], x), tw = b.tensor('f32', [outputs, depth], w), ty = b.tensor('f32', [rows, outputs]);
        b.linearForward({ x: tx, w: tw, y: ty });
        results[simd] = [...new Set(await b.read(ty))];
        b.dispose();
      }
      expect(results.baseline, `depth ${depth}, plain`).toEqual([0]);
      if (fma !== undefined) expect(results.relaxed, `depth ${depth}, relaxed`).toEqual([fma ? 2 ** -24 : 0]);
      else expect([[0], [2 ** -24]]).toContainEqual(results.relaxed);
    }
  });

  it('trains LeNet-5 to within float32 rounding of the plain build, and to the same bits on 1 and 2 threads', async () => {
    const model = lenet5();
    const r = rng(5);
    const weights = initParameters(model.layout, () => (r() + 1) / 2);
    const x = randomArray(16 * 784, r);
    const labels = Int32Array.from({ length: 16 }, (_, i) => i % 10);
    const out: Record<string, Float32Array> = {};
    for (const [key, options] of [
      ['relaxed1', { threads: 1, simd: 'relaxed' }], ['relaxed2', { threads: 2, simd: 'relaxed', minSplitMacs: 0, minSplitElements: 0 }],
      ['baseline1', { threads: 1, simd: 'baseline' }],
    ] as const) {
      const b = await createBackend('wasm', options);
      const net = new Network(model, b, { rng: new Rng(1) });
      net.setParameters(weights);
      for (let step = 0; step < 3; step++) net.trainStep(x, labels, { lr: 0.05, weightDecay: 5e-4 });
      out[key] = await net.getParameters();
      net.dispose();
      b.dispose();
    }
    expect(out.relaxed2).toEqual(out.relaxed1);
    expectClose(out.relaxed1!, out.baseline1!, 1e-4, 'parameter');
    if (cpuHasFma()) expect(out.relaxed1).not.toEqual(out.baseline1);
  }, 60_000);
});
