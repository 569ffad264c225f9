// The sparse path of pruned layers: which prunable weights compute from their CSR form instead of
// the dense M⊙W, and the device tensors of that form.
//
// Per layer the choice is made from the mask's sparsity against a crossover per layer type: below
// it the dense SIMD GEMM wins (it streams contiguous memory at near peak; the sparse kernels pay
// an index load and a broadcast per kept weight), above it the sparse kernels win because their
// work is proportional to the kept weights. Only the forward pass and the input gradient take the
// sparse path; the weight gradient stays dense, since error feedback needs it for every weight.
import type { Backend } from '../backend/backend.ts';
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { CsrMatrix } from '../kernels/sparse.ts';
import { checkCsrStructure, type CsrStructure } from '../sparse/csr.ts';

export type SparseLayerKind = 'linear' | 'conv';

/** Sparsity (fraction of pruned weights, in [0, 1]) at and above which a layer type runs sparse. */
export interface SparseCrossover {
  linear: number;
  conv: number;
}

/**
 * From `node scripts/bench.mjs --only sparse` (entries `crossover_conv`, `crossover_linear`: per
 * layer shape of LeNet-5 and AlexNet-CIFAR at their training batch sizes, the sparse forward +
 * input gradient against the dense ones, wasm, 1 thread) on the project's 2-core AMD EPYC machine,
 * which other jobs kept loaded: across four runs the measured crossover moved between 0.1 and 0.8
 * for conv and between 0.3 and 0.5 for linear layers, single noisy samples deciding it (the last,
 * full run: conv 0.5, linear 0.4), while from 0.5 on the sparse passes won on every shape in
 * almost every sample. 0.5 is that common point. Two later runs on a quiet machine both measured conv
 * 0.3, linear 0.4 (speed-ups there of 1.04–1.45× on the isolated layers); with those values as the
 * defaults, the whole FedDIP round (5 clients × 5 epochs, LeNet-5, global masks) changed by −7 % at
 * sparsity 0.5 and +3 % at 0.8, i.e. within noise, because the weight gradient stays dense either
 * way: so 0.5 stays, and avoids the CSR copies below it. (Memory: a layer on the sparse path holds
 * the CSR of W and of Wᵀ, 16 bytes per kept weight, besides its dense tensors.)
 * Since LeNet-5's conv2 runs its dense passes on lanes (assembly/conv-lanes.ts, 1.4–1.6× faster),
 * its own crossover moved to 0.7 (sparse/dense 0.68–0.82× at 0.5, 0.93–0.94× at 0.6, 1.21–1.24×
 * at 0.7; three runs), while AlexNet-CIFAR's convolutions still cross at 0.4–0.5 and LeNet's conv1
 * at 0.1. One number per layer type cannot suit both; 0.5 stays, which costs the LeNet-5 FedDIP
 * step 11–17 % at sparsity 0.5 (14,883–15,914 samples/s sparse against 17,864–17,941 dense at
 * b64) and nothing from 0.7 on.
 */
export const DEFAULT_SPARSE_CROSSOVER: Readonly<SparseCrossover> = Object.freeze({ linear: 0.5, conv: 0.5 });

/** How one prunable weight is computed with, as Network.paths() reports it. */
export interface LayerPath {
  /** The weight's parameter name, e.g. 'features.0.weight'. */
  name: string;
  kind: SparseLayerKind;
  /** Kept weights under the current mask. */
  nonzero: number;
  size: number;
  /** 1 − nonzero/size. */
  sparsity: number;
  path: 'sparse' | 'dense';
}

/** A weight's sparse form on a backend: its CSR, and the CSR of its transpose for the input gradient. */
export interface SparseWeights {
  kind: SparseLayerKind;
  /** [out × rest]: rows are output units / channels. */
  w: CsrMatrix;
  /** [rest × out], for the input gradient; absent in a model compiled for inference (SparseModel). */
  wt?: CsrMatrix;
}

/** Validates a crossover table (user input); returns it frozen. */
export function checkCrossover(value: unknown): Readonly<SparseCrossover> {
  const c = value as Partial<SparseCrossover> | null;
  if (!c || typeof c !== 'object') throw new InvalidArgumentError(`sparse crossover must be {linear, conv} sparsities in [0, 1], got ${JSON.stringify(value)}`);
  for (const kind of ['linear', 'conv'] as const) {
    const v = c[kind];
    // > 1 is allowed on purpose: it keeps a layer type dense whatever its sparsity.
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
      throw new InvalidArgumentError(`sparse crossover '${kind}' must be a sparsity ≥ 0 (use a value above 1 to keep ${kind} layers dense), got ${String(v)}`);
    }
  }
  return Object.freeze({ linear: c.linear!, conv: c.conv! });
}

/**
 * The crossover a `sparseCrossover` option asks for: missing layer types take
 * DEFAULT_SPARSE_CROSSOVER; `false` gives null, which keeps every layer dense.
 */
export function resolveCrossover(option: Partial<SparseCrossover> | false | undefined): Readonly<SparseCrossover> | null {
  return option === false ? null : checkCrossover({ ...DEFAULT_SPARSE_CROSSOVER, ...(option ?? {}) });
}

/** The path a prunable weight of this type computes on at this sparsity (null crossover: dense). */
export function pathFor(crossover: Readonly<SparseCrossover> | null, kind: SparseLayerKind, sparsity: number): 'sparse' | 'dense' {
  return crossover !== null && sparsity >= crossover[kind] ? 'sparse' : 'dense';
}

/** The layer type a prunable weight belongs to, from its rank: [out, in] or [O, C, kh, kw]. */
export function sparseKindOf(shape: readonly number[]): SparseLayerKind | undefined {
  if (shape.length === 2) return 'linear';
  if (shape.length === 4) return 'conv';
  return undefined;
}

/**
 * Uploads a CSR structure (validated here, once, since the kernels trust it) and optionally its
 * values; without values they start at zero, to be gathered from W with csrGather.
 */
export function uploadCsr(backend: Backend, s: CsrStructure, values?: Float32Array): CsrMatrix {
  checkCsrStructure('uploadCsr', s);
  if (values && values.length !== s.colIdx.length) {
    throw new InvalidArgumentError(`uploadCsr: ${values.length} values for ${s.colIdx.length} stored entries`);
  }
  const made: Tensor[] = [];
  try {
    const rowPtr = backend.tensor('i32', [s.rows + 1], s.rowPtr);
    made.push(rowPtr);
    const colIdx = backend.tensor('i32', [s.colIdx.length], s.colIdx);
    made.push(colIdx);
    const v = backend.tensor('f32', [s.colIdx.length], values);
    made.push(v);
    return { rows: s.rows, cols: s.cols, rowPtr, colIdx, values: v };
  } catch (error) {
    for (const t of made) backend.release(t);
    throw error;
  }
}

export function releaseCsr(backend: Backend, m: CsrMatrix): void {
  backend.release(m.rowPtr);
  backend.release(m.colIdx);
  backend.release(m.values);
}
