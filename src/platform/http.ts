// Serving a web-standard handler `(Request) => Promise<Response>` from a TCP port: Deno.serve where
// it exists, node:http otherwise (Node has fetch's Request/Response but no server that speaks them).
import { FeddipError } from '../errors.ts';
import { denoGlobal, importDynamic, runtimeName } from './runtime.ts';

export type Handler = (request: Request) => Promise<Response>;

export interface HttpServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  readonly url: string;
  /** Stops accepting connections, lets answers in flight finish (for up to 2 s), closes the rest. */
  close(): Promise<void>;
}

export interface ServeOptions {
  port: number;
  /** Interface to bind (default 127.0.0.1: reachable from this machine only). */
  hostname?: string;
}

interface DenoServer { finished: Promise<void>; shutdown(): Promise<void>; addr: { port: number } }
interface DenoServe { serve(o: { port: number; hostname: string; onListen?: () => void }, h: Handler): DenoServer }

type NodeHttp = typeof import('node:http');
type NodeStream = typeof import('node:stream');

const urlHost = (hostname: string) => (hostname.includes(':') ? `[${hostname}]` : hostname);

export async function serveHttp(handler: Handler, options: ServeOptions): Promise<HttpServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  const deno = denoGlobal() as unknown as DenoServe | undefined;
  if (deno?.serve) {
    const server = deno.serve({ port: options.port, hostname, onListen: () => undefined }, handler);
    const port = server.addr.port;
    return { port, url: `http://${urlHost(hostname)}:${port}`, close: () => server.shutdown() };
  }
  if (runtimeName() !== 'node') throw new FeddipError('INVALID_ARGUMENT', `serving HTTP needs Node or Deno; this is ${runtimeName()}`);
  const http = await importDynamic<NodeHttp>('node:http');
  const { Readable } = await importDynamic<NodeStream>('node:stream');
  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        const headers = new Headers();
        for (const [k, v] of Object.entries(req.headers)) {
          if (Array.isArray(v)) for (const item of v) headers.append(k, item);
          else if (v !== undefined) headers.set(k, v);
        }
        const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
        const request = new Request(`http://${urlHost(hostname)}:${(server.address() as { port: number }).port}${req.url ?? '/'}`, {
          method: req.method, headers,
          // Streamed, so the handler's size limit stops an oversized upload early.
          body: hasBody ? Readable.toWeb(req) as unknown as ReadableStream<Uint8Array> : undefined,
          ...(hasBody ? { duplex: 'half' } : {}),
        } as RequestInit);
        const response = await handler(request);
        const out: Record<string, string> = {};
        response.headers.forEach((value, key) => { out[key] = value; });
        const body = response.body ? new Uint8Array(await response.arrayBuffer()) : undefined;
        if (body) out['content-length'] = String(body.byteLength);
        res.writeHead(response.status, out);
        res.end(body);
        // A body the handler refused to read must not be left half-received on a kept-alive socket.
        if (hasBody && !req.readableEnded) req.destroy();
      } catch (error) {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'internal', message: 'internal error' }));
        } else res.destroy();
        void error;
      }
    })();
  });
  // Slow-loris protection: a request must arrive whole within a minute.
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new FeddipError('IO_ERROR', `could not listen on ${hostname}:${options.port}: ${e.message}`, { cause: e })));
    server.listen(options.port, hostname, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://${urlHost(hostname)}:${port}`,
    // Gracefully: answers being written still reach their clients (a client told "finished" must
    // hear it); idle keep-alive sockets close now, and anything still open after 2 s is cut.
    close: () => new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), 2000);
      server.close(() => { clearTimeout(force); resolve(); });
      server.closeIdleConnections();
    }),
  };
}
