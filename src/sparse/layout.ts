// All parameters of a model live in one flat Float32Array; a layout table says which slice is
// which tensor and whether it may be pruned. Masks, sparsity accounting, aggregation and the codec
// all work on that vector through this table.
import { InvalidArgumentError } from '../errors.ts';

/** One tensor's slice of the flat parameter vector. */
export interface Segment {
  readonly name: string;
  readonly shape: readonly number[];
  /** First element in the flat vector. */
  readonly offset: number;
  /** Number of elements (the product of `shape`). */
  readonly size: number;
  /** Conv and fully-connected weights are; biases and batch-norm parameters are not. */
  readonly prunable: boolean;
}

export interface SegmentSpec {
  name: string;
  shape: readonly number[];
  prunable: boolean;
}

/** Lays tensors out back to back in the order given. */
export function layoutSegments(specs: readonly SegmentSpec[]): { segments: Segment[]; total: number } {
  let offset = 0;
  const segments = specs.map((s) => {
    if (!Array.isArray(s.shape) || s.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new InvalidArgumentError(`layoutSegments: '${s.name}' has shape ${JSON.stringify(s.shape)}; dimensions must be non-negative integers`);
    }
    const size = s.shape.reduce((a, b) => a * b, 1);
    const seg: Segment = Object.freeze({ name: s.name, shape: Object.freeze([...s.shape]), offset, size, prunable: s.prunable });
    offset += size;
    return seg;
  });
  return { segments, total: offset };
}

/**
 * Validates a layout against a vector of `length` elements and returns its segments sorted by
 * offset (the flat order that tie-breaking and accounting use). Segments must lie inside the
 * vector and not overlap; gaps are allowed and count as not prunable.
 */
export function checkSegments(fn: string, segments: readonly Segment[], length: number): Segment[] {
  if (!Array.isArray(segments as unknown)) throw new InvalidArgumentError(`${fn}: segments must be an array of {name, shape, offset, size, prunable}`);
  for (const s of segments) {
    if (!Array.isArray(s?.shape as unknown)) throw new InvalidArgumentError(`${fn}: every segment needs {name, shape, offset, size, prunable}, got ${JSON.stringify(s)}`);
  }
  const sorted = [...segments].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const s of sorted) {
    if (!Number.isSafeInteger(s.offset) || !Number.isSafeInteger(s.size) || s.offset < 0 || s.size < 0) {
      throw new InvalidArgumentError(`${fn}: segment '${s.name}' has offset ${s.offset} and size ${s.size}; both must be non-negative integers`);
    }
    const product = s.shape.reduce((a, b) => a * b, 1);
    if (product !== s.size) {
      throw new InvalidArgumentError(`${fn}: segment '${s.name}' has shape [${s.shape.join(', ')}] (${product} elements) but size ${s.size}`);
    }
    if (s.offset < end) throw new InvalidArgumentError(`${fn}: segment '${s.name}' at offset ${s.offset} overlaps the segment before it (which ends at ${end})`);
    end = s.offset + s.size;
    if (end > length) {
      throw new InvalidArgumentError(`${fn}: segment '${s.name}' ends at ${end}, past the end of the vector (${length} elements)`);
    }
  }
  return sorted;
}

/** Total number of prunable elements |P|. */
export function prunableSize(segments: readonly Segment[]): number {
  let n = 0;
  for (const s of segments) if (s.prunable) n += s.size;
  return n;
}
