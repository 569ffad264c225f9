// `feddip simulate`: a whole federated run in this process — data, partition, strategy, rounds —
// writing config.json, metrics.jsonl (one line per round, as it happens), summary.json and the
// final model frame to --out. Ctrl-C finishes the round in flight, writes what was done, exits 130.
import { createBackend } from '../backend/registry.ts';
import type { BackendName } from '../backend/backend.ts';
import type { SimdChoice } from '../backend/wasm/module.ts';
import { encodeFrame } from '../codec/frame.ts';
import { type AugmentChoice, DatasetNotFoundError, fetchDataset, loadDataset, partition, partitionSummary, formatPartitionSummary, prepareForTraining } from '../data/index.ts';
import { cpuCount } from '../platform/worker.ts';
import { progressPrinter } from './data.ts';
import { createStrategy, METHODS } from '../fl/methods.ts';
import { simulate, type RoundMetrics } from '../fl/simulation.ts';
import type { MethodOptions } from '../fl/methods/common.ts';
import { initParameters } from '../nn/init.ts';
import { modelByName, MODELS } from '../nn/models.ts';
import { buildReport } from '../report/index.ts';
import { Rng } from '../util/rng.ts';
import { FeddipError, InvalidArgumentError } from '../errors.ts';
import { EXIT_CODES_HELP, formatOptions, parseCommandLine, type Schema } from './args.ts';
import type { RunFiles } from './io.ts';
import { formatDuration as duration, ProgressDisplay, type TerminalStream } from './progress.ts';

export const SIMULATE_OPTIONS: Schema = {
  dataset: { type: 'string', default: 'fashion-mnist', help: 'data set', choices: ['mnist', 'fashion-mnist', 'cifar10', 'cifar100'] },
  model: { type: 'string', default: 'lenet5', help: 'model', choices: Object.keys(MODELS) },
  method: { type: 'string', default: 'feddip', help: 'federated method', choices: Object.keys(METHODS) },
  clients: { type: 'integer', default: 50, help: 'number of clients N' },
  fraction: { type: 'number', default: 0.1, help: 'fraction C of clients selected per round' },
  'local-epochs': { type: 'integer', default: 5, help: 'local epochs E' },
  batch: { type: 'integer', default: 128, help: 'local minibatch size B' },
  lr: { type: 'number', default: 0.1, help: 'initial learning rate η0' },
  'lr-decay': { type: 'number', default: 0.998, help: 'learning-rate decay γ per round' },
  'weight-decay': { type: 'number', default: 5e-4, help: 'weight decay' },
  rounds: { type: 'integer', default: 200, help: 'rounds T (the sparsity schedule spans them)' },
  sparsity: { type: 'number', default: 0.9, help: 'target sparsity s_p' },
  'init-sparsity': { type: 'number', default: 0.5, help: 'initial sparsity s_0' },
  reconfig: { type: 'integer', help: "mask reconfiguration period R (default: the method's, 5 for FedDIP, 20 for PruneFL and FedDST)" },
  'lambda-max': { type: 'number', default: 1e-3, help: 'incremental regularisation λmax' },
  'lambda0': { type: 'number', default: 5e-4, help: 'incremental regularisation λ0' },
  reentry: { type: 'string', default: 'cut', help: 'feddip: a weight re-entering the mask starts from its dense value clipped to the smallest kept magnitude (cut) or from all of it (memory)', choices: ['cut', 'memory'] },
  regrowth: { type: 'number', default: 0.1, infinite: true, help: 'feddip: at most regrowth/2·(1+cos(πt/T)) of the mask may re-enter at a reconfiguration (0: nested masks, Infinity: no cap)' },
  partition: { type: 'string', default: 'iid', help: 'iid | dirichlet:<alpha> | pathological:<k>' },
  seed: { type: 'integer', default: 1, help: 'run seed (fixes every random choice)' },
  backend: { type: 'string', default: 'wasm', help: 'compute backend', choices: ['wasm', 'webgpu', 'reference', 'auto'] },
  threads: { type: 'integer', help: 'clients trained at once, one worker each (default: the number of cores)' },
  simd: { type: 'string', default: 'auto', help: 'wasm build: relaxed SIMD (fused multiply-add, faster; last bits may differ between CPUs) where the engine has it, or baseline (plain SIMD, the same bits on every machine)', choices: ['auto', 'relaxed', 'baseline'] },
  augment: { type: 'string', default: 'auto', help: 'random crop (4-pixel padding) and flip of training images; auto: for CIFAR', choices: ['auto', 'on', 'off'] },
  fp16: { type: 'boolean', default: false, help: 'send values as fp16 on the wire' },
  out: { type: 'string', help: 'output folder (default runs/<method>-<dataset>-<timestamp>)' },
  'data-dir': { type: 'string', help: 'folder holding the data set files' },
  'allow-subset': { type: 'boolean', default: false, help: 'accept data files with fewer images than the standard set (your own subset)' },
  config: { type: 'string', help: 'JSON file of options (flags win)' },
  quiet: { type: 'boolean', default: false, help: 'no progress output' },
};

