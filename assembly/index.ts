// Entry point of the WebAssembly kernel module. Every kernel works on raw pointers into linear
// memory that the TypeScript runtime allocates (see src/backend/wasm/heap.ts): the module has no
// allocator of its own and never touches the managed heap, so the same code runs on
// shared memory from several workers (build/wasm/feddip-mt.wasm, the same sources with a shared,
// imported memory; the `…Part` exports of parallel.ts are what the workers run).
export { heapBase } from "./memory";
export { gemmNT, gemmNN, gemmTN } from "./gemm";
export { linearForward, linearBackwardBias, linearBackwardData, linearBackwardWeight, linearBackwardWorkspaceFloats } from "./linear";
export { reluForward, reluBackward } from "./activation";
export { softmaxCrossEntropy } from "./loss";
export { sgdStep, axpy, fill } from "./optim";
export { copy, sumSquares, addScaledByInvNorm } from "./vector";
export { conv2dForward, conv2dBackward, convWorkspaceFloats, weightGradChunks } from "./conv";
export {
  maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward,
  adaptiveAvgPool2dForward, adaptiveAvgPool2dBackward,
} from "./pool";
export { batchNorm2dForward, batchNorm2dBackward } from "./batchnorm";
export { dropout, addTensors } from "./elementwise";
export { applyMask } from "./mask";
export {
  linearForwardPart, gemmNTPart, linearBackwardDataPart, linearBackwardWeightPart, conv2dForwardPart, conv2dBackwardPart,
  maxPool2dForwardPart, maxPool2dBackwardPart, avgPool2dForwardPart, avgPool2dBackwardPart,
  adaptiveAvgPool2dForwardPart, adaptiveAvgPool2dBackwardPart, batchNorm2dForwardPart, batchNorm2dBackwardPart,
  reluForwardPart, reluBackwardPart, sgdStepPart, axpyPart, fillPart, copyPart, addScaledByInvNormPart,
  dropoutPart, addTensorsPart, applyMaskPart, conv2dWeightGradPooledPart, conv2dWeightGradPartialsPart, sumPartialsPart, biasGradPart,
  conv2dBackwardDataPooledPart, sparseConv2dBackwardDataPooledPart,
} from "./parallel";
export { conv2dWeightGradPooled, pooledWeightGradWorkspaceFloats, pooledWeightGradSupported } from "./pooled";
// Exported only so that binaryen keeps them out of conv2dWeightGradPooled: inlined there, V8 kept
// their ten accumulators in registers far worse and the whole kernel ran 1.6–2× slower (measured,
// LeNet-5's two convolutions at batch 64). The TypeScript side never calls them.
export { chunkWide as pooledChunkWide, chunkNarrow as pooledChunkNarrow } from "./pooled";
export {
  conv2dBackwardDataPooled, pooledInputGradWorkspaceFloats, pooledInputGradPreferred,
  sparseConv2dBackwardDataPooled, sparsePooledInputGradWorkspaceFloats,
} from "./pooled-input";
// Exported for the same reason as the two above.
export { scatterRows10 as pooledScatterRows10 } from "./pooled-input";
export { csrGather, csrAddScaledByInvNorm, sparseLinearForward, sparseConv2dForward, sparseConv2dBackwardData, sparseConvWorkspaceFloats,
  sparseConv2dForwardPooled, sparsePooledForwardFused } from "./sparse";
