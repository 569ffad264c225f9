// All parameters of a model live in one flat Float32Array; this table says where each tensor sits.
// Pruning, masks, aggregation and the wire codec all work on that flat vector and this table.
import { InvalidArgumentError } from '../errors.ts';

export type ParamRole = 'weight' | 'bias' | 'bn-weight' | 'bn-bias' | 'running-mean' | 'running-var';

export interface ParamSpec {
  /** PyTorch state_dict name, e.g. "features.0.weight". */
  name: string;
  shape: number[];
  /** In the prunable set P: conv and linear weights (spec §1). */
  prunable: boolean;
  role: ParamRole;
}

export interface Segment extends ParamSpec {
  offset: number;
  size: number;
}

export class ParamLayout {
  readonly segments: readonly Segment[];
  /** Total number of entries. */
  readonly size: number;
  /** Entries in prunable segments (|P|). */
  readonly prunableSize: number;
  readonly #byName: Map<string, Segment>;

  constructor(specs: readonly ParamSpec[]) {
    let offset = 0;
    const segments: Segment[] = [];
    this.#byName = new Map();
    for (const spec of specs) {
      if (this.#byName.has(spec.name)) throw new InvalidArgumentError(`layout: duplicate parameter name '${spec.name}'`);
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const segment = Object.freeze({ ...spec, shape: [...spec.shape], offset, size });
      segments.push(segment);
      this.#byName.set(spec.name, segment);
      offset += size;
    }
    this.segments = Object.freeze(segments);
    this.size = offset;
    this.prunableSize = segments.filter((s) => s.prunable).reduce((n, s) => n + s.size, 0);
  }

  get prunable(): Segment[] {
    return this.segments.filter((s) => s.prunable);
  }

  segment(name: string): Segment {
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
   * A short fingerprint of names, shapes and prunability (FNV-1a, 32 bits, hex): messages carry it
   * so an update made for another model is rejected instead of being added to the wrong weights.
   */
  hash(): string {
    let h = 0x811c9dc5;
    const text = this.segments.map((s) => `${s.name}:${s.shape.join('x')}:${s.prunable ? 'p' : 'd'}`).join(';');
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h.toString(16).padStart(8, '0');
  }
}
