export {
  encodeFrame, decodeFrame, decodeSparseFrame, FRAME_VERSION, type FrameKind, type EncodeOptions, type DecodeOptions, type DecodedFrame,
  type FrameInfo, type SparseFrame, type SparseScratch,
} from './frame.ts';
export { crc32 } from './crc32.ts';
export { toHalf, fromHalf } from './half.ts';
