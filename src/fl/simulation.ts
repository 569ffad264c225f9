// The in-process federation: one aggregator strategy, N simulated clients that take turns on one
// Network (so memory does not grow with the number of clients), every message passed through the
// same wire codec as a real federation — the byte counts are those of real encoded frames.
import { decodeFrame, encodeFrame } from '../codec/frame.ts';
import type { Backend } from '../backend/backend.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { ModelDef } from '../nn/models.ts';
import { Network } from '../nn/network.ts';
import { maskSparsity } from '../sparse/masks.ts';
import type { Augmentation } from '../data/prepare.ts';
import type { Rng } from '../util/rng.ts';
import { taskSamples } from './client.ts';
import { type ClientPool, InProcessPool, WorkerPool } from './pool.ts';
import { evaluate, type EvalData } from './evaluate.ts';
import type { RoundPlan, Strategy } from './strategy.ts';
import type { ClientExtras, ClientFailure, ClientResult, ClientTask } from './types.ts';

export interface SimulationSetup {
  model: ModelDef;
  backend: Backend;
  strategy: Strategy;
  /** Initial global weights (e.g. initParameters). */
  initial: Float32Array;
  train: { images: Float32Array; labels: Int32Array; augment?: Augmentation | null };
  test: EvalData;
  /** Each client's training-sample indices. */
  partitions: readonly Int32Array[];
  rounds: number;
  rng: Rng;
  /** Send values as fp16 on the wire. */
  fp16?: boolean;
  /** Clients trained at once: 1 trains them in this thread, more start that many workers. */
  threads?: number;
  /**
   * Train in workers even with one thread, keeping this thread free between rounds' evaluations:
   * what a web page needs so that it stays responsive while clients train.
   */
  workers?: boolean;
  /** Progress: called after every local step (1 thread) or every finished client (workers). */
  onStep?: () => void;
  /**
   * Progress of the clients' local training in a round: once when an exchange starts (0 samples),
   * as clients train (every step in this thread; from workers at most every 100 ms each), and as
   * each client finishes.
   */
  onProgress?: (progress: TrainingProgress) => void;
}

/** Where the local training of a round stands, over all of the exchange's clients. */
export interface TrainingProgress {
  round: number;
  /** 'setup': an exchange a method runs before the round proper (e.g. SNIP's sensitivity). */
  phase: 'setup' | 'train';
  /** Samples processed so far (each epoch counts a client's samples again). */
  samples: number;
  /** Samples the exchange processes when every client has finished. */
  total: number;
  clientsDone: number;
  clients: number;
}

export interface RoundMetrics {
  round: number;
  test_acc: number;
  test_top5: number;
  test_loss: number;
  /** Mean local training loss (CE + penalty) over the round's steps and clients. */
  train_loss: number;
  /** Measured sparsity of the deployed model over the prunable weights P, and over all parameters. */
  sparsity: number;
  sparsity_all: number;
  target_sparsity: number;
  nonzero: number;
  lr: number;
  lambda: number;
  /** Bytes of encoded frames this round, all clients; and since the start. */
  bytes_down: number;
  bytes_up: number;
  bytes_down_total: number;
  bytes_up_total: number;
  seconds: number;
  seconds_train: number;
  seconds_codec: number;
  seconds_aggregate: number;
  seconds_eval: number;
  clients: number[];
  clients_ok: number;
  clients_failed: number;
  /**
   * For methods that report it (feddip-reference): the round's communication as the public FedDIP
   * code counts it, 32·(1−s)·n bits per model with n the parameter count, no index cost, the
   * download at the scheduled s_t. Beside, not instead of, the measured bytes above.
   */
  reference_bits_down?: number;
  reference_bits_up?: number;
}

/** A strategy asking for more setup exchanges than this in one round is taken to be stuck. */
const MAX_SETUP_STEPS = 1000;

const now = () => performance.now() / 1000;

