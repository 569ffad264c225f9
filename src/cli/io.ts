// What the command line needs from the machine: files for run outputs, the terminal, signals.
// The CLI runs under Node and Deno, which both provide node:fs and the process object.
import { importDynamic } from '../platform/runtime.ts';

export interface RunFiles {
  mkdir(path: string): Promise<void>;
  writeText(path: string, text: string): Promise<void>;
  appendText(path: string, text: string): Promise<void>;
  writeBytes(path: string, bytes: Uint8Array): Promise<void>;
  readText(path: string): Promise<string>;
  join(...parts: string[]): string;
  resolve(path: string): string;
}

interface NodeFs {
  mkdir(p: string, o: { recursive: boolean }): Promise<unknown>;
  writeFile(p: string, d: string | Uint8Array): Promise<void>;
  appendFile(p: string, d: string): Promise<void>;
  readFile(p: string, e: 'utf8'): Promise<string>;
  rename(a: string, b: string): Promise<void>;
}
interface NodePath { join(...p: string[]): string; resolve(p: string): string }

/** Files through node:fs; whole-file writes go to a temporary name first, then rename (atomic). */
export async function nodeFiles(): Promise<RunFiles> {
  const fs = await importDynamic<NodeFs>('node:fs/promises');
  const path = await importDynamic<NodePath>('node:path');
  const atomic = async (p: string, data: string | Uint8Array) => {
    const tmp = `${p}.tmp-${Date.now()}`;
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, p);
  };
  return {
    mkdir: async (p) => { await fs.mkdir(p, { recursive: true }); },
    writeText: atomic,
    appendText: (p, t) => fs.appendFile(p, t),
    writeBytes: atomic,
    readText: (p) => fs.readFile(p, 'utf8'),
    join: (...p) => path.join(...p),
    resolve: (p) => path.resolve(p),
  };
}
