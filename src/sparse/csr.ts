// Compressed sparse row structure of a pruned weight, built on the host from its mask. A weight
// [out, …] is the matrix [out × rest] (a conv weight [O, C, kh, kw] is [O × C·kh·kw], the way
// im2col unfolds it). The structure depends only on the mask, which FedDIP fixes for a whole round
// of local training, so it is built once per mask; the values are gathered from W on the device.
import { InvalidArgumentError } from '../errors.ts';

export interface CsrStructure {
  readonly rows: number;
  readonly cols: number;
  /** [rows + 1]: 0, then the running count of kept entries after each row. */
  readonly rowPtr: Int32Array;
  /** [nnz]: the column of each kept entry, ascending within its row. */
  readonly colIdx: Int32Array;
}

function checkDims(fn: string, rows: number, cols: number, length: number): void {
  if (!Number.isSafeInteger(rows) || rows < 0 || !Number.isSafeInteger(cols) || cols < 0) {
    throw new InvalidArgumentError(`${fn}: rows and cols must be non-negative integers, got ${rows}×${cols}`);
  }
  if (rows * cols !== length) throw new InvalidArgumentError(`${fn}: a ${rows}×${cols} matrix has ${rows * cols} entries, got ${length}`);
  if (rows * cols > 2 ** 31 - 1) throw new InvalidArgumentError(`${fn}: ${rows}×${cols} entries do not fit 32-bit indices`);
}

/** The structure of the non-zero entries of a row-major [rows × cols] mask (or of any matrix). */
export function csrFromMask(mask: ArrayLike<number>, rows: number, cols: number): CsrStructure {
  checkDims('csrFromMask', rows, cols, mask.length);
  const rowPtr = new Int32Array(rows + 1);
  let nnz = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) nnz++;
  const colIdx = new Int32Array(nnz);
  let at = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) if (mask[base + c] !== 0) colIdx[at++] = c;
    rowPtr[r + 1] = at;
  }
  return { rows, cols, rowPtr, colIdx };
}

/** The structure of the transpose (a counting sort by column; rows stay ascending within each). */
export function csrTranspose(s: CsrStructure): CsrStructure {
  const rowPtr = new Int32Array(s.cols + 1);
  for (let i = 0; i < s.colIdx.length; i++) rowPtr[s.colIdx[i]! + 1]!++;
  for (let c = 0; c < s.cols; c++) rowPtr[c + 1]! += rowPtr[c]!;
  const next = rowPtr.slice(0, s.cols);
  const colIdx = new Int32Array(s.colIdx.length);
  for (let r = 0; r < s.rows; r++) {
    for (let i = s.rowPtr[r]!; i < s.rowPtr[r + 1]!; i++) colIdx[next[s.colIdx[i]!]!++] = r;
  }
  return { rows: s.cols, cols: s.rows, rowPtr, colIdx };
}

/** The kept entries of a dense row-major matrix, in the structure's order. */
export function csrGatherValues(s: CsrStructure, dense: ArrayLike<number>): Float32Array {
  checkDims('csrGatherValues', s.rows, s.cols, dense.length);
  const values = new Float32Array(s.colIdx.length);
  for (let r = 0; r < s.rows; r++) {
    for (let i = s.rowPtr[r]!; i < s.rowPtr[r + 1]!; i++) values[i] = dense[r * s.cols + s.colIdx[i]!]!;
  }
  return values;
}

/** Throws unless the structure is well formed (what the device kernels rely on without checking). */
export function checkCsrStructure(fn: string, s: CsrStructure): void {
  const { rows, cols, rowPtr, colIdx } = s;
  if (!(rowPtr instanceof Int32Array) || !(colIdx instanceof Int32Array)) throw new InvalidArgumentError(`${fn}: rowPtr and colIdx must be Int32Arrays`);
  if (rowPtr.length !== rows + 1 || rowPtr[0] !== 0 || rowPtr[rows] !== colIdx.length) {
    throw new InvalidArgumentError(`${fn}: rowPtr must hold rows + 1 = ${rows + 1} offsets from 0 to nnz = ${colIdx.length}`);
  }
  for (let r = 0; r < rows; r++) {
    let last = -1;
    for (let i = rowPtr[r]!; i < rowPtr[r + 1]!; i++) {
      const c = colIdx[i]!;
      if (i < 0 || c <= last || c >= cols) {
        throw new InvalidArgumentError(`${fn}: row ${r} is malformed at entry ${i} (columns must ascend within [0, ${cols}); rowPtr must not decrease)`);
      }
      last = c;
    }
    if (rowPtr[r + 1]! < rowPtr[r]!) throw new InvalidArgumentError(`${fn}: rowPtr decreases at row ${r}`);
  }
}
