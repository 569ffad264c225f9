// Pruning masks over the flat parameter vector: 1 keeps a weight, 0 prunes it. Entries outside the
// prunable segments are always 1, so a mask can be applied to the whole vector at once.
import { InvalidArgumentError } from '../errors.ts';
import type { Rng } from '../util/rng.ts';
import { checkSegments, type Segment } from './layout.ts';
import { prunedCount } from './round.ts';

// ---- selection ----
//
// Magnitude pruning needs the k-th smallest |w|, not a sorted order, so it is found by a two-level
// radix select over the float bit patterns: with the sign bit cleared, the IEEE-754 bits of a float
// read as a uint32 order exactly like its magnitude (NaN above +∞, as torch.topk treats NaN as the
// largest value). Level one histograms the top 16 of the 31 key bits, level two the low 15 bits of
// the one bucket holding the k-th key. Three linear passes in all, O(n) whatever the data, and no
// copy of the weights.

const HIGH_SHIFT = 15;
const HIGH_BINS = 1 << 16;
const LOW_MASK = (1 << HIGH_SHIFT) - 1;
const ABS = 0x7fffffff;

type Range = readonly [start: number, end: number];

function bitsOf(fn: string, values: Float32Array): Uint32Array {
  if (!(values instanceof Float32Array)) {
    throw new InvalidArgumentError(`${fn}: values must be a Float32Array (the flat parameter vector)`);
  }
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

/**
 * Writes 0 at the k entries of smallest |value| within `ranges` (taken in order as one sequence)
 * and 1 at the others. Among entries equal to the cut-off magnitude, the ones met first (lower flat
 * index) are kept, so the result does not depend on anything but the data and the order.
 */
function pruneSmallest(bits: Uint32Array, ranges: readonly Range[], k: number, mask: Uint8Array, hist: Uint32Array): void {
  let n = 0;
  for (const [a, b] of ranges) n += b - a;
  if (k <= 0 || k >= n) {
    const v = k <= 0 ? 1 : 0;
    for (const [a, b] of ranges) mask.fill(v, a, b);
    return;
  }

  hist.fill(0);
  for (const [a, b] of ranges) {
    for (let i = a; i < b; i++) hist[(bits[i]! & ABS) >>> HIGH_SHIFT]!++;
  }
  // `below` counts keys known to be smaller than the bucket under inspection.
  let below = 0;
  let high = 0;
  while (below + hist[high]! < k) below += hist[high++]!;

  hist.fill(0, 0, LOW_MASK + 1);
  for (const [a, b] of ranges) {
    for (let i = a; i < b; i++) {
      const key = bits[i]! & ABS;
      if (key >>> HIGH_SHIFT === high) hist[key & LOW_MASK]!++;
    }
  }
  let low = 0;
  while (below + hist[low]! < k) below += hist[low++]!;

  const cut = (high << HIGH_SHIFT) | low;
  // Keep what lies above the cut. Keys and cut are below 2^31, so the sign of cut − key says
  // key > cut without a branch (a data-dependent branch here mispredicts half the time).
  for (const [a, b] of ranges) {
    for (let i = a; i < b; i++) mask[i] = (cut - (bits[i]! & ABS)) >>> 31;
  }
  // `below` keys are smaller than the cut and k − below of the hist[low] keys equal to it are
  // pruned; the rest of those ties, the first ones in flat order, are kept.
  let keepTies = hist[low]! - (k - below);
  for (const [a, b] of ranges) {
    for (let i = a; i < b && keepTies > 0; i++) {
      if ((bits[i]! & ABS) === cut) { mask[i] = 1; keepTies--; }
    }
  }
}

function outputMask(fn: string, out: Uint8Array | undefined, length: number): Uint8Array {
  if (out === undefined) return new Uint8Array(length).fill(1);
  if (!(out instanceof Uint8Array) || out.length !== length) {
    throw new InvalidArgumentError(`${fn}: out must be a Uint8Array of ${length} elements, got ${out instanceof Uint8Array ? `${out.length} elements` : String(out)}`);
  }
  return out.fill(1);
}

function checkSparsity(fn: string, s: number): void {
  if (!(typeof s === 'number' && s >= 0 && s <= 1)) throw new InvalidArgumentError(`${fn}: sparsity must be a number in [0, 1], got ${String(s)}`);
}

/** One value per prunable segment, from a scalar or a list that must have exactly that many. */
function perLayer(fn: string, what: string, v: number | readonly number[], count: number): readonly number[] {
  if (typeof v === 'number') return new Array<number>(count).fill(v);
  if (!Array.isArray(v) || v.length !== count) {
    throw new InvalidArgumentError(`${fn}: ${what} must be a number or a list with one entry per prunable segment (${count}), got ${Array.isArray(v) ? `${v.length} entries` : String(v)}`);
  }
  return v;
}

// ---- magnitude masks ----

/**
 * Global magnitude mask at sparsity s: over all prunable segments together, exactly round(s·|P|)
 * (half to even, as PyTorch) entries of smallest |w| are 0; ties at the cut keep the lower flat
 * index. Entries outside prunable segments are 1. `out` (optional) is reused instead of allocating.
 */
export function globalMagnitudeMask(values: Float32Array, segments: readonly Segment[], sparsity: number, out?: Uint8Array): Uint8Array {
  const fn = 'globalMagnitudeMask';
  const bits = bitsOf(fn, values);
  checkSparsity(fn, sparsity);
  const ranges = checkSegments(fn, segments, values.length).filter((s) => s.prunable).map((s): Range => [s.offset, s.offset + s.size]);
  const mask = outputMask(fn, out, values.length);
  let n = 0;
  for (const [a, b] of ranges) n += b - a;
  pruneSmallest(bits, ranges, prunedCount(sparsity, n), mask, new Uint32Array(HIGH_BINS));
  return mask;
}

/**
 * Layer-wise magnitude mask: each prunable segment pruned on its own at its sparsity (one number
 * for all, or one per prunable segment in flat order), round(s_l·n_l) zeros in each.
 */
export function layerwiseMagnitudeMask(values: Float32Array, segments: readonly Segment[], sparsity: number | readonly number[], out?: Uint8Array): Uint8Array {
  const fn = 'layerwiseMagnitudeMask';
  const bits = bitsOf(fn, values);
  const prunable = checkSegments(fn, segments, values.length).filter((s) => s.prunable);
  const sparsities = perLayer(fn, 'sparsity', sparsity, prunable.length);
  sparsities.forEach((s) => checkSparsity(fn, s));
  const mask = outputMask(fn, out, values.length);
  const hist = new Uint32Array(HIGH_BINS);
  prunable.forEach((seg, l) => {
    pruneSmallest(bits, [[seg.offset, seg.offset + seg.size]], prunedCount(sparsities[l]!, seg.size), mask, hist);
  });
  return mask;
}

/**
 * Keeps exactly keptCounts[l] largest-|w| entries in each prunable segment (flat order), e.g. the
 * per-layer ERK budgets, with the same tie rule as the other magnitude masks.
 */
export function keepLargestPerLayer(values: Float32Array, segments: readonly Segment[], keptCounts: readonly number[], out?: Uint8Array): Uint8Array {
  const fn = 'keepLargestPerLayer';
  const bits = bitsOf(fn, values);
  const prunable = checkSegments(fn, segments, values.length).filter((s) => s.prunable);
  const kept = perLayer(fn, 'keptCounts', keptCounts, prunable.length);
  const mask = outputMask(fn, out, values.length);
  const hist = new Uint32Array(HIGH_BINS);
  prunable.forEach((seg, l) => {
    const k = kept[l]!;
    if (!Number.isSafeInteger(k) || k < 0 || k > seg.size) {
      throw new InvalidArgumentError(`${fn}: keptCounts[${l}] for '${seg.name}' must be an integer in [0, ${seg.size}], got ${k}`);
    }
    pruneSmallest(bits, [[seg.offset, seg.offset + seg.size]], seg.size - k, mask, hist);
  });
  return mask;
}

// ---- drop and grow ----

/**
 * The k of `candidates` (flat indices, ascending) with the smallest or the largest |value|, in the
 * order the magnitude masks use: magnitude first, and among equal magnitudes the lower flat index
 * counts as the larger (it is the one a magnitude mask keeps). The k-th key is found by sorting a
 * copy of the candidates' keys (a native numeric sort of a Uint32Array), then one pass picks.
 */
function pickByMagnitude(bits: Uint32Array, candidates: Int32Array, k: number, which: 'smallest' | 'largest'): Int32Array {
  const c = candidates.length;
  if (k <= 0) return new Int32Array(0);
  if (k >= c) return candidates.slice();
  const keys = new Uint32Array(c);
  for (let j = 0; j < c; j++) keys[j] = bits[candidates[j]!]! & ABS;
  const sorted = keys.slice().sort();
  const out = new Int32Array(k);
  let n = 0;
  if (which === 'largest') {
    const cut = sorted[c - k]!;
    for (let j = 0; j < c; j++) if (keys[j]! > cut) out[n++] = candidates[j]!;
    for (let j = 0; j < c && n < k; j++) if (keys[j] === cut) out[n++] = candidates[j]!;
  } else {
    const cut = sorted[k - 1]!;
    for (let j = 0; j < c; j++) if (keys[j]! < cut) out[n++] = candidates[j]!;
    for (let j = c - 1; j >= 0 && n < k; j--) if (keys[j] === cut) out[n++] = candidates[j]!;
  }
  return out;
}

/**
 * One dynamic-sparse-training readjustment (RigL; FedDST's client step), per prunable segment:
 * drop d_l = ⌈fraction·a_l⌉ of its a_l active entries, those of smallest |weight|, then grow d_l
 * entries of largest |score| (e.g. the gradient) among those inactive after the drop — a just
 * dropped entry may be grown again, as in RigL. Every segment keeps exactly its active count, so
 * per-layer budgets (ERK) hold. Ties follow the magnitude masks (the lower flat index is kept, and
 * grown first). Returns a new mask; entries outside prunable segments are 1.
 */
export function dropAndGrow(weights: Float32Array, scores: Float32Array, mask: Uint8Array, segments: readonly Segment[], fraction: number): Uint8Array {
  const fn = 'dropAndGrow';
  const wBits = bitsOf(fn, weights);
  const sBits = bitsOf(fn, scores);
  if (scores.length !== weights.length || !(mask instanceof Uint8Array) || mask.length !== weights.length) {
    throw new InvalidArgumentError(`${fn}: weights (${weights.length}), scores (${scores.length}) and mask (${mask?.length}) must have the same length, and the mask must be a Uint8Array`);
  }
  if (!(typeof fraction === 'number' && fraction >= 0 && fraction <= 1)) throw new InvalidArgumentError(`${fn}: fraction must be in [0, 1], got ${String(fraction)}`);
  const prunable = checkSegments(fn, segments, weights.length).filter((s) => s.prunable);
  const out = new Uint8Array(weights.length).fill(1);
  for (const seg of prunable) {
    const end = seg.offset + seg.size;
    let active = 0;
    for (let i = seg.offset; i < end; i++) {
      out[i] = mask[i] ? 1 : 0;
      active += out[i]!;
    }
    const d = Math.min(active, Math.ceil(fraction * active));
    if (d === 0) continue;
    const on = new Int32Array(active);
    for (let i = seg.offset, j = 0; i < end; i++) if (out[i]) on[j++] = i;
    for (const i of pickByMagnitude(wBits, on, d, 'smallest')) out[i] = 0;
    const off = new Int32Array(seg.size - active + d);
    for (let i = seg.offset, j = 0; i < end; i++) if (!out[i]) off[j++] = i;
    for (const i of pickByMagnitude(sBits, off, d, 'largest')) out[i] = 1;
  }
  return out;
}

// ---- random masks ----

/**
 * A uniformly random mask keeping exactly floor(d_l·n_l) entries of each prunable segment, the
 * count FedDIP's reference takes (int(density·numel)), so with ERK densities it keeps exactly
 * erkDensities(...).keptCounts. `densities` is one number or one per prunable segment in flat
 * order; `length` is the flat vector's size (default: the end of the last segment).
 * Selection sampling (Knuth's algorithm S): one bounded draw per entry, no extra memory.
 */
export function randomMask(segments: readonly Segment[], densities: number | readonly number[], rng: Rng, length?: number): Uint8Array {
  const fn = 'randomMask';
  const end = segments.reduce((m, s) => Math.max(m, s.offset + s.size), 0);
  const total = length ?? end;
  if (!Number.isSafeInteger(total) || total < 0) throw new InvalidArgumentError(`${fn}: length must be a non-negative integer, got ${total}`);
  const prunable = checkSegments(fn, segments, total).filter((s) => s.prunable);
  const d = perLayer(fn, 'densities', densities, prunable.length);
  const mask = new Uint8Array(total).fill(1);
  prunable.forEach((seg, l) => {
    const density = d[l]!;
    if (!(typeof density === 'number' && density >= 0 && density <= 1)) {
      throw new InvalidArgumentError(`${fn}: density for '${seg.name}' must be in [0, 1], got ${String(density)}`);
    }
    let need = Math.floor(density * seg.size);
    for (let i = 0; i < seg.size; i++) {
      const left = seg.size - i;
      // Once the outcome is forced (nothing or everything left to keep) no more draws are spent.
      if (need === 0 || need === left) {
        mask.fill(need === 0 ? 0 : 1, seg.offset + i, seg.offset + seg.size);
        break;
      }
      // Keep entry i with probability need / left: every need-subset is equally likely.
      const keep = rng.int(left) < need;
      mask[seg.offset + i] = keep ? 1 : 0;
      if (keep) need--;
    }
  });
  return mask;
}

// ---- ERK ----

export interface ErkResult {
  /** Density (kept fraction) per layer, in the order of the shapes given. */
  layerDensities: number[];
  layerSparsities: number[];
  /** The scale that makes the kept total match the requested density. */
  epsilon: number;
  /** Layers that had to be made fully dense (their raw ERK density would exceed 1), ascending. */
  denseLayers: number[];
  /** Entries kept per layer: floor(density·numel), as FedDIP's init_masks. */
  keptCounts: number[];
}

/**
 * Erdős–Rényi-Kernel layer densities (RigL; FedDIP's Client.calculate_sparsities) for an overall
 * density: layer l gets ε·raw_l with raw_l = (Σ shape_l / Π shape_l)^powerScale, so small and thin
 * layers stay denser. While some layer's ε·raw_l exceeds 1, every layer with the largest raw_l is
 * made dense and ε is solved again over the rest. Unlike RigL, the dense layers' zero count
 * n·(1−d) is not floored (FedDIP does not). Sums run in layer order, as the reference's, so the
 * float64 results and the truncated kept counts agree with it exactly. If every layer ends up dense
 * (density 1), ε is the last one solved.
 */
export function erkDensities(shapes: readonly (readonly number[])[], density: number, powerScale = 1): ErkResult {
  const fn = 'erkDensities';
  if (!(typeof density === 'number' && density >= 0 && density <= 1)) throw new InvalidArgumentError(`${fn}: density must be in [0, 1], got ${String(density)}`);
  if (!Number.isFinite(powerScale) || powerScale < 0) throw new InvalidArgumentError(`${fn}: powerScale must be a finite number ≥ 0, got ${powerScale}`);
  const numel = shapes.map((shape, l) => {
    if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
      throw new InvalidArgumentError(`${fn}: shape ${l} is ${JSON.stringify(shape)}; each layer needs positive integer dimensions`);
    }
    return shape.reduce((a, b) => a * b, 1);
  });
  const raw = shapes.map((shape, l) => (shape.reduce((a, b) => a + b, 0) / numel[l]!) ** powerScale);
  const dense = new Set<number>();
  let epsilon = 0;
  for (;;) {
    let rhs = 0;
    let divisor = 0;
    let maxRaw = -Infinity;
    for (let l = 0; l < numel.length; l++) {
      if (dense.has(l)) {
        rhs -= numel[l]! * (1 - density);
      } else {
        rhs += numel[l]! * density;
        divisor += raw[l]! * numel[l]!;
        maxRaw = Math.max(maxRaw, raw[l]!);
      }
    }
    if (dense.size === numel.length) break;
    epsilon = rhs / divisor;
    if (!(maxRaw * epsilon > 1)) break;
    for (let l = 0; l < numel.length; l++) if (!dense.has(l) && raw[l] === maxRaw) dense.add(l);
  }
  const layerDensities = raw.map((r, l) => (dense.has(l) ? 1 : epsilon * r));
  return {
    layerDensities,
    layerSparsities: layerDensities.map((d) => 1 - d),
    epsilon,
    denseLayers: [...dense].sort((a, b) => a - b),
    keptCounts: layerDensities.map((d, l) => Math.floor(d * numel[l]!)),
  };
}

