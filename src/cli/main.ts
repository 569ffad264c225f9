// The `feddip` command. Each subcommand is a small function; exit codes: 0 success, 1 the work
// failed, 2 the command line was wrong.
import { backends } from '../backend/registry.ts';
import { cmdData } from './data.ts';
import { runtimeDescription } from '../platform/runtime.ts';
import { VERSION } from '../version.ts';

interface Io { out(line: string): void; err(line: string): void }

const HELP = `feddip ${VERSION} — federated learning with extreme dynamic pruning

Usage: feddip <command> [options]

Commands:
  backends [--json]   list the compute backends and whether each runs here (and why not)
  data <command>      find or download the data sets (see feddip data help)
  help                show this help
  version             print the version

Examples:
  feddip backends
  feddip backends --json
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
    default:
      io.err(`feddip: unknown command '${command}' (try 'feddip help')`);
      return 2;
  }
}
