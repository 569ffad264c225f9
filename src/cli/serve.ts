// `feddip serve` (the aggregator of a real federation over HTTP) and `feddip join` (a client that
// trains its share of a data set). The protocol is described in src/transport/protocol.ts.
import { createBackend } from '../backend/registry.ts';
import type { BackendName } from '../backend/backend.ts';
import type { SimdChoice } from '../backend/wasm/module.ts';
import { encodeFrame } from '../codec/frame.ts';
import { datasetSpec, loadDataset, partition, prepareForTraining } from '../data/index.ts';
import { InvalidArgumentError } from '../errors.ts';
import { createStrategy, METHODS } from '../fl/methods.ts';
import { initParameters } from '../nn/init.ts';
import { modelByName, MODELS } from '../nn/models.ts';
import { env } from '../platform/fs.ts';
import { serveHttp } from '../platform/http.ts';
import { fileCheckpointStore } from '../transport/checkpoint.ts';
import { runClient } from '../transport/client.ts';
import { createAggregator } from '../transport/server.ts';
import { parseTokens } from '../transport/tokens.ts';
import { Rng } from '../util/rng.ts';
import { EXIT_CODES_HELP, formatOptions, parseCommandLine, type Schema } from './args.ts';
import { SIMULATE_OPTIONS, strategyOptions } from './simulate.ts';
import { dashboardSite } from './dashboard.ts';
import type { RunFiles } from './io.ts';
import { ProgressDisplay, type TerminalStream } from './progress.ts';

export interface NetIo {
  out(line: string): void;
  err(line: string): void;
  files: RunFiles;
  stopRequested(): boolean;
  /** Where progress bars go (stderr); bars are drawn only when it is a TTY. */
  progress?: TerminalStream;
}

const pick = (...names: string[]): Schema => Object.fromEntries(names.map((n) => [n, SIMULATE_OPTIONS[n]!]));

export const SERVE_OPTIONS: Schema = {
  port: { type: 'integer', default: 8787, help: 'TCP port (0: any free port)' },
  host: { type: 'string', default: '127.0.0.1', help: 'interface to listen on (0.0.0.0: every interface)' },
  dir: { type: 'string', help: 'folder for the checkpoint and the final model (required)' },
  tokens: { type: 'string', help: "file of client tokens, one per line ('<token>' or '<token> <max-samples>'), or JSON {name: token | {token, maxSamples}} (required)" },
  resume: { type: 'boolean', default: false, help: "continue from the checkpoint in --dir" },
  'min-clients': { type: 'integer', default: 2, help: 'updates a round needs to be applied' },
  'min-available': { type: 'integer', help: 'joined clients needed before a round opens (default --min-clients)' },
  'round-timeout': { type: 'number', default: 600, help: 'seconds a round stays open (extended once if short of updates)' },
  'over-select': { type: 'number', default: 1.3, help: 'select this many times the clients a round needs' },
  'max-samples': { type: 'integer', help: 'the most samples any update is weighted with (per-client limits: the tokens file)' },
  linger: { type: 'number', default: 30, help: 'seconds to keep answering after the last round, until every client has heard it is over' },
  ...pick('dataset', 'model', 'method', 'fraction', 'local-epochs', 'batch', 'lr', 'lr-decay', 'weight-decay', 'rounds',
    'sparsity', 'init-sparsity', 'reconfig', 'lambda-max', 'lambda0', 'reentry', 'regrowth', 'seed', 'fp16', 'config', 'quiet'),
};

export const SERVE_HELP = `feddip serve — run the aggregator of a federation over HTTP

Usage: feddip serve --dir <folder> --tokens <file> [options]

Options:
${formatOptions(SERVE_OPTIONS)}

Examples:
  feddip serve --dir runs/fed --tokens tokens.txt --rounds 100 --min-clients 5
  feddip serve --dir runs/fed --tokens tokens.txt --rounds 100 --resume
  feddip serve --config federation.json --port 9000

${EXIT_CODES_HELP}
`;

export const JOIN_OPTIONS: Schema = {
  token: { type: 'string', help: 'this client\'s bearer token (default: $FEDDIP_TOKEN, which keeps it out of the process list)' },
  'client-index': { type: 'integer', default: 0, help: 'which share of the data set this client trains (0-based)' },
  clients: { type: 'integer', default: 1, help: 'number of shares the data set is cut into' },
  ...pick('dataset', 'model', 'partition', 'seed', 'backend', 'simd', 'fp16', 'data-dir', 'config', 'quiet'),
};

