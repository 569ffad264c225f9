// Entry point of the WebAssembly kernel module. Every kernel works on raw pointers into linear
// memory that the TypeScript runtime allocates (see src/backend/wasm/heap.ts): the module has no
// allocator of its own and never touches the managed heap, so the same module can later run on
// shared memory from several workers.
export { heapBase } from "./memory";
export { gemmNT, gemmNN, gemmTN } from "./gemm";
export { linearForward, linearBackwardBias } from "./linear";
export { reluForward, reluBackward } from "./activation";
export { softmaxCrossEntropy } from "./loss";
export { sgdStep, axpy, fill } from "./optim";
export { copy, sumSquares, addScaledByInvNorm } from "./vector";
export { conv2dForward, conv2dBackward } from "./conv";
export {
  maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward,
  adaptiveAvgPool2dForward, adaptiveAvgPool2dBackward,
} from "./pool";
export { batchNorm2dForward, batchNorm2dBackward } from "./batchnorm";
export { dropout, addTensors } from "./elementwise";
export { applyMask } from "./mask";
export { csrGather, csrAddScaledByInvNorm, sparseLinearForward, sparseConv2dForward, sparseConv2dBackwardData } from "./sparse";
