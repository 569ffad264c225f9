// The vocabulary of a federated round, shared by the in-process simulation and the HTTP
// federation: what the aggregator sends (a task), what a client returns (a result) or how it fails.

/** Hyper-parameters of one round's local training, decided by the strategy. */
export interface LocalConfig {
  round: number;
  lr: number;
  weightDecay: number;
  /** Incremental regularisation coefficient λ_t (0 = none). */
  lambda: number;
  localEpochs: number;
  batch: number;
  /** Uplink: 'dense' sends all of Δ, 'masked' only the coordinates inside the mask, 'topk' the largest |Δ|. */
  uplink: 'dense' | 'masked' | 'topk';
  /** For 'topk': fraction of prunable coordinates sent. */
  uplinkDensity: number;
}

/** What a selected client receives. */
export interface ClientTask {
  config: LocalConfig;
  /** The model to start from, full length (M⊙W for pruned methods). */
  weights: Float32Array;
  /** The mask to train under (1 = kept), or null for dense training. */
  mask: Uint8Array | null;
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
}

export interface ClientFailure {
  clientId: number;
  reason: string;
}