export const JOIN_HELP = `feddip join — train as one client of a federation

Usage: feddip join <url> [options]

Options:
${formatOptions(JOIN_OPTIONS)}

Examples:
  FEDDIP_TOKEN=… feddip join http://127.0.0.1:8787 --client-index 3 --clients 10
  feddip join http://10.0.0.5:8787 --config client.json --client-index 0

${EXIT_CODES_HELP}
`;

export async function runServe(argv: string[], io: NetIo): Promise<number> {
  const { options: o, positional } = await parseCommandLine(SERVE_OPTIONS, argv, io.files.readText);
  if (positional.length) throw new InvalidArgumentError(`unexpected argument '${positional[0]}'`);
  if (!o.dir) throw new InvalidArgumentError('--dir is required (the checkpoint goes there)');
  if (!o.tokens) throw new InvalidArgumentError('--tokens is required (a file of client tokens)');
  if (!(Number(o.roundTimeout) > 0)) throw new InvalidArgumentError(`--round-timeout must be positive, got ${o.roundTimeout}`);
  if (!(Number(o.linger) >= 0)) throw new InvalidArgumentError(`--linger must be ≥ 0 seconds, got ${o.linger}`);
  const display = new ProgressDisplay(io.progress, { quiet: o.quiet as boolean });
  const say = (line: string) => { if (!o.quiet) display.log(() => io.out(line)); };
  let tokenText: string;
  try {
    tokenText = await io.files.readText(o.tokens as string);
  } catch (error) {
    throw new InvalidArgumentError(`cannot read the tokens file '${o.tokens}' (${(error as Error).message}); --tokens needs a file with one client token per line`);
  }
  const tokens = parseTokens(tokenText);
  const model = modelByName(o.model as string, datasetSpec(o.dataset as string).classes);
  const rng = new Rng(o.seed as number);
  const dir = io.files.resolve(o.dir as string);
  await io.files.mkdir(dir); // now, so an unwritable folder fails before any client trains
  const aggregator = await createAggregator({
    layout: model.layout, strategy: createStrategy(o.method as string, strategyOptions(o)),
    initial: initParameters(model.layout, (() => { const r = rng.fork('init'); return () => r.uniform(); })()),
    tokens, rounds: o.rounds as number, minClients: o.minClients as number, minAvailable: o.minAvailable as number | undefined,
    roundTimeoutMs: 1000 * (o.roundTimeout as number), overSelect: o.overSelect as number, seed: o.seed as number, maxSamples: o.maxSamples as number | undefined,
    store: fileCheckpointStore(dir), resume: o.resume as boolean, fp16: o.fp16 as boolean, log: (line) => display.log(() => io.err(line)),
    onRound: (r) => {
      // The bar first: printing the line redraws the bars as they now stand.
      display.set('rounds', { label: 'rounds', done: r.round + 1, total: o.rounds as number, unit: 'round' });
      say(`round ${r.round + 1}/${o.rounds}  ${r.applied ? `${r.contributors.length} updates (${r.samples} samples)` : 'skipped'}`
        + `  missing ${r.missing.length}  refused ${r.rejected}  loss ${r.trainLoss?.toFixed(4) ?? '—'}  ${r.closedBy}  ${r.seconds.toFixed(1)}s`);
    },
  });
  // The dashboard rides along on the same origin; every /v1 request still goes to the aggregator.
  const server = await serveHttp(dashboardSite({ api: aggregator.handle }), { port: o.port as number, hostname: o.host as string });
  const from = aggregator.round >= (o.rounds as number) ? 'all done already' : `from round ${aggregator.round + 1}`;
  say(`feddip serve: ${o.method} with ${model.name} (${model.layout.size.toLocaleString('en')} parameters), ${tokens.size} client tokens, ${o.rounds} rounds ${from}`);
  say(`  listening on ${server.url} (API under /v1, dashboard at /), checkpoint in ${dir}`);
  // Rate and ETA count from this start: rounds done before a --resume are not this run's pace.
  display.set('rounds', { label: 'rounds', done: aggregator.round, total: o.rounds as number, unit: 'round' });
  let stopped = false;
  try {
    await Promise.race([aggregator.done, new Promise<void>((resolve) => {
      const poll = setInterval(() => { if (io.stopRequested()) { stopped = true; clearInterval(poll); resolve(); } }, 200);
      void aggregator.done.then(() => clearInterval(poll));
    })]);
    if (!stopped) {
      // Clients learn the end from a 410 on their next poll: stay up until all have, or `linger` passes.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([aggregator.toldAll, new Promise<void>((resolve) => { timer = setTimeout(resolve, 1000 * (o.linger as number)); })]);
      clearTimeout(timer);
    }
  } finally {
    display.close();
    await server.close();
    await aggregator.dispose();
  }
  const deployed = aggregator.deployed();
  await io.files.writeBytes(io.files.join(dir, 'model.fdip'), encodeFrame(deployed.weights, {
    kind: 'model', round: aggregator.round, layoutHash: model.layout.hash(), segmentSizes: model.layout.segments.map((s) => s.size),
    sent: deployed.mask ?? new Uint8Array(model.layout.size).fill(1),
  }));
  say(`${stopped ? 'stopped' : 'done'} after ${aggregator.round} rounds; model in ${io.files.join(dir, 'model.fdip')}${stopped ? ' (continue with --resume)' : ''}`);
  return stopped ? 130 : 0;
}

