export type { LocalConfig, ClientTask, ClientResult, ClientFailure } from './types.ts';
export { type Strategy, type StrategyState, type RoundPlan, selectClients, applyWeightedUpdates } from './strategy.ts';
export { FedDip, feddip, feddipNoIr, fedavg, FEDDIP_DEFAULTS, type FedDipOptions } from './feddip.ts';
export { trainClient, BatchBuffers, type ClientData, type TrainOptions } from './client.ts';
export { evaluate, type EvalData, type EvalResult } from './evaluate.ts';
export { simulate, type SimulationSetup, type RoundMetrics } from './simulation.ts';
export { METHODS, createStrategy, type MethodName } from './methods.ts';
