// FedDIP's schedules (spec/FEDDIP.md §2), as pure functions of the round t = 0 … T−1.
import { InvalidArgumentError } from '../errors.ts';

function checkRounds(fn: string, t: number, T: number): void {
  if (!Number.isSafeInteger(T) || T < 1) throw new InvalidArgumentError(`${fn}: T must be a positive integer, got ${T}`);
  if (!Number.isSafeInteger(t) || t < 0) throw new InvalidArgumentError(`${fn}: t must be a non-negative integer, got ${t}`);
}

/**
 * Cosine annealing from `scale` at t = 0 to 0 at t = T: scale/2·(1 + cos(πt/T)) (the drop/regrowth
 * fraction of RigL and FedDST).
 */
export function cosineAnneal(t: number, T: number, scale: number): number {
  return (scale / 2) * (1 + Math.cos((Math.PI * t) / T));
}

/**
 * Cubic sparsity ramp (Zhu & Gupta), from s0 at t = 0 towards sp, with no delay:
 * s_t = sp + (s0 − sp)·(1 − t/T)³. Rounds past T stay at sp rather than overshooting it.
 */
export function cubicSparsity(t: number, T: number, s0: number, sp: number): number {
  checkRounds('cubicSparsity', t, T);
  for (const [name, s] of [['s0', s0], ['sp', sp]] as const) {
    if (!(s >= 0 && s <= 1)) throw new InvalidArgumentError(`cubicSparsity: ${name} must be in [0, 1], got ${s}`);
  }
  const left = 1 - Math.min(t, T) / T;
  return sp + (s0 - sp) * left ** 3;
}

export interface IncrementalLambdaOptions {
  /** λ of the first non-zero segment (default 5e-4). */
  lambda0?: number;
  /** λ the ramp aims at (default 1e-3). */
  lambdaMax?: number;
  /** Number of segments the T rounds are cut into (default 20). */
  Q?: number;
  /**
   * 'reference': FedDIP's code, λ0 + (i−1)(λmax−λ0)/(Q−1), whose last segment (i = Q−1) stops at
   * 18/19 of the way to λmax for Q = 20. 'default': λ0 + (i−1)(λmax−λ0)/(Q−2), which reaches λmax
   * exactly in the last segment, as the paper describes (for Q = 2 the one non-zero segment is
   * λmax). Default: 'default'.
   */
  mode?: 'default' | 'reference';
}

/**
 * Incremental regularisation coefficient: the T rounds are cut into Q segments of L = floor(T/Q)
 * rounds (the last one also takes the T mod Q remainder), segment i = min(floor(t/L), Q−1); λ = 0
 * in segment 0, then rises linearly from λ0. With T < Q, L would be 0 (the reference divides by
 * zero); here L is at least 1 so each round is its own segment.
 */
export function incrementalLambda(t: number, T: number, options: IncrementalLambdaOptions = {}): number {
  const fn = 'incrementalLambda';
  checkRounds(fn, t, T);
  const { lambda0 = 5e-4, lambdaMax = 1e-3, Q = 20, mode = 'default' } = options;
  if (!Number.isSafeInteger(Q) || Q < 1) throw new InvalidArgumentError(`${fn}: Q must be a positive integer, got ${Q}`);
  if (!Number.isFinite(lambda0) || !Number.isFinite(lambdaMax)) {
    throw new InvalidArgumentError(`${fn}: lambda0 and lambdaMax must be finite, got ${lambda0} and ${lambdaMax}`);
  }
  if (mode !== 'default' && mode !== 'reference') throw new InvalidArgumentError(`${fn}: mode must be 'default' or 'reference', got '${String(mode)}'`);
  const L = Math.max(1, Math.floor(T / Q));
  const i = Math.min(Math.floor(t / L), Q - 1);
  if (i === 0) return 0;
  if (mode === 'reference') return lambda0 + (i - 1) * (lambdaMax - lambda0) / (Q - 1);
  if (Q === 2) return lambdaMax;
  return lambda0 + (i - 1) * (lambdaMax - lambda0) / (Q - 2);
}

/** Exponentially decaying learning rate η_t = η0·γ^t (paper: η0 = 0.1, γ = 0.998). */
export function learningRate(t: number, lr0 = 0.1, gamma = 0.998): number {
  if (!Number.isSafeInteger(t) || t < 0) throw new InvalidArgumentError(`learningRate: t must be a non-negative integer, got ${t}`);
  if (!Number.isFinite(lr0) || !Number.isFinite(gamma) || gamma <= 0) {
    throw new InvalidArgumentError(`learningRate: lr0 must be finite and gamma finite and positive, got ${lr0} and ${gamma}`);
  }
  return lr0 * gamma ** t;
}

/** Whether the mask is recomputed at round t: every R rounds, starting at t = 0. */
export function isReconfigRound(t: number, R: number): boolean {
  if (!Number.isSafeInteger(R) || R < 1) throw new InvalidArgumentError(`isReconfigRound: R must be a positive integer, got ${R}`);
  if (!Number.isSafeInteger(t) || t < 0) throw new InvalidArgumentError(`isReconfigRound: t must be a non-negative integer, got ${t}`);
  return t % R === 0;
}
