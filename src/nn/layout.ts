// All parameters of a model live in one flat Float32Array; this table says where each tensor sits.
// Pruning, masks, aggregation and the wire codec all work on that flat vector and this table.
//
// Batch-norm running statistics are *buffers*: state that is not trained, never pruned and not a
// parameter in the paper's counts, but that must travel with the model, because FedAvg-style
// aggregation averages it with the weights and an evaluated model needs it. They therefore sit in
// the same flat vector, in PyTorch's state_dict order (so a client's whole model is one vector and
// every codec, checkpoint and average handles them with no special path), and are told apart by
// their role: `trainable` is false for them, `size` counts them and `parameterCount` does not.
// The optimiser, the penalty and the masks skip them. torch's `num_batches_tracked` is left out:
// it only matters for momentum = None (cumulative averaging), which no model here uses.
import { InvalidArgumentError } from '../errors.ts';

export type ParamRole = 'weight' | 'bias' | 'bn-weight' | 'bn-bias' | 'running-mean' | 'running-var';

/** Roles of buffers: state that travels with the model but is not trained (BN running statistics). */
export const BUFFER_ROLES: ReadonlySet<ParamRole> = new Set<ParamRole>(['running-mean', 'running-var']);

export interface ParamSpec {
  /** PyTorch state_dict name, e.g. "features.0.weight". */
  name: string;
  shape: number[];
  /** In the prunable set P: conv and linear weights (spec §1). Never true for a buffer. */
  prunable: boolean;
  /** What the tensor is; buffer roles (BUFFER_ROLES) make it non-trainable. */
  role: ParamRole;
}

/** What a layout needs to know of a tensor: its name, shape and whether it may be pruned. */
export interface SegmentSpec {
  name: string;
  shape: readonly number[];
  prunable: boolean;
}

/** Where a tensor sits in the flat vector. */
export interface Placement {
  /** First element in the flat vector. */
  readonly offset: number;
  /** Number of elements (the product of `shape`). */
  readonly size: number;
}

/** One tensor's slice of a flat vector (the shape masks, accounting and the codec work with). */
export type Segment = Readonly<SegmentSpec> & Placement;

/** One parameter's (or buffer's) slice of a model's flat vector. */
export type ParamSegment = Readonly<ParamSpec> & Placement & {
  /** False for buffers: the optimiser and the penalty leave the segment alone. */
  readonly trainable: boolean;
};

/** Lays tensors out back to back in the order given: the one place offsets are computed. */
export function layoutSegments<S extends SegmentSpec>(specs: readonly S[]): { segments: Array<Readonly<S> & Placement>; total: number } {
  let offset = 0;
  const segments = specs.map((s) => {
    if (!Array.isArray(s.shape) || s.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new InvalidArgumentError(`layout: '${s.name}' has shape ${JSON.stringify(s.shape)}; dimensions must be non-negative integers`);
    }
    const size = s.shape.reduce((a, b) => a * b, 1);
    const segment = Object.freeze({ ...s, shape: Object.freeze([...s.shape]), offset, size });
    offset += size;
    return segment as Readonly<S> & Placement;
  });
  return { segments, total: offset };
}

export class ParamLayout {
  readonly segments: readonly ParamSegment[];
  /** Total number of entries of the flat vector: trainable parameters and buffers. */
  readonly size: number;
  /** Entries in trainable segments: the parameter count papers quote (buffers excluded). */
  readonly parameterCount: number;
  /** Entries in prunable segments (|P|). */
  readonly prunableSize: number;
  readonly #byName = new Map<string, ParamSegment>();

  constructor(specs: readonly ParamSpec[]) {
    for (const s of specs) {
      if (BUFFER_ROLES.has(s.role) && s.prunable) {
        throw new InvalidArgumentError(`layout: '${s.name}' is a buffer (${s.role}) and cannot be prunable`);
      }
    }
    const { segments: placed, total } = layoutSegments(specs);
    const segments = placed.map((s) => Object.freeze({ ...s, trainable: !BUFFER_ROLES.has(s.role) }));
    for (const segment of segments) {
      if (this.#byName.has(segment.name)) throw new InvalidArgumentError(`layout: duplicate parameter name '${segment.name}'`);
      this.#byName.set(segment.name, segment);
    }
    this.segments = Object.freeze(segments);
    this.size = total;
    this.parameterCount = segments.filter((s) => s.trainable).reduce((n, s) => n + s.size, 0);
    this.prunableSize = segments.filter((s) => s.prunable).reduce((n, s) => n + s.size, 0);
  }

  get prunable(): ParamSegment[] {
    return this.segments.filter((s) => s.prunable);
  }

  /** Segments the optimiser updates (everything but buffers). */
  get trainable(): ParamSegment[] {
    return this.segments.filter((s) => s.trainable);
  }

  /** Non-trainable state carried in the vector (BN running statistics). */
  get buffers(): ParamSegment[] {
    return this.segments.filter((s) => !s.trainable);
  }

  segment(name: string): ParamSegment {
    const s = this.#byName.get(name);
    if (!s) throw new InvalidArgumentError(`layout: no parameter named '${name}' (have ${[...this.#byName.keys()].join(', ')})`);
    return s;
  }

  /** The part of a flat vector that holds one parameter (a view, not a copy). */
  view(flat: Float32Array, name: string): Float32Array {
    this.checkVector(flat);
    const s = this.segment(name);
    return flat.subarray(s.offset, s.offset + s.size);
  }

  checkVector(flat: ArrayLike<number>, what = 'parameter vector'): void {
    if (flat.length !== this.size) {
      throw new InvalidArgumentError(`${what} has ${flat.length} entries but the model has ${this.size}`);
    }
  }

  /**
   * A short fingerprint of names, shapes, prunability and trainability (FNV-1a, 32 bits, hex):
   * messages carry it so an update made for another model is rejected instead of being added to the
   * wrong weights.
   */
  hash(): string {
    let h = 0x811c9dc5;
    const kind = (s: ParamSegment) => (!s.trainable ? 'b' : s.prunable ? 'p' : 'd');
    const text = this.segments.map((s) => `${s.name}:${s.shape.join('x')}:${kind(s)}`).join(';');
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h.toString(16).padStart(8, '0');
  }
}
