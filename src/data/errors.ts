// The data room's errors. Each names the file or URL it is about, so a user with four files and a
// failed load knows which one to replace.
import { FeddipError } from '../errors.ts';

/** Data that is not what it claims to be: a bad header, a truncated file, a checksum mismatch. */
export class DataError extends FeddipError {
  /** The file, URL or label of the bytes concerned. */
  readonly source: string;
  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super('DATA_ERROR', `${source}: ${message}`, options);
    this.name = 'DataError';
    this.source = source;
  }
}

/** A file's SHA-256 differs from the one recorded for it. */
export class ChecksumError extends DataError {
  readonly expected: string;
  readonly actual: string;
  constructor(source: string, expected: string, actual: string, hint: string) {
    super(source, `SHA-256 is ${actual}, expected ${expected}; ${hint}`);
    this.name = 'ChecksumError';
    this.expected = expected;
    this.actual = actual;
  }
}

/** A data set is in none of the places searched; the message lists them and how to get it. */
export class DatasetNotFoundError extends FeddipError {
  readonly dataset: string;
  /** Every folder looked in, with what was missing there. */
  readonly searched: readonly string[];
  constructor(dataset: string, searched: readonly string[], message: string) {
    super('DATA_ERROR', message);
    this.name = 'DatasetNotFoundError';
    this.dataset = dataset;
    this.searched = searched;
  }
}

/** A download that failed for good (after the retries that made sense). */
export class DownloadError extends FeddipError {
  readonly url: string;
  /** The last HTTP status, or null when no response came (network error, stall). */
  readonly status: number | null;
  readonly attempts: number;
  constructor(url: string, status: number | null, attempts: number, message: string, options?: { cause?: unknown }) {
    super('IO_ERROR', message, options);
    this.name = 'DownloadError';
    this.url = url;
    this.status = status;
    this.attempts = attempts;
  }
}
