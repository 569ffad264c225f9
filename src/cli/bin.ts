// Entry point of the `feddip` executable: wires main() to the process (Node, or Deno's process global).
import { nodeFiles } from './io.ts';
import { main } from './main.ts';

const proc = (globalThis as unknown as {
  process: {
    argv: string[]; exitCode?: number; exit(code: number): never;
    stdout: { write(s: string): void; on(event: 'error', handler: (e: { code?: string }) => void): void };
    stderr: { write(s: string): void };
    on(signal: 'SIGINT', handler: () => void): void;
  };
}).process;

// Output piped into a reader that stopped early (`feddip repro --dry-run | head`) is not an error.
proc.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') proc.exit(proc.exitCode ?? 0);
  throw e;
});

// The first Ctrl-C asks the running command to stop at a safe point; a second one aborts.
let stop = false;
proc.on('SIGINT', () => {
  if (stop) proc.exit(130);
  stop = true;
  proc.stderr.write('\nfeddip: stopping after the current round (Ctrl-C again to abort)\n');
});

main(proc.argv.slice(2), {
  out: (line) => proc.stdout.write(`${line}\n`),
  err: (line) => proc.stderr.write(`${line}\n`),
  files: await nodeFiles(),
  stopRequested: () => stop,
}).then(
  (code) => { proc.exitCode = code; },
  (error: unknown) => {
    proc.stderr.write(`feddip: ${(error as Error)?.message ?? String(error)}\n`);
    proc.exitCode = 1;
  },
);
