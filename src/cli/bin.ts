// Entry point of the `feddip` executable: wires main() to the process (Node, or Deno's process global).
import { nodeFiles } from './io.ts';
import { main, STOPPABLE_COMMANDS } from './main.ts';
import { EXIT } from './args.ts';

const proc = (globalThis as unknown as {
  process: {
    argv: string[]; exitCode?: number; exit(code: number): never;
    stdout: { write(s: string): void; on(event: 'error', handler: (e: { code?: string }) => void): void };
    stderr: { write(s: string): void; isTTY?: boolean; columns?: number };
    on(signal: 'SIGINT', handler: () => void): void;
  };
}).process;

// Output piped into a reader that stopped early (`feddip repro --dry-run | head`) is not an error.
proc.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') proc.exit(proc.exitCode ?? 0);
  throw e;
});

// The first Ctrl-C asks a long-running command to stop at a safe point (it writes what was done
// and exits 130); a second one aborts. Short commands (report, data, backends) write atomically or
// resumably, so ending them at once loses nothing.
const command = proc.argv[2] ?? '';
let stop = false;
proc.on('SIGINT', () => {
  if (stop || !STOPPABLE_COMMANDS.has(command)) {
    proc.stderr.write('\nfeddip: interrupted\n');
    proc.exit(EXIT.interrupted);
  }
  stop = true;
  proc.stderr.write(`\nfeddip: stopping after the current ${command === 'bench' ? 'suite' : 'round'} (Ctrl-C again to abort)\n`);
});

main(proc.argv.slice(2), {
  out: (line) => proc.stdout.write(`${line}\n`),
  err: (line) => proc.stderr.write(`${line}\n`),
  files: await nodeFiles(),
  stopRequested: () => stop,
  progress: proc.stderr,
}).then(
  (code) => { proc.exitCode = code; },
  (error: unknown) => {
    // Errors of the machine (a file that cannot be opened, a full disk) carry a Node error code;
    // anything else reaching here is a bug in feddip, and its stack is what a report needs.
    const e = error as Error & { code?: unknown };
    const system = typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code);
    proc.stderr.write(system || !(e instanceof Error)
      ? `feddip: ${e?.message ?? String(error)}\n`
      : `feddip: unexpected error (please report it with the command line): ${e.stack ?? e.message}\n`);
    proc.exitCode = EXIT.failure;
  },
);