export async function* simulate(setup: SimulationSetup): AsyncGenerator<RoundMetrics> {
  const { model, strategy, partitions, test } = setup;
  const layout = model.layout;
  if (partitions.length < 1) throw new InvalidArgumentError('simulate: there must be at least one client');
  const sampleSize = model.inputShape.reduce((a, b) => a * b, 1);
  if (setup.train.images.length !== setup.train.labels.length * sampleSize) {
    throw new InvalidArgumentError(`simulate: ${setup.train.labels.length} training labels need ${setup.train.labels.length * sampleSize} image values, got ${setup.train.images.length}`);
  }
  strategy.initialize(layout, setup.initial);
  const net = new Network(model, setup.backend);
  const hash = layout.hash();
  const segmentSizes = layout.segments.map((s) => s.size);
  const selection = setup.rng.fork('selection');
  let bytesDownTotal = 0;
  let bytesUpTotal = 0;
  const data = { images: setup.train.images, labels: setup.train.labels, sampleSize, augment: setup.train.augment ?? null };
  const threads = setup.threads ?? 1;
  if (!Number.isSafeInteger(threads) || threads < 1) throw new InvalidArgumentError(`simulate: threads must be a positive integer, got ${threads}`);
  let pool: ClientPool | undefined;
  try {
    pool = threads > 1 || setup.workers ? await WorkerPool.create(threads, model, setup.backend.name, data, setup.backend.simd?.kind) : new InProcessPool(model, setup.backend, data);
    const clientPool = pool;
    for (let round = 0; round < setup.rounds; round++) {
      const t0 = now();
      let plan = strategy.configureRound(round, partitions.length, selection);
      let codecTime = 0;
      let trainTime = 0;
      let bytesDown = 0;
      let bytesUp = 0;

      // One exchange: the task's model frame down to every client, training, each result's frames up.
      const exchange = async (clients: readonly number[], planned: ClientTask, states: RoundPlan['states'], stream: (clientId: number) => string, phase: TrainingProgress['phase']) => {
        // Downlink: one model frame, sent to every selected client.
        let c0 = now();
        const down = encodeFrame(planned.weights, {
          kind: 'model', round, layoutHash: hash, segmentSizes, fp16: setup.fp16,
          sent: planned.mask ?? new Uint8Array(layout.size).fill(1),
        });
        const received = decodeFrame(down, { kind: 'model', layoutHash: hash, length: layout.size });
        const task: ClientTask = { config: planned.config, weights: received.values, mask: planned.mask ? received.sent : null };
        codecTime += now() - c0;
        bytesDown += down.length * clients.length;

        const t1 = now();
        const totals = clients.map((clientId) => taskSamples(task.config, partitions[clientId]!.length));
        const done = new Array<number>(clients.length).fill(0);
        let clientsDone = 0;
        const total = totals.reduce((a, b) => a + b, 0);
        const report = setup.onProgress
          ? () => setup.onProgress!({ round, phase, samples: done.reduce((a, b) => a + b, 0), total, clientsDone, clients: clients.length })
          : undefined;
        report?.();
        const outcomes = await clientPool.run(clients.map((clientId) => {
          // Client memory rides along with the task but not on the wire: a real client keeps it.
          const state = states?.get(clientId);
          return { clientId, indices: partitions[clientId]!, task: state ? { ...task, state } : task, rng: setup.rng.fork(stream(clientId)).getState() };
        }), {
          onStep: setup.onStep,
          onSamples: report && ((k, samples) => { done[k] = Math.min(samples, totals[k]!); report(); }),
          // A worker's last message may be older than its end: a finished client counts in full.
          onDone: report && ((k) => { done[k] = totals[k]!; clientsDone++; report(); }),
        });
        trainTime += now() - t1;
        const results: ClientResult[] = [];
        const failures: ClientFailure[] = [];
        outcomes.forEach((outcome, k) => {
          const clientId = clients[k]!;
          if (outcome instanceof Error) { failures.push({ clientId, reason: outcome.message }); return; }
          // Uplink through the wire format, exactly as a networked client would send it.
          c0 = now();
          const up = encodeFrame(outcome.update, { kind: 'update', round, layoutHash: hash, segmentSizes, sent: outcome.sent, fp16: setup.fp16 });
          const decoded = decodeFrame(up, { kind: 'update', layoutHash: hash, length: layout.size });
          bytesUp += up.length;
          let extras: ClientExtras | undefined;
          for (const [name, values] of Object.entries(outcome.extras ?? {}) as Array<[keyof ClientExtras, Float32Array]>) {
            // Statistics always go as fp32: squared gradients of ~1e-8 would flush to zero in fp16.
            const frame = encodeFrame(values, { kind: 'update', round, layoutHash: hash, segmentSizes });
            (extras ??= {})[name] = decodeFrame(frame, { kind: 'update', layoutHash: hash, length: layout.size }).values;
            bytesUp += frame.length;
          }
          codecTime += now() - c0;
          results.push({ ...outcome, update: decoded.values, sent: decoded.sent, ...(extras ? { extras } : {}) });
        });
        return { results, failures };
      };

      for (let step = 0; plan.setup; step++) {
        if (!strategy.afterSetup) throw new InvalidArgumentError(`simulate: ${strategy.name} asks for a setup exchange but has no afterSetup()`);
        if (step >= MAX_SETUP_STEPS) throw new InvalidArgumentError(`simulate: ${strategy.name} asked for more than ${MAX_SETUP_STEPS} setup exchanges in round ${round}`);
        const exchanged = await exchange(plan.setup.clients, plan.setup.task, plan.states, (id) => `client-${id}-round-${round}-setup-${step}`, 'setup');
        plan = strategy.afterSetup(round, exchanged.results, exchanged.failures);
      }
      const { config } = plan.task;
      const { results, failures } = await exchange(plan.clients, plan.task, plan.states, (id) => `client-${id}-round-${round}`, 'train');

      const a0 = now();
      strategy.aggregate(round, results, failures);
      const aggregateTime = now() - a0;
      const referenceBits = strategy.referenceBits?.(round);

      const e0 = now();
      const deployed = strategy.deployed();
      const quality = await evaluate(net, deployed.weights, test);
      const evalTime = now() - e0;
      const report = maskSparsity(deployed.weights, layout.segments);
      // Over all *parameters*: batch-norm running statistics are state, not parameters.
      let zeros = 0;
      for (const seg of layout.trainable) for (let i = seg.offset; i < seg.offset + seg.size; i++) if (deployed.weights[i] === 0) zeros++;
      bytesDownTotal += bytesDown;
      bytesUpTotal += bytesUp;
      yield {
        round,
        test_acc: quality.accuracy,
        test_top5: quality.top5,
        test_loss: quality.loss,
        train_loss: results.length ? results.reduce((s, r) => s + r.trainLoss, 0) / results.length : NaN,
        sparsity: report.overPrunable,
        sparsity_all: zeros / layout.parameterCount,
        target_sparsity: plan.targetSparsity,
        nonzero: report.nonzero,
        lr: config.lr,
        lambda: config.lambda,
        bytes_down: bytesDown,
        bytes_up: bytesUp,
        bytes_down_total: bytesDownTotal,
        bytes_up_total: bytesUpTotal,
        seconds: now() - t0,
        seconds_train: trainTime,
        seconds_codec: codecTime,
        seconds_aggregate: aggregateTime,
        seconds_eval: evalTime,
        clients: plan.clients,
        clients_ok: results.length,
        clients_failed: failures.length,
        ...(referenceBits ? { reference_bits_down: referenceBits.down, reference_bits_up: referenceBits.up } : {}),
      };
    }
  } finally {
    await pool?.close();
    net.dispose();
  }
}
