// The CIFAR binary formats: fixed-size records with no header. CIFAR-10: 1 label byte, then 3072
// pixel bytes (1024 red, 1024 green, 1024 blue, each 32×32 row-major, i.e. already C×H×W).
// CIFAR-100: a coarse (20 superclasses) and a fine (100 classes) label byte, then the same pixels.
import { type Dataset, bytesToUnit } from './dataset.ts';
import { DataError } from './errors.ts';
import { InvalidArgumentError } from '../errors.ts';

export type CifarVariant = 'cifar10' | 'cifar100';
export type CifarLabel = 'fine' | 'coarse';

export const CIFAR_SHAPE = [3, 32, 32] as const;
const PIXELS = 3 * 32 * 32;

/** Bytes per record: label byte(s) plus 3072 pixels. */
export function cifarRecordBytes(variant: CifarVariant): number {
  return (variant === 'cifar10' ? 1 : 2) + PIXELS;
}

/** Number of classes for a variant and label kind (CIFAR-10 has only one kind). */
export function cifarClasses(variant: CifarVariant, label: CifarLabel = 'fine'): number {
  return variant === 'cifar10' ? 10 : label === 'coarse' ? 20 : 100;
}

export interface CifarFile {
  bytes: Uint8Array;
  /** For messages: the file's path or name. */
  source: string;
}

export interface CifarOptions {
  variant: CifarVariant;
  /** CIFAR-100 only: which label byte to use (default 'fine'). */
  label?: CifarLabel;
  /** The data set's name (default: the variant). */
  name?: string;
}

/** The number of records in a file, after checking that it is a whole number of them. */
export function cifarRecordCount(bytes: Uint8Array, variant: CifarVariant, source: string): number {
  const size = cifarRecordBytes(variant);
  if (bytes.length === 0) throw new DataError(source, 'empty file');
  if (bytes.length % size !== 0) {
    const whole = Math.floor(bytes.length / size);
    throw new DataError(source, `${bytes.length} bytes is not a whole number of ${variant === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100'} records `
      + `(${size} bytes each): ${whole} records and ${bytes.length - whole * size} bytes over — truncated, or the other CIFAR variant?`);
  }
  return bytes.length / size;
}

/**
 * Reads one or more CIFAR binary files (e.g. data_batch_1…5.bin) into one data set, in file order,
 * pixels scaled to [0, 1]. Every label byte is range-checked, CIFAR-100's unused one included, so a
 * CIFAR-10 file read as CIFAR-100 (or the reverse) fails instead of yielding garbage.
 */
export function parseCifar(files: CifarFile | readonly CifarFile[], options: CifarOptions): Dataset {
  const { variant, label = 'fine' } = options;
  if (variant !== 'cifar10' && variant !== 'cifar100') {
    throw new InvalidArgumentError(`parseCifar: variant must be 'cifar10' or 'cifar100', got '${String(variant)}'`);
  }
  if (label !== 'fine' && label !== 'coarse') throw new InvalidArgumentError(`parseCifar: label must be 'fine' or 'coarse', got '${String(label)}'`);
  const list = Array.isArray(files) ? files as readonly CifarFile[] : [files as CifarFile];
  if (list.length === 0) throw new InvalidArgumentError('parseCifar: no files given');
  const counts = list.map((f) => cifarRecordCount(f.bytes, variant, f.source));
  const total = counts.reduce((a, b) => a + b, 0);
  const recordBytes = cifarRecordBytes(variant);
  const classes = cifarClasses(variant, label);
  const images = new Float32Array(total * PIXELS);
  const labels = new Int32Array(total);
  let n = 0;
  for (const [f, file] of list.entries()) {
    const bytes = file.bytes;
    for (let r = 0; r < counts[f]!; r++, n++) {
      const at = r * recordBytes;
      let y: number;
      if (variant === 'cifar10') {
        y = bytes[at]!;
        if (y >= 10) throw new DataError(file.source, `record ${r}: label ${y} is not a CIFAR-10 class (0–9)`);
      } else {
        const coarse = bytes[at]!;
        const fine = bytes[at + 1]!;
        if (coarse >= 20) throw new DataError(file.source, `record ${r}: coarse label ${coarse} is not a CIFAR-100 superclass (0–19)`);
        if (fine >= 100) throw new DataError(file.source, `record ${r}: fine label ${fine} is not a CIFAR-100 class (0–99)`);
        y = label === 'fine' ? fine : coarse;
      }
      labels[n] = y;
      bytesToUnit(bytes.subarray(at + recordBytes - PIXELS, at + recordBytes), images, n * PIXELS);
    }
  }
  const name = options.name ?? (variant === 'cifar100' && label === 'coarse' ? 'cifar100-coarse' : variant);
  return { name, images, labels, shape: [...CIFAR_SHAPE], classes, size: total };
}
