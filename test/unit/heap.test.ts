import { describe, expect, it } from 'vitest';
import { WasmHeap } from '../../src/backend/wasm/heap.ts';
import { FeddipError } from '../../src/errors.ts';

const PAGE = 65536;

describe('WasmHeap', () => {
  it('hands out 64-byte aligned, non-overlapping blocks above the heap base', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 1 }), 1000);
    const a = heap.alloc(10);
    const b = heap.alloc(100);
    const c = heap.alloc(64);
    for (const p of [a, b, c]) expect(p % 64).toBe(0);
    expect(a).toBeGreaterThanOrEqual(1000);
    expect(b).toBeGreaterThanOrEqual(a + 64);
    expect(c).toBeGreaterThanOrEqual(b + 128);
    expect(heap.bytesInUse).toBe(64 + 128 + 64);
  });

  it('reuses freed space and merges neighbouring free blocks', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 1 }), 64);
    const a = heap.alloc(64);
    const b = heap.alloc(64);
    const c = heap.alloc(64);
    heap.free(a);
    heap.free(b);
    // a and b merged: a 128-byte block fits where they were.
    expect(heap.alloc(128)).toBe(a);
    heap.free(c);
    expect(heap.bytesInUse).toBe(128);
  });

  it('grows memory when nothing fits and keeps earlier blocks in place', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const heap = new WasmHeap(memory, 64);
    const small = heap.alloc(1000);
    const big = heap.alloc(3 * PAGE);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(big + 3 * PAGE);
    expect(small).toBe(64);
    heap.free(big);
    // The grown tail is free again and large enough for the same request without growing.
    const reserved = heap.bytesReserved;
    expect(heap.alloc(3 * PAGE)).toBe(big);
    expect(heap.bytesReserved).toBe(reserved);
  });

  it('does not grow when allocating and freeing the same sizes repeatedly', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 1 }), 64);
    for (let i = 0; i < 1000; i++) {
      const blocks = [heap.alloc(4000), heap.alloc(123), heap.alloc(20_000)];
      for (const b of blocks) heap.free(b);
    }
    expect(heap.bytesReserved).toBeLessThanOrEqual(PAGE);
    expect(heap.bytesInUse).toBe(0);
  });

  it('rejects freeing a block it did not hand out', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 1 }), 64);
    expect(() => heap.free(12345)).toThrow(FeddipError);
  });
});
