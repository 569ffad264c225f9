// First-fit allocator over WebAssembly linear memory. The kernels take raw pointers; this is the
// only code that decides where tensors live. Blocks are 64-byte aligned (cache lines, and more
// than the 16 bytes v128 loads like), freed blocks coalesce with their neighbours, and memory grows
// on demand up to the 4 GiB a wasm32 module can address.
import { FeddipError } from '../../errors.ts';

const ALIGN = 64;
const PAGE = 65536;
const MAX_PAGES = 65536;

interface Block { offset: number; size: number }

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

export class WasmHeap {
  readonly #memory: WebAssembly.Memory;
  /** Free blocks sorted by offset, never adjacent (adjacent ones are merged). */
  #free: Block[] = [];
  #used = new Map<number, number>();
  #end: number;

  constructor(memory: WebAssembly.Memory, heapBase: number) {
    this.#memory = memory;
    const start = alignUp(Math.max(heapBase, ALIGN), ALIGN);
    this.#end = start;
    const top = memory.buffer.byteLength;
    if (top > start) this.#free.push({ offset: start, size: top - start });
    this.#end = top;
  }

  /** Bytes currently handed out. */
  get bytesInUse(): number {
    let n = 0;
    for (const size of this.#used.values()) n += size;
    return n;
  }

  /** Size of linear memory in bytes. */
  get bytesReserved(): number {
    return this.#memory.buffer.byteLength;
  }

  alloc(bytes: number): number {
    const size = alignUp(Math.max(bytes, 1), ALIGN);
    let index = this.#free.findIndex((b) => b.size >= size);
    if (index < 0) index = this.#grow(size);
    const block = this.#free[index]!;
    const offset = block.offset;
    if (block.size === size) this.#free.splice(index, 1);
    else { block.offset += size; block.size -= size; }
    this.#used.set(offset, size);
    return offset;
  }

  free(offset: number): void {
    const size = this.#used.get(offset);
    if (size === undefined) throw new FeddipError('INVALID_ARGUMENT', `wasm heap: ${offset} is not an allocated block`);
    this.#used.delete(offset);
    let i = 0;
    while (i < this.#free.length && this.#free[i]!.offset < offset) i++;
    this.#free.splice(i, 0, { offset, size });
    this.#mergeAround(i);
  }

  /** Grows memory so that a block of `size` bytes fits at the end; returns its free-list index. */
  #grow(size: number): number {
    const last = this.#free[this.#free.length - 1];
    const tailFree = last && last.offset + last.size === this.#end ? last.size : 0;
    const pages = Math.ceil((size - tailFree) / PAGE);
    const current = this.#memory.buffer.byteLength / PAGE;
    if (current + pages > MAX_PAGES) {
      throw new FeddipError('OUT_OF_MEMORY',
        `wasm heap: cannot allocate ${size} bytes (${this.bytesInUse} in use, ${this.bytesReserved} reserved, 4 GiB is the wasm32 limit); release tensors you no longer need`);
    }
    try {
      this.#memory.grow(pages);
    } catch (cause) {
      throw new FeddipError('OUT_OF_MEMORY', `wasm heap: the runtime refused to grow memory by ${pages * PAGE} bytes`, { cause });
    }
    const oldEnd = this.#end;
    this.#end = this.#memory.buffer.byteLength;
    this.#free.push({ offset: oldEnd, size: this.#end - oldEnd });
    const index = this.#free.length - 1;
    return this.#mergeAround(index);
  }

  /** Merges block i with its neighbours; returns the index of the merged block. */
  #mergeAround(i: number): number {
    const list = this.#free;
    const next = list[i + 1];
    if (next && list[i]!.offset + list[i]!.size === next.offset) {
      list[i]!.size += next.size;
      list.splice(i + 1, 1);
    }
    const prev = list[i - 1];
    if (prev && prev.offset + prev.size === list[i]!.offset) {
      prev.size += list[i]!.size;
      list.splice(i, 1);
      return i - 1;
    }
    return i;
  }
}
