// A small static file server for browser tests: fixed URL prefixes mapped to folders, served with
// the cross-origin isolation headers that SharedArrayBuffer (threaded wasm) requires. Loopback only.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json', '.json': 'application/json', '.wasm': 'application/wasm', '.wgsl': 'text/plain',
  '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png',
};

/** mounts: { '/dist/': '/abs/path/dist', ... }. Resolves to { url, close }. */
export async function serveStatic(mounts) {
  const server = createServer(async (req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      const prefix = Object.keys(mounts).filter((p) => path.startsWith(p)).sort((a, b) => b.length - a.length)[0];
      if (!prefix) throw Object.assign(new Error('not found'), { status: 404 });
      const base = mounts[prefix];
      const file = normalize(join(base, path.slice(prefix.length)));
      if (file !== base && !file.startsWith(base.endsWith(sep) ? base : base + sep)) throw Object.assign(new Error('forbidden'), { status: 403 });
      if (!(await stat(file)).isFile()) throw Object.assign(new Error('not a file'), { status: 404 });
      const body = await readFile(file);
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch (error) {
      const status = error.status ?? (error.code === 'ENOENT' ? 404 : 500);
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain' });
      res.end(`${status} ${error.message}`);
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((ok) => server.close(ok)) };
}
