// PyTorch's default initialisation, so that our runs start from the same distribution as the
// reference code: conv/linear weights kaiming_uniform(a = √5), which is U(±1/√fan_in), biases
// U(±1/√fan_in), batch-norm γ = 1 and β = 0, running mean 0 and variance 1.
import type { ParamLayout, ParamSegment } from './layout.ts';

/** fan_in of a weight [out, in, …kernel]: in × kernel area. */
export function fanIn(weightShape: readonly number[]): number {
  return weightShape.slice(1).reduce((a, b) => a * b, 1);
}

/** `uniform` returns numbers in [0, 1) (e.g. an Rng's uniform()). */
export function initParameters(layout: ParamLayout, uniform: () => number): Float32Array {
  const flat = new Float32Array(layout.size);
  const weights = new Map<string, ParamSegment>();
  for (const s of layout.segments) if (s.role === 'weight') weights.set(s.name.replace(/\.weight$/, ''), s);
  for (const s of layout.segments) {
    const out = flat.subarray(s.offset, s.offset + s.size);
    switch (s.role) {
      case 'weight':
      case 'bias': {
        const owner = s.role === 'weight' ? s : weights.get(s.name.replace(/\.bias$/, ''));
        const bound = 1 / Math.sqrt(owner ? fanIn(owner.shape) : s.size);
        for (let i = 0; i < out.length; i++) out[i] = (uniform() * 2 - 1) * bound;
        break;
      }
      case 'bn-weight':
      case 'running-var':
        out.fill(1);
        break;
      default:
        out.fill(0);
    }
  }
  return flat;
}
