// What the paper does to each data set before and during training (spec §6): Fashion-MNIST and
// MNIST as [0, 1] pixels, nothing else; CIFAR normalised per channel and augmented by random
// crop (4-pixel padding) and horizontal flip. One place, so simulate, join and the page agree.
import { type AugmentOptions, type DataSplits, type ImageShape, channelStats, normalize } from './dataset.ts';

/** Augmentation a client applies to each training batch (in its own random stream). */
export interface Augmentation extends Required<Pick<AugmentOptions, 'padding' | 'flip'>> {
  shape: ImageShape;
  /** Per-channel value of the padded pixels: a black pixel after normalisation. */
  fill: number[];
}

export interface PreparedData extends DataSplits {
  /** The normalisation applied to both splits (statistics of the training split), if any. */
  normalization: { mean: number[]; std: number[] } | null;
  augmentation: Augmentation | null;
}

export type AugmentChoice = 'auto' | 'on' | 'off';

/**
 * Normalises colour data sets in place with the training split's per-channel statistics (for the
 * test split too: test data must not shape its own normalisation) and says how to augment them.
 * `augment: 'auto'` augments colour images only, as the paper does.
 */
export function prepareForTraining(splits: DataSplits, augment: AugmentChoice = 'auto'): PreparedData {
  const colour = splits.train.shape[0] === 3;
  let normalization: PreparedData['normalization'] = null;
  if (colour) {
    normalization = channelStats(splits.train);
    normalize(splits.train, normalization.mean, normalization.std);
    normalize(splits.test, normalization.mean, normalization.std);
  }
  const on = augment === 'on' || (augment === 'auto' && colour);
  const fill = normalization ? normalization.mean.map((m, c) => (0 - m) / normalization!.std[c]!) : new Array<number>(splits.train.shape[0]).fill(0);
  return { ...splits, normalization, augmentation: on ? { shape: splits.train.shape, padding: 4, flip: true, fill } : null };
}