export const SIMULATE_HELP = `feddip simulate — run a federated simulation in this process

Usage: feddip simulate [options]

Options:
${formatOptions(SIMULATE_OPTIONS)}

Examples:
  feddip simulate --rounds 30 --sparsity 0.95
  feddip simulate --method fedavg --partition dirichlet:0.5 --out runs/fedavg
  feddip simulate --config run.json --seed 3

${EXIT_CODES_HELP}
`;

export interface SimulateIo {
  out(line: string): void;
  err(line: string): void;
  files: RunFiles;
  /** True once the user asked to stop (Ctrl-C). */
  stopRequested(): boolean;
  /** Where progress bars go (stderr); bars are drawn only when it is a TTY. */
  progress?: TerminalStream;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

/** The method options a parsed simulate/serve command line sets (unset ones stay undefined: the method's default). */
export function strategyOptions(o: Record<string, unknown>): Partial<MethodOptions> {
  return {
    rounds: o.rounds as number, fraction: o.fraction as number, lr: o.lr as number, lrDecay: o.lrDecay as number,
    weightDecay: o.weightDecay as number, localEpochs: o.localEpochs as number, batch: o.batch as number,
    sparsity: o.sparsity as number, initSparsity: o.initSparsity as number, reconfig: o.reconfig as number | undefined,
    lambda0: o.lambda0 as number, lambdaMax: o.lambdaMax as number, reentry: o.reentry as 'cut' | 'memory', regrowth: o.regrowth as number,
  };
}

export async function runSimulate(argv: string[], io: SimulateIo): Promise<number> {
  const { options: o, positional } = await parseCommandLine(SIMULATE_OPTIONS, argv, io.files.readText);
  if (positional.length) throw new InvalidArgumentError(`unexpected argument '${positional[0]}'`);
  const display = new ProgressDisplay(io.progress, { quiet: o.quiet as boolean });
  const say = (line: string) => { if (!o.quiet) display.log(() => io.out(line)); };
  const perRound = Math.max(1, Math.round((o.fraction as number) * (o.clients as number)));
  const threads = Math.min((o.threads as number | undefined) ?? await cpuCount(), perRound);
  if (!(threads >= 1)) throw new InvalidArgumentError(`--threads must be at least 1, got ${o.threads}`);
  // Built before the data set loads, so a bad method option fails at once; options left unset fall
  // to the method's own defaults (e.g. R differs between methods).
  const strategy = createStrategy(o.method as string, strategyOptions(o));

  let dataset;
  try {
    dataset = await loadDataset(o.dataset as string, { dataDir: o.dataDir as string | undefined, allowSubset: o.allowSubset as boolean });
  } catch (error) {
    // Not on this machine: download it into the user cache (as `feddip data fetch` would); offline,
    // the error lists every place looked in and every way to get the files.
    if (!(error instanceof DatasetNotFoundError) || o.dataDir) throw error;
    say(`${o.dataset} not found locally; downloading it into the user cache`);
    try {
      await fetchDataset(o.dataset as string, { onProgress: o.quiet ? undefined : progressPrinter(io) });
    } catch (fetchError) {
      throw new DatasetNotFoundError(o.dataset as string, error.searched, `${error.message}\n(the download failed too: ${(fetchError as Error).message})`);
    }
    dataset = await loadDataset(o.dataset as string);
  }
  // CIFAR: per-channel normalisation (training-split statistics) and crop-and-flip augmentation.
  const prepared = prepareForTraining(dataset, o.augment as AugmentChoice);
  const model = modelByName(o.model as string, dataset.train.classes);
  const inShape = model.inputShape.join('×');
  if (dataset.train.shape.join('×') !== inShape) {
    throw new InvalidArgumentError(`${model.name} takes ${inShape} inputs but ${o.dataset} images are ${dataset.train.shape.join('×')}`);
  }
  const rng = new Rng(o.seed as number);
  const parts = partition(dataset.train.labels, o.clients as number, o.partition as string, rng.fork('partition'));
  const backend = await createBackend(o.backend as BackendName | 'auto', { simd: o.simd as SimdChoice });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const outDir = io.files.resolve((o.out as string | undefined) ?? io.files.join('runs', `${o.method}-${o.dataset}-${stamp}`));
  await io.files.mkdir(outDir);
  const methodOptions = (strategy as { options?: object }).options;
  const config = { ...o, threads, config: undefined, out: outDir, ...(methodOptions ? { method_options: methodOptions } : {}), model: model.name, parameters: model.layout.parameterCount, layoutHash: model.layout.hash(), backendDescription: backend.description };
  await io.files.writeText(io.files.join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const metricsPath = io.files.join(outDir, 'metrics.jsonl');
  await io.files.writeText(metricsPath, '');

  say(`feddip simulate: ${o.method} on ${o.dataset} (${dataset.train.size} train / ${dataset.test.size} test), ${model.name} with ${model.layout.parameterCount.toLocaleString('en')} parameters`);
  say(`  ${o.clients} clients, ${o.partition} partition, ${o.rounds} rounds, C=${o.fraction}, E=${o.localEpochs}, B=${o.batch}, target sparsity ${o.sparsity}, seed ${o.seed}`);
  if (prepared.normalization) say(`  normalised per channel (mean ${prepared.normalization.mean.map((v) => v.toFixed(3)).join(', ')}; std ${prepared.normalization.std.map((v) => v.toFixed(3)).join(', ')})${prepared.augmentation ? '; training batches randomly cropped (padding 4) and flipped' : ''}`);
  else if (prepared.augmentation) say('  training batches randomly cropped (padding 4) and flipped');
  say(`  backend: ${backend.description}; ${threads} client${threads > 1 ? 's' : ''} trained at once${threads > 1 ? ' on worker threads' : ''}`);
  // The per-client table, cut short for large federations (the header, five clients, the totals).
  const table = formatPartitionSummary(partitionSummary(dataset.train.labels, parts, dataset.train.classes)).split('\n');
  say((table.length > 9 ? [...table.slice(0, 6), `   … ${table.length - 7} more clients`, table[table.length - 1]!] : table).join('\n'));
  say(`  writing to ${outDir}`);

  const started = performance.now() / 1000;
  const history: RoundMetrics[] = [];
  let interrupted = false;
  const rounds = o.rounds as number;
  // Two bars on a terminal: the rounds, and the selected clients' local epochs within the round.
  const roundBar = (done: number) => display.set('rounds', { label: 'rounds  ', done, total: rounds, unit: 'round' });
  roundBar(0);
  try {
    for await (const m of simulate({
      model, backend, strategy, rounds, rng, fp16: o.fp16 as boolean, threads,
      initial: initParameters(model.layout, (() => { const r = rng.fork('init'); return () => r.uniform(); })()),
      train: { images: dataset.train.images, labels: dataset.train.labels, augment: prepared.augmentation }, test: { images: dataset.test.images, labels: dataset.test.labels, sampleSize: dataset.test.images.length / dataset.test.size },
      partitions: parts,
      onProgress: display.enabled ? (p) => display.set('train', {
        label: p.phase === 'setup' ? 'setup   ' : 'training', done: p.samples, total: p.total, unit: 'sample',
        restart: p.samples === 0 && p.clientsDone === 0,
        note: p.phase === 'train' && p.clientsDone === p.clients ? 'evaluating' : `${p.clientsDone}/${p.clients} clients`,
      }) : undefined,
    })) {
      history.push(m);
      await io.files.appendText(metricsPath, `${JSON.stringify(m)}\n`);
      const elapsed = performance.now() / 1000 - started;
      const eta = (elapsed / history.length) * (rounds - history.length);
      roundBar(history.length); // before the line: printing it redraws the bars as they now stand
      say(`round ${String(m.round + 1).padStart(String(rounds).length)}/${rounds}  acc ${(100 * m.test_acc).toFixed(2)} %  loss ${m.test_loss.toFixed(4)}  sparsity ${(100 * m.sparsity).toFixed(1)} %  ↓${mb(m.bytes_down)} ↑${mb(m.bytes_up)}  ${duration(m.seconds)}  ETA ${duration(eta)}`);
      if (io.stopRequested()) { interrupted = true; break; }
    }
  } catch (error) {
    // wasm32 stops at 4 GiB: activations grow with the batch, so say which knob to turn.
    if (error instanceof FeddipError && error.code === 'OUT_OF_MEMORY') {
      throw new FeddipError('OUT_OF_MEMORY', `${error.message}\n${model.name} at batch ${o.batch} needs more memory than this backend has; try --batch ${Math.max(1, Math.floor((o.batch as number) / 2))}${backend.name === 'wasm' ? ' (wasm32 addresses at most 4 GiB: ResNet-18-CIFAR takes ~6.5 MB per image of a batch, so the paper\'s batch of 128 fits)' : ''}`, { cause: error });
    }
    throw error;
  } finally {
    display.close();
    backend.dispose();
  }

  const last = history[history.length - 1];
  const best = history.reduce<RoundMetrics | undefined>((b, m) => (!b || m.test_acc > b.test_acc ? m : b), undefined);
  const summary = {
    method: o.method, dataset: o.dataset, model: model.name, seed: o.seed, interrupted,
    rounds_completed: history.length, rounds_planned: o.rounds,
    final_acc: last?.test_acc ?? null, final_loss: last?.test_loss ?? null,
    best_acc: best?.test_acc ?? null, best_round: best?.round ?? null,
    final_sparsity: last?.sparsity ?? null, final_sparsity_all: last?.sparsity_all ?? null,
    bytes_down_total: last?.bytes_down_total ?? 0, bytes_up_total: last?.bytes_up_total ?? 0,
    seconds: performance.now() / 1000 - started,
  };
  await io.files.writeText(io.files.join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const deployed = strategy.deployed();
  await io.files.writeBytes(io.files.join(outDir, 'model.fdip'), encodeFrame(deployed.weights, {
    kind: 'model', round: history.length, layoutHash: model.layout.hash(), segmentSizes: model.layout.segments.map((s) => s.size),
    sent: deployed.mask ?? new Uint8Array(model.layout.size).fill(1),
  }));
  say(`${interrupted ? 'stopped' : 'done'} after ${history.length} rounds in ${duration(summary.seconds)}: final accuracy ${last ? (100 * last.test_acc).toFixed(2) : '—'} %, best ${best ? (100 * best.test_acc).toFixed(2) : '—'} % (round ${best ? best.round + 1 : '—'}), sparsity ${last ? (100 * last.sparsity).toFixed(1) : '—'} %, ${mb(summary.bytes_down_total + summary.bytes_up_total)} on the wire`);
  // The run's own plots, so that a first run shows its curves without a second command.
  let plots = '';
  if (history.length) {
    const report = buildReport([{ name: `${o.method}`, rounds: history }]);
    for (const [file, svg] of Object.entries(report.plots)) await io.files.writeText(io.files.join(outDir, file), svg);
    await io.files.writeText(io.files.join(outDir, 'report.md'), report.markdown);
    plots = `, report.md and plots ${Object.keys(report.plots).join(', ')}`;
  }
  say(`results: ${outDir} (config.json, metrics.jsonl, summary.json, model.fdip${plots})`);
  return interrupted ? 130 : 0;
}
