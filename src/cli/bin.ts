// Entry point of the `feddip` executable: wires main() to the process (Node, or Deno's process global).
import { main } from './main.ts';

const proc = (globalThis as unknown as {
  process: { argv: string[]; exitCode?: number; stdout: { write(s: string): void }; stderr: { write(s: string): void } };
}).process;

main(proc.argv.slice(2), {
  out: (line) => proc.stdout.write(`${line}\n`),
  err: (line) => proc.stderr.write(`${line}\n`),
}).then(
  (code) => { proc.exitCode = code; },
  (error: unknown) => {
    proc.stderr.write(`feddip: ${(error as Error)?.message ?? String(error)}\n`);
    proc.exitCode = 1;
  },
);
