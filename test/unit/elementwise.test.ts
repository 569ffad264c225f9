// Dropout with a given mask and the residual add, on lengths around the SIMD width.
import { expect } from 'vitest';
import { InvalidArgumentError, reference } from '../../src/index.ts';
import { expectClose, forEachBackend, randomArray, rng, thrown } from './kernel-harness.ts';

const LENGTHS = [1, 3, 4, 5, 67];

forEachBackend('element-wise', (run) => {
  run('dropout scales kept values by 1/(1 − p) and zeroes dropped ones', async (b, make) => {
    const y = make([4]);
    const x = make([4], [1, -2, 3, 4]);
    const mask = make([2, 2], [1, 0, 1, 1]);
    // A dropped negative value keeps its sign (−2·0 = −0), as torch's multiplication does.
    b.dropoutForward({ x, mask, y, p: 0.5 });
    expect([...await b.read(y)]).toEqual([2, -0, 6, 8]);
    b.dropoutForward({ x, mask, y, p: 0 });
    expect([...await b.read(y)]).toEqual([1, -0, 3, 4]);
    // p = 1 drops everything: zeros, not 0·∞ = NaN.
    b.dropoutForward({ x, mask, y, p: 1 });
    expect([...await b.read(y)].map(Math.abs)).toEqual([0, 0, 0, 0]);
  });

  run('dropout forward and backward match the reference', async (b, make) => {
    const r = rng(31);
    for (const n of LENGTHS) {
      for (const p of [0.1, 0.25, 0.9]) {
        const xs = randomArray(n, r); const gs = randomArray(n, r);
        const ms = Float32Array.from({ length: n }, () => (r() > 2 * p - 1 ? 1 : 0));
        const t = { x: make([n], xs), mask: make([n], ms), y: make([n]), dy: make([n], gs), dx: make([n]) };
        b.dropoutForward({ x: t.x, mask: t.mask, y: t.y, p });
        b.dropoutBackward({ dy: t.dy, mask: t.mask, dx: t.dx, p });
        const want = new Float32Array(n);
        reference.dropoutRef(xs, ms, want, reference.dropoutScale(p));
        expectClose(await b.read(t.y), want, 1e-6);
        reference.dropoutRef(gs, ms, want, reference.dropoutScale(p));
        expectClose(await b.read(t.dx), want, 1e-6);
        for (const v of Object.values(t)) b.release(v);
      }
    }
  });

  run('add sums element-wise', async (b, make) => {
    const r = rng(32);
    for (const n of LENGTHS) {
      const as = randomArray(n, r); const bs = randomArray(n, r);
      const a = make([n], as); const c = make([n], bs); const y = make([n]);
      b.add({ a, b: c, y });
      expect([...await b.read(y)]).toEqual([...as.map((v, i) => Math.fround(v + bs[i]!))]);
      b.release(a); b.release(c); b.release(y);
    }
  });

  run('rejects bad masks, probabilities, sizes and aliasing with typed errors', async (b, make) => {
    const x = make([2, 3]);
    const y = make([2, 3]);
    const e = thrown(() => b.dropoutForward({ x, mask: make([5]), y, p: 0.5 }));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/dropoutForward: 'x' \(6 elements\) and 'mask' \(5 elements\) must have the same size/);
    expect(thrown(() => b.dropoutForward({ x, mask: make([6], undefined, 'i32'), y, p: 0.5 })).message).toMatch(/'mask' must be f32, got i32/);
    for (const p of [-0.1, 1.5, Number.NaN]) {
      expect(thrown(() => b.dropoutBackward({ dy: x, mask: make([6]), dx: y, p })).message).toMatch(/dropoutBackward: 'p' must lie in \[0, 1\]/);
    }
    expect(thrown(() => b.dropoutForward({ x, mask: x, y, p: 0.5 })).message).toMatch(/'x' and 'mask' must be different tensors/);
    expect(thrown(() => b.add({ a: x, b: y, y: x })).message).toMatch(/add: 'a' and 'y' must be different tensors/);
    expect(thrown(() => b.add({ a: x, b: make([7]), y })).code).toBe('SHAPE_MISMATCH');
  });
});
