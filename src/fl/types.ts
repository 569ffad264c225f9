// The vocabulary of a federated round, shared by the in-process simulation and the HTTP
// federation: what the aggregator sends (a task), what a client returns (a result) or how it fails.
//
// The optional parts beyond FedDIP's (hard masks, per-layer penalties, client memory, reported
// statistics) are what the baselines of spec §5 need from a client. Each is a generic capability a
// strategy switches on in the task, so a client — simulated, on a worker thread or across the
// network — runs one procedure for every method and needs no code of its own per method.

/** Hyper-parameters of one round's local training, decided by the strategy. */
export interface LocalConfig {
  round: number;
  lr: number;
  weightDecay: number;
  /** Incremental regularisation coefficient λ_t (0 = none). */
  lambda: number;
  localEpochs: number;
  batch: number;
  /**
   * Uplink: 'dense' sends all of Δ, 'masked' only the coordinates inside the mask, 'topk' the
   * largest |Δ|, 'nonzero' every coordinate where Δ ≠ 0 (lossless; for updates whose support is
   * not known in advance, e.g. after a client changed its own mask).
   */
  uplink: 'dense' | 'masked' | 'topk' | 'nonzero';
  /** For 'topk': fraction of prunable coordinates sent. */
  uplinkDensity: number;
  /**
   * 'train' (default): local SGD. 'sensitivity': no training; the client reports SNIP's connection
   * sensitivity |g⊙w| on its first minibatch in `extras.sensitivity`.
   */
  mode?: 'train' | 'sensitivity';
  /**
   * Zero the weights outside the mask after every local step, so pruned weights stay exactly 0
   * (hard pruning). Without it pruned weights keep moving on the dense copy (error feedback).
   */
  hardMask?: boolean;
  /**
   * One penalty coefficient per prunable segment (flat order), e.g. a group lasso on some layers
   * only; when present it replaces `lambda` in the step (`lambda` then only reports the strength).
   */
  layerLambdas?: number[];
  /**
   * Train under a fresh random mask with Erdős–Rényi-Kernel layer densities at this overall
   * density, drawn from the client's own random stream, instead of `mask`.
   */
  randomMaskDensity?: number;
  /** Report the mean over local steps of the squared gradient in `extras.gradSquares`. */
  gradSquares?: boolean;
  /**
   * After training, prune the client's weights by global magnitude at `sparsity` over the prunable
   * segments not named in `keepDense` (those stay dense).
   */
  pruneAfter?: { sparsity: number; keepDense: string[] };
  /**
   * After training, readjust the client's own mask (dynamic sparse training): per prunable layer,
   * drop ⌈fraction·active⌉ active weights of smallest |w| and grow as many inactive ones of largest
   * |gradient| (one minibatch at the trained point); the new mask goes back in the client's state.
   */
  readjust?: { fraction: number };
  /**
   * With uplink 'topk': error-feedback compression. What top-k leaves out is kept in the client's
   * state (`residual`) and added to its next update.
   */
  uplinkResidual?: boolean;
}

/**
 * Memory a client keeps between the rounds it takes part in. A real client holds it itself; the
 * simulation's strategies keep it per client id and hand it over with the task, so workers stay
 * stateless. It is never sent over the wire and never counted as communication.
 */
export interface ClientState {
  /** The client's own mask (FedDST); it trains under it instead of the task's. */
  mask?: Uint8Array;
  /** What top-k compression has not sent yet (error feedback), full length. */
  residual?: Float32Array;
}

/** What a selected client receives. */
export interface ClientTask {
  config: LocalConfig;
  /** The model to start from, full length (M⊙W for pruned methods). */
  weights: Float32Array;
  /** The mask to train under (1 = kept), or null for dense training. */
  mask: Uint8Array | null;
  /** This client's memory from its previous rounds (see ClientState). */
  state?: ClientState;
}

/** Statistics a client reports besides its update: full-length vectors over the layout. */
export interface ClientExtras {
  /** Mean over the local steps of g² (PruneFL's importance). */
  gradSquares?: Float32Array;
  /** |g⊙w| on one minibatch (SNIP's connection sensitivity). */
  sensitivity?: Float32Array;
}

/** What a client sends back. */
export interface ClientResult {
  clientId: number;
  /** Number of training samples (the aggregation weight p_k). */
  samples: number;
  /** Δ_k = W_k − received weights, zero where not sent. */
  update: Float32Array;
  /** Which coordinates of `update` were sent. */
  sent: Uint8Array;
  /** Mean training loss over the local steps. */
  trainLoss: number;
  /** Reported statistics (sent over the wire like the update). */
  extras?: ClientExtras;
  /** The client's memory after this round, for its next task (not sent over the wire). */
  state?: ClientState;
}

export interface ClientFailure {
  clientId: number;
  reason: string;
}
