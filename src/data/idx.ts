// IDX files, the format of MNIST and Fashion-MNIST: a 4-byte magic (0, 0, element type, number
// of dimensions), one big-endian uint32 per dimension, then the elements in row-major order.
// Files may be gzipped, as they are distributed; the gzip magic tells.
import { type Dataset, bytesToUnit } from './dataset.ts';
import { maybeGunzip } from './bytes.ts';
import { DataError } from './errors.ts';

/** A u8 IDX array: `data` is a view into the file's bytes (no copy). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte', 0x09: 'signed byte', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64',
};

const hex = (bytes: Uint8Array, n: number) => Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');

/** A guess at what a non-IDX file is, for the error message. */
function whatItLooksLike(bytes: Uint8Array): string {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return ' — it is gzip data: decompress it first (readIdx does)';
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 64)).trimStart().toLowerCase();
  if (head.startsWith('<!doctype') || head.startsWith('<html') || head.startsWith('<?xml')) {
    return ' — it looks like an HTML/XML page, perhaps an error page saved in place of the file';
  }
  return '';
}

/** Parses an uncompressed IDX file of unsigned bytes, checking every header field against its length. */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  if (bytes.length < 4) throw new DataError(source, `too short for an IDX header: ${bytes.length} bytes`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(source, `not an IDX file: the magic number must start with two zero bytes, got ${hex(bytes, 4)}${whatItLooksLike(bytes)}`);
  }
  const type = bytes[2]!;
  const ndim = bytes[3]!;
  if (type !== 0x08) {
    const known = TYPE_NAMES[type];
    throw new DataError(source, known
      ? `IDX element type 0x${type.toString(16).padStart(2, '0')} (${known}) is not supported: feddip reads unsigned-byte IDX files (type 0x08)`
      : `not an IDX file: unknown element type 0x${type.toString(16).padStart(2, '0')} in the magic number ${hex(bytes, 4)}`);
  }
  if (ndim === 0) throw new DataError(source, 'IDX header declares 0 dimensions');
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new DataError(source, `truncated IDX header: ${ndim} dimensions need ${headerBytes} header bytes, the file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let elements = 1;
  for (let d = 0; d < ndim; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    dims.push(size);
    // Stop multiplying once past the file size: the product of four uint32s can exceed 2^53.
    elements = elements > bytes.length ? elements : elements * size;
  }
  const available = bytes.length - headerBytes;
  const shape = dims.join('×');
  if (elements > available) {
    throw new DataError(source, `truncated IDX data: the header declares ${shape} = ${elements > bytes.length ? 'more than the file' : elements} bytes, only ${available} follow the header`);
  }
  if (elements < available) {
    throw new DataError(source, `${available - elements} unexpected bytes after the ${shape} IDX data`);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** parseIdx after gunzipping, when the bytes are gzip. */
export async function readIdx(bytes: Uint8Array, source = 'IDX data'): Promise<IdxArray> {
  return parseIdx(await maybeGunzip(bytes, source), source);
}

/** Checks that an IDX array holds images (3 dimensions: count, rows, columns). */
export function idxImages(idx: IdxArray, source = 'IDX images'): { count: number; rows: number; cols: number; pixels: Uint8Array } {
  if (idx.dims.length !== 3) {
    throw new DataError(source, `expected an IDX image file (magic 00 00 08 03: count × rows × columns), got ${idx.dims.length} dimension(s) ${idx.dims.join('×')}${idx.dims.length === 1 ? ' — is this a label file?' : ''}`);
  }
  const [count, rows, cols] = idx.dims as [number, number, number];
  if (rows === 0 || cols === 0) throw new DataError(source, `images of ${rows}×${cols} pixels are empty`);
  return { count, rows, cols, pixels: idx.data };
}

/** Checks that an IDX array holds labels (1 dimension). */
export function idxLabels(idx: IdxArray, source = 'IDX labels'): { count: number; labels: Uint8Array } {
  if (idx.dims.length !== 1) {
    throw new DataError(source, `expected an IDX label file (magic 00 00 08 01: one dimension), got ${idx.dims.length} dimensions ${idx.dims.join('×')}${idx.dims.length === 3 ? ' — is this an image file?' : ''}`);
  }
  return { count: idx.dims[0]!, labels: idx.data };
}

export interface IdxDatasetOptions {
  name: string;
  classes: number;
  /** Names for messages (file paths); default 'images' and 'labels'. */
  imagesSource?: string;
  labelsSource?: string;
}

/** A data set from an image file and a label file (raw or gzip bytes), pixels scaled to [0, 1]. */
export async function idxDataset(imageBytes: Uint8Array, labelBytes: Uint8Array, options: IdxDatasetOptions): Promise<Dataset> {
  const imagesSource = options.imagesSource ?? 'images';
  const labelsSource = options.labelsSource ?? 'labels';
  const img = idxImages(await readIdx(imageBytes, imagesSource), imagesSource);
  const lab = idxLabels(await readIdx(labelBytes, labelsSource), labelsSource);
  if (img.count !== lab.count) {
    throw new DataError(labelsSource, `${lab.count} labels for ${img.count} images in ${imagesSource}: the files do not belong together`);
  }
  const labels = new Int32Array(lab.count);
  for (let i = 0; i < lab.count; i++) {
    const y = lab.labels[i]!;
    if (y >= options.classes) throw new DataError(labelsSource, `label ${i} is ${y}, but the data set has ${options.classes} classes`);
    labels[i] = y;
  }
  const images = new Float32Array(img.pixels.length);
  bytesToUnit(img.pixels, images);
  return { name: options.name, images, labels, shape: [1, img.rows, img.cols], classes: options.classes, size: lab.count };
}
