export type { LocalConfig, ClientTask, ClientResult, ClientFailure, ClientState, ClientExtras } from './types.ts';
export {
  type Strategy, type StrategyState, type RoundPlan, type ReferenceBits, type FoldedUpdates, selectClients, applyWeightedUpdates, applyMeanUpdate,
} from './strategy.ts';
export { FedDip, feddip, feddipNoIr, fedavg, clipReentering, capReentering, FEDDIP_DEFAULTS, type FedDipOptions } from './feddip.ts';
export { METHOD_DEFAULTS, type MethodOptions } from './methods/common.ts';
export { FedDipReference, feddipReference, referenceModelBits } from './methods/feddip-reference.ts';
export { Snip, snip } from './methods/snip.ts';
export { PruneFl, prunefl, importanceMask } from './methods/prunefl.ts';
export { FedDst, feddst } from './methods/feddst.ts';
export { PruneTrain, prunetrain } from './methods/prunetrain.ts';
export { TopkEf, topkEf } from './methods/topk-ef.ts';
export { trainClient, trainingMask, taskSamples, BatchBuffers, type ClientData, type TrainOptions } from './client.ts';
export { evaluate, evaluatePredictor, evalBatchFor, type EvalData, type EvalResult, type Predictor } from './evaluate.ts';
export { simulate, type SimulationSetup, type RoundMetrics, type TrainingProgress } from './simulation.ts';
export { METHODS, createStrategy, type MethodName } from './methods.ts';
