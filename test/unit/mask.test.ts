// The applyMask kernel on every backend this machine can run, against the reference and against
// masks made by the sparse room.
import { expect } from 'vitest';
import { createBackend, FeddipError, InvalidArgumentError, reference, Rng, sparse } from '../../src/index.ts';
import { forEachBackend } from './kernel-harness.ts';

forEachBackend('applyMask', (run, name) => {
  run('multiplies by a 0/1 mask exactly, at lengths that are not multiples of 4', async (b) => {
    const r = new Rng(`applyMask-${name}`);
    for (const n of [1, 3, 4, 5, 8, 67, 1031]) {
      const ws = Float32Array.from({ length: n }, () => r.normal());
      const ms = Float32Array.from({ length: n }, () => (r.uniform() < 0.4 ? 0 : 1));
      const want = new Float32Array(n);
      reference.applyMaskRef(ws, ms, want);
      const w = b.tensor('f32', [n], ws);
      const mask = b.tensor('f32', [n], ms);
      const y = b.tensor('f32', [n]);
      b.applyMask({ w, mask, y });
      const got = await b.read(y);
      for (let i = 0; i < n; i++) if (got[i] !== want[i]) throw new Error(`n = ${n}, element ${i}: got ${got[i]}, expected ${want[i]}`);
      // w stays dense (error feedback needs it).
      expect(await b.read(w)).toEqual(ws);
      b.release(w); b.release(mask); b.release(y);
    }
  });

  run('gives M ⊙ W for a global magnitude mask of a model-like layout (shapes may differ, sizes match)', async (b) => {
    const { segments, total } = sparse.layoutSegments([
      { name: 'conv.weight', shape: [6, 1, 5, 5], prunable: true }, { name: 'conv.bias', shape: [6], prunable: false },
      { name: 'fc.weight', shape: [10, 13], prunable: true }, { name: 'fc.bias', shape: [10], prunable: false },
    ]);
    const r = new Rng(3);
    const ws = Float32Array.from({ length: total }, () => r.normal());
    const m = sparse.globalMagnitudeMask(ws, segments, 0.9);
    const w = b.tensor('f32', [total], ws);
    const mask = b.tensor('f32', [1, total], Float32Array.from(m));
    const y = b.tensor('f32', [total]);
    b.applyMask({ w, mask, y });
    const got = await b.read(y);
    expect(sparse.maskSparsity(got, segments).nonzero).toBe(m.reduce((a, v) => a + v, 0) - 16);
    // Pruned negative weights give −0, as w * mask does in PyTorch; + 0 folds it for the check.
    for (let i = 0; i < total; i++) expect(got[i]! + 0).toBe(m[i] ? ws[i] : 0);
    b.release(w); b.release(mask); b.release(y);
  });

  run('handles empty tensors', async (b) => {
    const [w, mask, y] = [b.tensor('f32', [0]), b.tensor('f32', [0]), b.tensor('f32', [0])];
    b.applyMask({ w, mask, y });
    expect((await b.read(y)).length).toBe(0);
    b.release(w); b.release(mask); b.release(y);
  });

  run('rejects aliasing, size and dtype mismatches and foreign tensors with typed errors', async (b) => {
    const err = (fn: () => unknown) => { try { fn(); } catch (e) { return e as FeddipError; } throw new Error('did not throw'); };
    const w = b.tensor('f32', [5]);
    const mask = b.tensor('f32', [5]);
    const y = b.tensor('f32', [5]);
    const short = b.tensor('f32', [4]);
    const ints = b.tensor('i32', [5]);
    const alias = err(() => b.applyMask({ w, mask, y: w }));
    expect(alias).toBeInstanceOf(InvalidArgumentError);
    expect(alias.message).toMatch(/applyMask: 'w' and 'y' must be different tensors/);
    expect(err(() => b.applyMask({ w, mask, y: mask })).message).toMatch(/'mask' and 'y' must be different tensors/);
    const size = err(() => b.applyMask({ w, mask: short, y }));
    expect(size.code).toBe('SHAPE_MISMATCH');
    expect(size.message).toMatch(/'w' \(5 elements\) and 'mask' \(4 elements\) must have the same size/);
    expect(err(() => b.applyMask({ w, mask, y: short })).message).toMatch(/'w' \(5 elements\) and 'y' \(4 elements\)/);
    expect(err(() => b.applyMask({ w, mask: ints, y })).message).toMatch(/'mask' must be f32, got i32/);
    const other = await createBackend('reference');
    const foreign = other.tensor('f32', [5]);
    expect(err(() => b.applyMask({ w: foreign, mask, y })).code).toBe('FOREIGN_TENSOR');
    other.dispose();
    b.release(short);
    expect(err(() => b.applyMask({ w, mask: short, y })).code).toBe('TENSOR_RELEASED');
    for (const t of [w, mask, y, ints]) b.release(t);
  });
});
