export { encodeFrame, decodeFrame, FRAME_VERSION, type FrameKind, type EncodeOptions, type DecodeOptions, type DecodedFrame } from './frame.ts';
export { crc32 } from './crc32.ts';
export { toHalf, fromHalf } from './half.ts';
