// Applying a pruning mask: y = w ⊙ mask, with the mask as f32 0/1 (tensors have no byte dtype).
// A product, not a select, so that results match PyTorch's w * mask bit for bit, signed zeros and
// NaN propagation included.
import type { Tensor } from '../backend/tensor.ts';
import { expectDistinct, expectDType, expectSameSize } from './checks.ts';
import type { FloatArray } from './reference-types.ts';

export interface ApplyMaskArgs {
  w: Tensor;
  /** 1 keeps a weight, 0 prunes it; same number of elements as w. */
  mask: Tensor;
  /** Output; must not be w or mask (the dense weights stay intact for error feedback). */
  y: Tensor;
}

/** Validates the arguments and returns the element count. */
export function checkApplyMask(a: ApplyMaskArgs): number {
  const k = 'applyMask';
  expectDType(k, 'w', a.w, 'f32');
  expectDType(k, 'mask', a.mask, 'f32');
  expectDType(k, 'y', a.y, 'f32');
  expectSameSize(k, ['w', 'mask'], a.w, a.mask);
  expectSameSize(k, ['w', 'y'], a.w, a.y);
  expectDistinct(k, { w: a.w, mask: a.mask, y: a.y });
  return a.w.size;
}

export function applyMaskRef(w: FloatArray, mask: FloatArray, y: FloatArray): void {
  for (let i = 0; i < w.length; i++) y[i] = w[i]! * mask[i]!;
}
