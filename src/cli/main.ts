// The `feddip` command. Each subcommand is a small function; exit codes: 0 success, 1 the work
// failed, 2 the command line was wrong.
import { backends } from '../backend/registry.ts';
import { cmdData } from './data.ts';
import { FeddipError } from '../errors.ts';
import type { RunFiles } from './io.ts';
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
  help                show this help
  version             print the version

Run 'feddip <command> --help' for a command's options.

Examples:
  feddip simulate --rounds 30 --sparsity 0.95
  feddip backends
  feddip backends --json
  feddip dashboard
  feddip data fetch fashion-mnist
`;

async function cmdBackends(args: string[], io: Io): Promise<number> {
  const json = args.includes('--json');
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length) {
    io.err(`feddip backends: unknown option ${unknown[0]} (try 'feddip help')`);
    return 2;
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
      io.err(`feddip: unknown command '${command}' (try 'feddip help')`);
      return 2;
  }
}

/** Runs a command, turning its errors into a message and an exit code (2: bad usage, 1: failure). */
async function guarded(command: string, io: Io, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof FeddipError) {
      io.err(`feddip ${command}: ${error.message}`);
      return error.code === 'INVALID_ARGUMENT' || error.code === 'SHAPE_MISMATCH' ? 2 : 1;
    }
    if (error instanceof SyntaxError) {
      io.err(`feddip ${command}: ${error.message}`);
      return 2;
    }
    throw error;
  }
}