// ---- measurement ----

export interface SparsityReport {
  /** Fraction of prunable entries that are zero. */
  overPrunable: number;
  /** Fraction of all entries that are zero. */
  overAll: number;
  /** Non-zero prunable entries (the reference's nonzero_weights). */
  nonzero: number;
  /** Non-zero entries of the whole vector. */
  nonzeroAll: number;
  /** |P|, the number of prunable entries. */
  prunable: number;
  total: number;
}

/**
 * Sparsity as measured, never as scheduled: counts zeros of a mask or of the weights themselves
 * (any array; NaN counts as non-zero), over the prunable segments and over the whole vector.
 */
export function maskSparsity(mask: ArrayLike<number>, segments: readonly Segment[]): SparsityReport {
  const total = mask.length;
  const prunableSegs = checkSegments('maskSparsity', segments, total).filter((s) => s.prunable);
  let zeros = 0;
  for (let i = 0; i < total; i++) if (mask[i] === 0) zeros++;
  let prunable = 0;
  let prunableZeros = 0;
  for (const s of prunableSegs) {
    prunable += s.size;
    for (let i = s.offset, e = s.offset + s.size; i < e; i++) if (mask[i] === 0) prunableZeros++;
  }
  return {
    overPrunable: prunable ? prunableZeros / prunable : 0,
    overAll: total ? zeros / total : 0,
    nonzero: prunable - prunableZeros,
    nonzeroAll: total - zeros,
    prunable,
    total,
  };
}
