// Static files as a web-standard handler, for the dashboard and the browser tests. Every answer
// carries the cross-origin isolation headers, because the page's training workers only share
// memory (SharedArrayBuffer) with a cross-origin-isolated page. Files are read through node:fs,
// which Node and Deno both provide.
import { importDynamic } from './runtime.ts';
import type { Handler } from './http.ts';

/** Content types of the files a page needs; anything else (sources, type declarations) is not served. */
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8', map: 'application/json', json: 'application/json', wasm: 'application/wasm',
  wgsl: 'text/plain; charset=utf-8', svg: 'image/svg+xml', png: 'image/png', txt: 'text/plain; charset=utf-8',
  gz: 'application/gzip',
};

export const ISOLATION_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
});

export interface StaticOptions {
  /** `Cache-Control` of file answers (default no-store: a rebuilt page is never served stale). */
  cacheControl?: string;
  /** Serve every extension, not only the web types above (test fixtures with odd names). */
  anyType?: boolean;
}

interface NodeFs {
  stat(p: URL): Promise<{ isFile(): boolean; isDirectory(): boolean }>;
  readFile(p: URL): Promise<Uint8Array>;
}

function typeOf(name: string): string | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1).toLowerCase();
  const dot = base.lastIndexOf('.');
  return dot < 0 ? undefined : TYPES[base.slice(dot + 1)];
}

const text = (status: number, body: string, headers: Record<string, string> = {}) =>
  new Response(body, { status, headers: { ...ISOLATION_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers } });

/** A folder path (POSIX or Windows) or file: URL as a file: URL ending in '/'; names are percent-encoded. */
const asDirectoryUrl = (dir: string | URL): URL => {
  let url: URL;
  if (dir instanceof URL) url = new URL(dir.href);
  else {
    const parts = dir.replace(/\\/g, '/').split('/').map((part, i) => (i === 0 && /^[A-Za-z]:$/.test(part) ? part : encodeURIComponent(part)));
    const path = parts.join('/');
    url = new URL(`file://${path.startsWith('/') ? '' : '/'}${path}`);
  }
  if (url.protocol !== 'file:') throw new TypeError(`staticHandler: ${url.href} is not a file: URL`);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
};

/**
 * Serves folders under URL prefixes: `{ '/dist/': '/abs/dist', '/': fileUrlOfFolder }` (the longest
 * matching prefix wins). GET and HEAD only; `…/` serves index.html; a folder without the slash is
 * redirected to it, so the page's relative URLs resolve inside it. Paths that would leave a folder
 * (`..`, encoded or not) are refused.
 */
export function staticHandler(mounts: Readonly<Record<string, string | URL>>, options: StaticOptions = {}): Handler {
  const table = Object.entries(mounts)
    .map(([prefix, dir]) => {
      if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new TypeError(`staticHandler: mount prefix '${prefix}' must start and end with '/'`);
      return [prefix, asDirectoryUrl(dir)] as const;
    })
    .sort((a, b) => b[0].length - a[0].length);
  const cacheControl = options.cacheControl ?? 'no-store';
  let fs: Promise<NodeFs> | undefined;

  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, `405 ${request.method} not allowed`, { allow: 'GET, HEAD' });
    const url = new URL(request.url);
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return text(400, '400 malformed path');
    }
    if (path.includes('\0') || path.includes('\\') || path.split('/').some((part) => part === '..')) return text(403, '403 forbidden');
    const mount = table.find(([prefix]) => path.startsWith(prefix) || `${path}/` === prefix);
    if (!mount) return text(404, `404 ${path} not found`);
    if (`${path}/` === mount[0]) return text(301, '', { location: `${url.pathname}/${url.search}` });
    const [prefix, base] = mount;
    let rel = path.slice(prefix.length);
    const wantsIndex = rel === '' || rel.endsWith('/');
    if (wantsIndex) rel += 'index.html';
    // Each segment is re-encoded so that '#', '?' or '%' in a name stay part of the path.
    const file = new URL(rel.split('/').map(encodeURIComponent).join('/'), base);
    if (!file.href.startsWith(base.href)) return text(403, '403 forbidden');
    fs ??= importDynamic<NodeFs>('node:fs/promises');
    const nodeFs = await fs;
    try {
      const info = await nodeFs.stat(file);
      if (info.isDirectory() && !wantsIndex) return text(301, '', { location: `${url.pathname}/${url.search}` });
      if (!info.isFile()) return text(404, `404 ${path} not found`);
      const type = typeOf(rel) ?? (options.anyType ? 'application/octet-stream' : undefined);
      if (!type) return text(404, `404 ${path} not found`);
      const body = await nodeFs.readFile(file);
      return new Response(request.method === 'HEAD' ? null : body as Uint8Array<ArrayBuffer>, {
        status: 200,
        headers: { ...ISOLATION_HEADERS, 'content-type': type, 'cache-control': cacheControl, 'content-length': String(body.byteLength) },
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || (error as Error).name === 'NotFound') return text(404, `404 ${path} not found`);
      return text(500, '500 could not read the file');
    }
  };
}
