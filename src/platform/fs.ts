// Files, folders and environment variables for the parts of feddip that need them (data sets, the
// download cache). Node and Deno 2 both implement node:fs/promises, so one code path serves both; a
// browser has no file system, and says so instead of failing somewhere deeper.
import { FeddipError } from '../errors.ts';
import { denoGlobal, importDynamic, runtimeName } from './runtime.ts';

type NodeFs = typeof import('node:fs/promises');

export interface FileStat {
  size: number;
  isFile: boolean;
  isDirectory: boolean;
}

/** An open file that takes chunks in order (a download in progress). */
export interface FileSink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Whether this runtime has a file system feddip can use (Node, Deno). */
export function hasFileSystem(): boolean {
  const name = runtimeName();
  return name === 'node' || name === 'deno';
}

function unavailable(what: string): FeddipError {
  return new FeddipError('IO_ERROR',
    `${what}: there is no file system in this runtime (${runtimeName()}); in a browser, fetch the files `
    + 'yourself and pass their bytes or arrays (data.parseIdx, data.parseCifar, data.makeDataset)');
}

let fsModule: Promise<NodeFs> | undefined;

async function fs(what: string): Promise<NodeFs> {
  if (!hasFileSystem()) throw unavailable(what);
  fsModule ??= importDynamic<NodeFs>('node:fs/promises');
  return fsModule;
}

const errno = (error: unknown): string | undefined => (error as { code?: string })?.code;

function ioError(action: string, path: string, cause: unknown): FeddipError {
  return new FeddipError('IO_ERROR', `could not ${action} ${path}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}

export async function readFile(path: string): Promise<Uint8Array> {
  const f = await fs(`reading ${path}`);
  try {
    const buf = await f.readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (error) {
    throw ioError('read', path, error);
  }
}

export async function writeFile(path: string, data: Uint8Array): Promise<void> {
  const f = await fs(`writing ${path}`);
  try {
    await f.writeFile(path, data);
  } catch (error) {
    throw ioError('write', path, error);
  }
}

/** Size and kind of `path`, or null when nothing is there (a missing parent folder included). */
export async function stat(path: string): Promise<FileStat | null> {
  const f = await fs(`looking at ${path}`);
  try {
    const s = await f.stat(path);
    return { size: s.size, isFile: s.isFile(), isDirectory: s.isDirectory() };
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return null;
    throw ioError('look at', path, error);
  }
}

/** Replaces `to` by `from` in one step (same file system), so readers never see half a file. */
export async function rename(from: string, to: string): Promise<void> {
  const f = await fs(`renaming ${from}`);
  try {
    await f.rename(from, to);
  } catch (error) {
    throw ioError(`rename ${from} to`, to, error);
  }
}

/** Deletes a file or a folder tree; nothing there is fine. */
export async function remove(path: string): Promise<void> {
  const f = await fs(`removing ${path}`);
  try {
    await f.rm(path, { recursive: true, force: true });
  } catch (error) {
    throw ioError('remove', path, error);
  }
}

/** Creates a folder and its missing parents. */
export async function mkdirp(path: string): Promise<void> {
  const f = await fs(`creating ${path}`);
  try {
    await f.mkdir(path, { recursive: true });
  } catch (error) {
    throw ioError('create the folder', path, error);
  }
}

/** Opens a file for sequential writing: appended to (`append`) or emptied first. */
export async function openSink(path: string, options: { append: boolean }): Promise<FileSink> {
  const f = await fs(`writing ${path}`);
  let handle: Awaited<ReturnType<NodeFs['open']>>;
  try {
    handle = await f.open(path, options.append ? 'a' : 'w');
  } catch (error) {
    throw ioError('open', path, error);
  }
  return {
    async write(chunk) {
      try {
        // FileHandle.write may write less than asked; loop until the chunk is on disk.
        let done = 0;
        while (done < chunk.byteLength) {
          const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done);
          done += bytesWritten;
        }
      } catch (error) {
        throw ioError('write', path, error);
      }
    },
    async close() {
      try {
        await handle.close();
      } catch (error) {
        throw ioError('close', path, error);
      }
    },
  };
}

/** An environment variable, or undefined when unset (or empty). */
export function env(name: string): string | undefined {
  const deno = denoGlobal() as { env?: { get(k: string): string | undefined } } | undefined;
  let value: string | undefined;
  if (deno?.env) {
    try {
      value = deno.env.get(name);
    } catch (cause) {
      throw new FeddipError('IO_ERROR', `reading $${name} needs Deno's --allow-env permission (${(cause as Error).message})`, { cause });
    }
  } else {
    value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  }
  return value === '' ? undefined : value;
}

/** The user's home folder from the environment ($HOME, or %USERPROFILE% on Windows). */
export function homeDir(): string | undefined {
  return env('HOME') ?? env('USERPROFILE');
}

/** The process's working folder, or undefined where there is none (a browser). */
export function cwd(): string | undefined {
  const deno = denoGlobal() as { cwd?: () => string } | undefined;
  if (deno?.cwd) return deno.cwd();
  return (globalThis as { process?: { cwd?: () => string } }).process?.cwd?.();
}

/** Joins path pieces with '/', which Node and Deno accept on every OS, dropping duplicate separators. */
export function joinPath(...parts: string[]): string {
  const kept = parts.filter((p) => p !== '');
  if (kept.length === 0) return '.';
  const joined = kept.join('/').replace(/\/+/g, '/');
  return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined;
}

/** The parent folder of `path` ('/' for a top-level entry, '.' for a bare name). */
export function parentDir(path: string): string {
  const p = path.replace(/[\\/]+$/, '');
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  if (i < 0) return '.';
  return i === 0 ? '/' : p.slice(0, i);
}
