// The one place that knows which JavaScript runtime we are in and how it reads files. Everything
// else in feddip is runtime-neutral and goes through these functions.
import { FeddipError } from '../errors.ts';

export type RuntimeName = 'node' | 'deno' | 'browser' | 'unknown';

interface DenoLike {
  readFile(path: string | URL): Promise<Uint8Array>;
  version?: { deno?: string };
}

export function denoGlobal(): DenoLike | undefined {
  return (globalThis as { Deno?: DenoLike }).Deno;
}

export function runtimeName(): RuntimeName {
  if (denoGlobal()) return 'deno';
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (proc?.versions?.node) return 'node';
  if (typeof (globalThis as { document?: unknown }).document !== 'undefined'
    || typeof (globalThis as { importScripts?: unknown }).importScripts === 'function'
    || typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined') {
    return 'browser';
  }
  return 'unknown';
}

/** A human-readable runtime description, e.g. "node 20.20.2". */
export function runtimeDescription(): string {
  const name = runtimeName();
  if (name === 'deno') return `deno ${denoGlobal()?.version?.deno ?? ''}`.trim();
  if (name === 'node') {
    return `node ${(globalThis as unknown as { process: { versions: { node: string } } }).process.versions.node}`;
  }
  if (name === 'browser') return (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ?? 'browser';
  return 'unknown runtime';
}

/**
 * Imports a module by a specifier that bundlers must not try to resolve for the browser
 * (Node built-ins, optional native packages). It is only ever called on the runtime that has it.
 */
export function importDynamic<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier) as Promise<T>;
}

/**
 * Lets the engine compile relaxed SIMD where it has it behind a switch: Node 20, whose V8 keeps it
 * behind --experimental-wasm-relaxed-simd (Node 22 and later, Deno and Chrome have it on). The flag
 * only adds instructions to what validates, and it is process-wide, so workers started later see
 * it too. Resolves whether it was set; elsewhere there is no switch to set.
 */
export async function allowRelaxedSimd(): Promise<boolean> {
  if (runtimeName() !== 'node') return false;
  try {
    const v8 = await importDynamic<{ setFlagsFromString(flags: string): void }>('node:v8');
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    return true;
  } catch {
    return false;
  }
}

/** Reads a whole file: `file:` URLs from disk (Node, Deno), anything else over fetch. */
export async function readBinary(url: URL | string): Promise<Uint8Array> {
  const href = url instanceof URL ? url : new URL(url);
  try {
    if (href.protocol === 'file:') {
      const deno = denoGlobal();
      if (deno) return await deno.readFile(href);
      if (runtimeName() === 'node') {
        const fs = await importDynamic<{ readFile(p: URL): Promise<Uint8Array> }>('node:fs/promises');
        const buf = await fs.readFile(href);
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      }
    }
    const response = await fetch(href);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    return new Uint8Array(await response.arrayBuffer());
  } catch (cause) {
    throw new FeddipError('IO_ERROR', `could not read ${href.href}: ${(cause as Error).message}`, { cause });
  }
}
