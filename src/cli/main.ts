// The `feddip` command. Each subcommand is a small function; exit codes (EXIT): 0 success, 1 the
// work failed, 2 the command line or config file was wrong, 130 interrupted.
import { backends } from '../backend/registry.ts';
import { EXIT, EXIT_CODES_HELP } from './args.ts';
import { BENCH_HELP, runBench } from './bench.ts';
import { cmdData } from './data.ts';
import { FeddipError } from '../errors.ts';
import type { RunFiles } from './io.ts';
import type { TerminalStream } from './progress.ts';
import { runSimulate, SIMULATE_HELP } from './simulate.ts';
import { REPORT_HELP, runReport } from './report.ts';
import { REPRO_HELP, runRepro } from './repro.ts';
import { JOIN_HELP, runJoin, runServe, SERVE_HELP } from './serve.ts';
import { DASHBOARD_HELP, runDashboard } from './dashboard.ts';
import { runtimeDescription } from '../platform/runtime.ts';
import { VERSION } from '../version.ts';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** File access for commands that write results (absent in contexts that only list or help). */
  files?: RunFiles;
  stopRequested?: () => boolean;
  /** The terminal stream progress bars are drawn on (stderr); none are drawn when it is not a TTY. */
  progress?: TerminalStream;
}

const HELP = `feddip ${VERSION} — federated learning with extreme dynamic pruning

Usage: feddip <command> [options]

Commands:
  simulate [options]  run a federated simulation (FedDIP and baselines) on a data set
  serve [options]     run the aggregator of a federation over HTTP
  join <url> [opts]   train as one client of a federation over HTTP
  dashboard [--port]  serve the browser dashboard (simulate in the page, or watch an aggregator)
  backends [--json]   list the compute backends and whether each runs here (and why not)
  report <run-dir>... plots (SVG) and a markdown table comparing runs
  repro [options]     the paper's Fashion-MNIST / LeNet-5 comparison grid (resumable) and its report
  data <command>      find or download the data sets (see feddip data help)
  bench [options]     benchmark the kernels, a training step and a FedDIP round against PyTorch
  help                show this help
  version             print the version

Run 'feddip <command> --help' for a command's options. Commands that take options also read
them from --config file.json (keys as the flags or camelCase); flags win over the file.

Examples:
  feddip simulate --rounds 30 --sparsity 0.95
  feddip report runs/feddip runs/fedavg --out reports/compare
  feddip backends --json
  feddip dashboard
  feddip data fetch fashion-mnist
  feddip bench --only kernels --quick

${EXIT_CODES_HELP}
`;

const BACKENDS_HELP = `feddip backends — which compute backends run here, and why any does not

Usage: feddip backends [--json]

Options:
  --json  one JSON object {runtime, backends: [{name, available, description | reason}]}

Examples:
  feddip backends
  feddip backends --json | jq '.backends[] | select(.available) | .name'

${EXIT_CODES_HELP}
`;

/** Commands that stop at a safe point on the first Ctrl-C; the others are ended by it (exit 130). */
export const STOPPABLE_COMMANDS: ReadonlySet<string> = new Set(['simulate', 'repro', 'serve', 'join', 'dashboard', 'bench']);

async function cmdBackends(args: string[], io: Io): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) { io.out(BACKENDS_HELP); return EXIT.ok; }
  const json = args.includes('--json');
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length) {
    io.err(`feddip backends: unknown ${unknown[0]!.startsWith('-') ? 'option' : 'argument'} ${unknown[0]} (it takes only --json; try 'feddip backends --help')`);
    return EXIT.usage;
  }
  const reports = await backends();
  if (json) {
    io.out(JSON.stringify({ runtime: runtimeDescription(), backends: reports }, null, 2));
    return 0;
  }
  io.out(`runtime: ${runtimeDescription()}`);
  for (const r of reports) {
    io.out(r.available
      ? `  ${r.name.padEnd(10)} available    ${r.description}${r.software ? ' (software adapter: correct but slow)' : ''}`
      : `  ${r.name.padEnd(10)} unavailable  ${r.reason}`);
  }
  return 0;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(HELP);
      return 0;
    case 'version':
    case '--version':
    case '-v':
      io.out(VERSION);
      return 0;
    case 'backends':
      return cmdBackends(rest, io);
    case 'data':
      return cmdData(rest, io);
    case 'bench':
      if (rest.includes('--help') || rest.includes('-h')) { io.out(BENCH_HELP); return 0; }
      if (!io.files) { io.err('feddip bench: no file access in this context'); return 1; }
      return guarded('bench', io, () => runBench(rest, { ...io, files: io.files!, stopRequested: io.stopRequested ?? (() => false) }));
    case 'report':
      if (rest.includes('--help') || rest.includes('-h')) { io.out(REPORT_HELP); return 0; }
      if (!io.files) { io.err('feddip report: no file access in this context'); return 1; }
      return guarded('report', io, () => runReport(rest, { ...io, files: io.files! }));
    case 'repro':
      if (rest.includes('--help') || rest.includes('-h')) { io.out(REPRO_HELP); return 0; }
      if (!io.files) { io.err('feddip repro: no file access in this context'); return 1; }
      return guarded('repro', io, () => runRepro(rest, { ...io, files: io.files!, stopRequested: io.stopRequested ?? (() => false) }));
    case 'simulate':
      if (rest.includes('--help') || rest.includes('-h')) { io.out(SIMULATE_HELP); return 0; }
      if (!io.files) { io.err('feddip simulate: no file access in this context'); return 1; }
      return guarded('simulate', io, () => runSimulate(rest, { ...io, files: io.files!, stopRequested: io.stopRequested ?? (() => false) }));
    case 'serve':
    case 'join':
    case 'dashboard': {
      const help = { serve: SERVE_HELP, join: JOIN_HELP, dashboard: DASHBOARD_HELP }[command];
      if (rest.includes('--help') || rest.includes('-h')) { io.out(help); return 0; }
      if (!io.files) { io.err(`feddip ${command}: no file access in this context`); return 1; }
      const netIo = { ...io, files: io.files, stopRequested: io.stopRequested ?? (() => false) };
      return guarded(command, io, () => ({ serve: runServe, join: runJoin, dashboard: runDashboard }[command])(rest, netIo));
    }
    default:
      io.err(`feddip: unknown command '${command}' (commands: simulate, serve, join, dashboard, backends, report, data, bench; try 'feddip help')`);
      return EXIT.usage;
  }
}

/** Runs a command, turning its errors into a message and an exit code (2: bad usage, 1: failure). */
async function guarded(command: string, io: Io, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof FeddipError) {
      io.err(`feddip ${command}: ${error.message}${error.code === 'INVALID_ARGUMENT' ? ` (try 'feddip ${command} --help')` : ''}`);
      return error.code === 'INVALID_ARGUMENT' || error.code === 'SHAPE_MISMATCH' ? EXIT.usage : EXIT.failure;
    }
    throw error;
  }
}
