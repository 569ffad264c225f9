// Real federation over HTTP: the aggregator handler, the client loop, checkpoints and tokens.
export { Aggregator, createAggregator, CHECKPOINT_FILE, servableOverHttp, type AggregatorOptions } from './server.ts';
export { runClient, TransportError, type RunClientOptions, type ClientSummary } from './client.ts';
export {
  type CheckpointStore, CheckpointError, encodeCheckpoint, decodeCheckpoint, fileCheckpointStore, memoryCheckpointStore,
} from './checkpoint.ts';
export { TokenSet, parseTokens, MIN_TOKEN_LENGTH, type TokenEntry } from './tokens.ts';
export { serveHttp, type HttpServer, type Handler, type ServeOptions } from '../platform/http.ts';
export { staticHandler, ISOLATION_HEADERS, type StaticOptions } from '../platform/static.ts';
export * from './protocol.ts';
