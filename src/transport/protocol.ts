// The HTTP protocol between aggregator and clients, in one place so both sides agree on it.
//
// Every request carries `Authorization: Bearer <token>`. Control messages are JSON; models and
// updates are codec frames (application/octet-stream).
//
//   POST /v1/join   [body: {"samples": N}] → 200 JoinReply. The same token always gets the same id;
//                                         N, the client's sample count, caps its weight (below)
//   GET  /v1/task?client=ID             → 200 model frame + `Feddip-Task` header (TaskInfo JSON)
//                                         204 + Retry-After when there is nothing for this client
//                                         410 when the federation has finished
//   POST /v1/update?client=ID&round=R&samples=N[&loss=L]
//        body: update frame             → 202 UpdateReply, or 4xx ErrorReply saying what was wrong
//                                         (409: not this round's, or not selected, or already sent)
//        The update is weighted with min(N, the N declared at join, the client's limit in the
//        tokens file, the aggregator's maxSamples); UpdateReply.samples says what was used.
//   GET  /v1/status                     → 200 StatusReply
//   GET  /v1/metrics                    → 200 RoundRecord[] (every closed round so far)
//
// Errors are always { error: <stable code>, message: <for people> } with a 4xx/5xx status.
import type { LocalConfig } from '../fl/types.ts';

export const API_PREFIX = '/v1';
/** The task's configuration (TaskInfo as JSON) rides in this header next to the model frame. */
export const TASK_HEADER = 'feddip-task';
/** Retry-After only has whole seconds; this header gives the wait in milliseconds. */
export const RETRY_MS_HEADER = 'feddip-retry-after-ms';

export interface JoinReply {
  clientId: number;
  /** The round open now (or the next one to open). */
  round: number;
  rounds: number;
  layoutHash: string;
  parameters: number;
  method: string;
  /** The sample count this client declared (the lowest over its joins), or null. */
  samples: number | null;
  /** The most samples this client's updates are weighted with. */
  maxSamples: number;
}

export interface TaskInfo {
  round: number;
  config: LocalConfig;
  /** True when the frame's sent set is the mask to train under (pruned methods). */
  masked: boolean;
  /** When the round closes (ms since the epoch); an update after that is refused. */
  deadline: number;
}

export interface UpdateReply {
  accepted: true;
  round: number;
  /** Updates accepted for this round so far, this one included. */
  received: number;
  /** The weight the update got: the reported sample count, capped. */
  samples: number;
}

export interface ErrorReply {
  error: string;
  message: string;
  /** The round open now, where knowing it helps the client (409). */
  round?: number;
}

export type Phase = 'waiting' | 'open' | 'closing' | 'finished';

export interface StatusReply {
  phase: Phase;
  round: number;
  rounds: number;
  method: string;
  joined: number;
  minClients: number;
  selected: number[];
  received: number;
  /** ms since the epoch, or null when no round is open. */
  deadline: number | null;
  deadlineExtended: boolean;
}

export interface RoundRecord {
  round: number;
  /** False when the round was skipped: too few updates even after one extension of the deadline. */
  applied: boolean;
  selected: number[];
  /** Clients whose updates were aggregated. */
  contributors: number[];
  /** Selected clients that sent nothing usable before the round closed. */
  missing: number[];
  /** Updates refused this round (bad frames, outliers, wrong rounds…). */
  rejected: number;
  /** Σ of the contributors' weights (capped sample counts). */
  samples: number;
  /** Accepted updates whose reported sample count was above their cap. */
  samplesClamped: number;
  trainLoss: number | null;
  targetSparsity: number;
  lr: number;
  lambda: number;
  bytesDown: number;
  bytesUp: number;
  seconds: number;
  closedBy: 'complete' | 'deadline' | 'skipped';
}
