// Checks on the segment tables the mask functions accept (any table, not only a model's layout).
// Segments and how they are laid out are defined once, with the model's parameter layout.
import { InvalidArgumentError } from '../errors.ts';
import type { Segment } from '../nn/layout.ts';
export { layoutSegments, type Segment, type SegmentSpec } from '../nn/layout.ts';

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