export async function runJoin(argv: string[], io: NetIo): Promise<number> {
  const { options: o, positional } = await parseCommandLine(JOIN_OPTIONS, argv, io.files.readText);
  if (positional.length !== 1) throw new InvalidArgumentError('give exactly one aggregator URL, e.g. feddip join http://127.0.0.1:8787');
  const url = positional[0]!;
  if (!/^https?:\/\//.test(url)) throw new InvalidArgumentError(`'${url}' is not an http(s) URL`);
  const token = (o.token as string | undefined) ?? env('FEDDIP_TOKEN');
  if (!token) throw new InvalidArgumentError('no token: pass --token or set FEDDIP_TOKEN');
  const clients = o.clients as number;
  const index = o.clientIndex as number;
  if (!(clients >= 1)) throw new InvalidArgumentError(`--clients must be at least 1, got ${clients}`);
  if (!(index >= 0 && index < clients)) throw new InvalidArgumentError(`--client-index must be in 0 … ${clients - 1}, got ${index}`);
  const display = new ProgressDisplay(io.progress, { quiet: o.quiet as boolean });
  const say = (line: string) => { if (!o.quiet) display.log(() => io.out(line)); };
  const dataset = await loadDataset(o.dataset as string, { dataDir: o.dataDir as string | undefined });
  // The same preparation as feddip simulate (CIFAR: normalised and augmented), so results compare.
  const { augmentation } = prepareForTraining(dataset);
  const model = modelByName(o.model as string, dataset.train.classes);
  // Every client cuts the data set the same way (same seed and spec), then keeps its own share.
  const parts = partition(dataset.train.labels, clients, o.partition as string, new Rng(o.seed as number).fork('partition'));
  const indices = parts[index]!;
  const backend = await createBackend(o.backend as BackendName | 'auto', { simd: o.simd as SimdChoice });
  const controller = new AbortController();
  const poll = setInterval(() => { if (io.stopRequested()) controller.abort(new Error('stopped')); }, 200);
  say(`feddip join: ${url} as share ${index + 1}/${clients} of ${o.dataset} (${indices.length} samples), ${model.name}, backend ${backend.description}`);
  try {
    const summary = await runClient(url, {
      token, model, backend, seed: (o.seed as number) * 100_003 + index, fp16: o.fp16 as boolean, signal: controller.signal, log: (line) => display.log(() => io.err(line)),
      data: { images: dataset.train.images, labels: dataset.train.labels, sampleSize: dataset.train.images.length / dataset.train.size, indices, augment: augmentation },
      onRound: (e) => say(`round ${e.round + 1}: ${e.accepted ? 'update accepted' : `update refused (${e.reason})`}, local loss ${e.trainLoss.toFixed(4)}`),
      onProgress: display.enabled ? (e) => display.set('train', { label: `round ${e.round + 1} training`, done: e.samples, total: e.total, unit: 'sample', restart: e.samples === 0 }) : undefined,
    });
    say(`done: ${summary.roundsTrained} rounds trained, ${summary.accepted} accepted, ${summary.refused} refused`);
    return 0;
  } catch (error) {
    if (controller.signal.aborted) { say('stopped'); return 130; }
    throw error;
  } finally {
    display.close();
    clearInterval(poll);
    backend.dispose();
  }
}
