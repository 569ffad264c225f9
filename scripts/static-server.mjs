// The static server of the browser tests: the package's own static handler (src/platform/static.ts,
// the one `feddip dashboard` uses, with the cross-origin isolation headers that threaded wasm
// needs) on a loopback port. It comes from the built dist/, which every browser test needs anyway.
import { transport } from '../dist/feddip.js';

/** mounts: { '/dist/': '/abs/path/dist', ... }. Resolves to { url, close }. */
export async function serveStatic(mounts) {
  const server = await transport.serveHttp(transport.staticHandler(mounts, { anyType: true }), { port: 0 });
  return { url: server.url, close: () => server.close() };
}
