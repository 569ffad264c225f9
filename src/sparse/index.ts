// The sparse room: masks, sparsity schedules, ERK budgets and bit-packed masks over the flat
// parameter vector. Host-side code; applying a mask to tensors is the backends' applyMask kernel.
export { layoutSegments, checkSegments, prunableSize, type Segment, type SegmentSpec } from './layout.ts';
export { roundHalfEven, prunedCount } from './round.ts';
export {
  globalMagnitudeMask, layerwiseMagnitudeMask, keepLargestPerLayer, dropAndGrow, randomMask, erkDensities, maskSparsity,
  type ErkResult, type SparsityReport,
} from './masks.ts';
export { cosineAnneal, cubicSparsity, incrementalLambda, learningRate, isReconfigRound, type IncrementalLambdaOptions } from './schedules.ts';
export { packBits, unpackBits, packedWords, popcount, popcount32 } from './bitmask.ts';
export { csrFromMask, csrTranspose, csrGatherValues, checkCsrStructure, type CsrStructure } from './csr.ts';
