// `feddip bench`: runs the benchmark suites that ship with the package (scripts/bench.mjs and
// scripts/bench/*.mjs, with the PyTorch peer bench/peer_torch.py). The suites stay plain scripts
// so that `npm run bench` and this command run the same code; this file only finds them, passes
// the options through and turns the child's end into an exit code.
import dashboardUrl from 'feddip:dashboard-url';
import { FeddipError, InvalidArgumentError } from '../errors.ts';
import { importDynamic, runtimeName } from '../platform/runtime.ts';
import { EXIT, EXIT_CODES_HELP, formatOptions, parseCommandLine, type Schema } from './args.ts';
import type { RunFiles } from './io.ts';

export const BENCH_OPTIONS: Schema = {
  only: { type: 'string', help: 'comma-separated suites to run (default: all; --list names them)' },
  quick: { type: 'boolean', default: false, help: 'fewer and shorter repetitions: a smoke test, not figures to publish' },
  out: { type: 'string', default: 'bench-results.json', help: 'results file (JSON); with --only the other suites\' entries already in it are kept' },
  list: { type: 'boolean', default: false, help: 'print the suites, one per line, and exit' },
  python: { type: 'string', help: 'Python with torch for the PyTorch peer (default $FEDDIP_PEER_PYTHON, else /usr/bin/python3)' },
  config: { type: 'string', help: 'JSON file of options (flags win)' },
};

export const BENCH_HELP = `feddip bench — our kernels, training step and FedDIP round against PyTorch on this CPU

Usage: feddip bench [options]

Options:
${formatOptions(BENCH_OPTIONS)}

Runs the suites in a separate Node process and prints a table (ratio > 1: we are faster). The
PyTorch peer runs in the same command when its Python is found (Debian: apt-get install
python3-torch); without it the peer columns stay empty and a note says why. Each measurement is a
median of 5 runs; without --quick the suites run three times, each pass followed by one run of the
peer, and an entry keeps each side's fastest pass (all of them are in the file).

Examples:
  feddip bench --list
  feddip bench --only kernels --quick --out /tmp/kernels.json
  feddip bench --only fl-round --out bench-results.json     # re-measure one suite, keep the rest
  feddip bench --python ~/venv/bin/python

${EXIT_CODES_HELP}
`;

interface Io { out(line: string): void; err(line: string): void; files: RunFiles; stopRequested(): boolean }

interface ChildProcess {
  pid?: number;
  stdout: { on(e: 'data', h: (d: Uint8Array) => void): void };
  stderr: { on(e: 'data', h: (d: Uint8Array) => void): void };
  on(e: 'close', h: (code: number | null, signal: string | null) => void): void;
  on(e: 'error', h: (error: Error) => void): void;
  kill(signal?: string): boolean;
}
interface NodeChildProcess { spawn(cmd: string, args: string[], o: object): ChildProcess }
interface NodeProcess {
  execPath: string; env: Record<string, string | undefined>;
  on(e: 'exit', h: () => void): void; off(e: 'exit', h: () => void): void;
}

/**
 * The package root: dist/web/index.html is two levels under it, in a checkout and in an installed
 * package alike, wherever the bundler put this code (dist/cli.js or a chunk).
 */
export const packageRoot = (): URL => new URL('../../', dashboardUrl);

/** Splits a byte stream into lines for `emit`, keeping a partial last line until it completes. */
function lineSplitter(emit: (line: string) => void) {
  const decoder = new TextDecoder();
  let rest = '';
  return {
    push(chunk: Uint8Array) {
      rest += decoder.decode(chunk, { stream: true });
      const lines = rest.split('\n');
      rest = lines.pop()!;
      for (const line of lines) emit(line);
    },
    end() { if (rest) emit(rest); rest = ''; },
  };
}

export async function runBench(argv: string[], io: Io): Promise<number> {
  const { options: o, positional } = await parseCommandLine(BENCH_OPTIONS, argv, io.files.readText);
  if (positional.length) throw new InvalidArgumentError(`unexpected argument '${positional[0]}' (suites go in --only, e.g. --only kernels,lenet5)`);
  if (runtimeName() !== 'node') {
    throw new InvalidArgumentError('feddip bench runs under Node (the suites start the PyTorch peer and time Node\'s worker threads): run it with node or npx');
  }
  const script = new URL('scripts/bench.mjs', packageRoot());
  const fs = await importDynamic<{ existsSync(p: URL): boolean }>('node:fs');
  const { fileURLToPath } = await importDynamic<{ fileURLToPath(u: URL): string }>('node:url');
  if (!fs.existsSync(script)) {
    throw new FeddipError('IO_ERROR', `the benchmark suites are not in this installation (looked for ${fileURLToPath(script)}); reinstall feddip, or run 'npm run bench' in a checkout`);
  }
  const args = [fileURLToPath(script)];
  if (o.list) args.push('--list');
  if (o.quick) args.push('--quick');
  if (o.only !== undefined) args.push('--only', String(o.only));
  args.push('--out', io.files.resolve(String(o.out)));

  const proc = (globalThis as unknown as { process: NodeProcess }).process;
  const { spawn } = await importDynamic<NodeChildProcess>('node:child_process');
  const env = { ...proc.env, ...(o.python ? { FEDDIP_PEER_PYTHON: String(o.python) } : {}) };
  // Its own process group: a Ctrl-C in the terminal reaches only this process, which passes it on
  // once (bench.mjs treats a second SIGINT as "abort", so it must not get the terminal's as well).
  const child = spawn(proc.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killOnExit = () => { child.kill('SIGKILL'); };
  proc.on('exit', killOnExit); // a second Ctrl-C exits this process at once: take the child along
  const out = lineSplitter(io.out);
  const err = lineSplitter(io.err);
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  let forwarded = false;
  const poll = setInterval(() => {
    if (!forwarded && io.stopRequested()) { forwarded = true; child.kill('SIGINT'); }
  }, 50);
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
      child.on('error', (error) => reject(new FeddipError('IO_ERROR', `could not start ${proc.execPath} for the benchmark: ${error.message}`, { cause: error })));
      child.on('close', (c, s) => resolve({ code: c, signal: s }));
    });
    out.end();
    err.end();
    if (code === EXIT.ok || code === EXIT.usage || code === EXIT.interrupted) return code;
    if (signal === 'SIGINT') return EXIT.interrupted;
    io.err(`feddip bench: the benchmark failed (${signal ? `signal ${signal}` : `exit ${code}`}); its messages are above`);
    return EXIT.failure;
  } finally {
    clearInterval(poll);
    proc.off('exit', killOnExit);
  }
}
