// Every error feddip throws on purpose is a FeddipError with a stable `code`, so callers can branch
// on the code and users read a message that says what was wrong and what to do about it.

export type FeddipErrorCode =
  | 'BACKEND_UNAVAILABLE'
  | 'INVALID_ARGUMENT'
  | 'SHAPE_MISMATCH'
  | 'TENSOR_RELEASED'
  | 'FOREIGN_TENSOR'
  | 'OUT_OF_MEMORY'
  | 'GPU_ERROR'
  | 'IO_ERROR'
  | 'CODEC_ERROR'
  | 'DATA_ERROR'
  /** The clients a method cannot do without all failed (e.g. every client asked for SNIP's sensitivity). */
  | 'CLIENT_ERROR';

export class FeddipError extends Error {
  readonly code: FeddipErrorCode;
  constructor(code: FeddipErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FeddipError';
    this.code = code;
  }
}

/** A backend was asked for that cannot run here; `reason` says why (never a silent fallback). */
export class BackendUnavailableError extends FeddipError {
  readonly backend: string;
  readonly reason: string;
  constructor(backend: string, reason: string, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', `backend '${backend}' is not available here: ${reason}`, options);
    this.name = 'BackendUnavailableError';
    this.backend = backend;
    this.reason = reason;
  }
}

/** Arguments that cannot be right whatever the data: wrong shapes, dtypes, aliasing, ranges. */
export class InvalidArgumentError extends FeddipError {
  constructor(message: string, code: FeddipErrorCode = 'INVALID_ARGUMENT') {
    super(code, message);
    this.name = 'InvalidArgumentError';
  }
}

/** Bytes that are not a valid feddip frame, or that do not fit what the receiver expects. */
export class CodecError extends FeddipError {
  constructor(message: string) {
    super('CODEC_ERROR', message);
    this.name = 'CodecError';
  }
}
