// `feddip dashboard`: serves the browser dashboard (dist/web/ and the chunks, worker and wasm it
// shares with the library) with the cross-origin isolation headers its training workers need.
// `feddip serve` mounts the same site next to its API, so the page can watch the aggregator from
// the same origin — no CORS, the bearer token never leaves the origin.
import dashboardUrl from 'feddip:dashboard-url';
import { InvalidArgumentError } from '../errors.ts';
import { type Handler, serveHttp } from '../platform/http.ts';
import { staticHandler } from '../platform/static.ts';
import { API_PREFIX } from '../transport/protocol.ts';
import { EXIT_CODES_HELP, formatOptions, parseCommandLine, type Schema } from './args.ts';
import type { NetIo } from './serve.ts';

export interface DashboardSiteOptions {
  /** The aggregator's handler: /v1/… goes to it, and / opens the page in watch mode. */
  api?: Handler;
  /** A folder served under /data/ (IDX files the page can load by URL). */
  dataDir?: string;
}

/** The folder that holds web/index.html: the package's dist/. */
const siteRoot = () => new URL('../', dashboardUrl);

const redirect = (location: string) => new Response(null, { status: 302, headers: { location, 'cache-control': 'no-store' } });

/** The dashboard site as one handler; API paths (when `api` is given) reach the aggregator unchanged. */
export function dashboardSite(options: DashboardSiteOptions = {}): Handler {
  const site = staticHandler({ '/': siteRoot() });
  const data = options.dataDir ? staticHandler({ '/data/': options.dataDir }, { anyType: true }) : undefined;
  return async (request) => {
    const path = new URL(request.url).pathname;
    if (options.api && (path === API_PREFIX || path.startsWith(`${API_PREFIX}/`))) return options.api(request);
    if (data && path.startsWith('/data/')) return data(request);
    if (path === '/' || path === '/dashboard' || path === '/dashboard/') {
      // The page reads the mode from its query: watching this origin's aggregator, or simulating.
      return redirect(options.api ? '/web/?watch=%2F' : `/web/${options.dataDir ? '?data=%2Fdata%2F' : ''}`);
    }
    return site(request);
  };
}

export const DASHBOARD_OPTIONS: Schema = {
  port: { type: 'integer', default: 8788, help: 'TCP port (0: any free port)' },
  host: { type: 'string', default: '127.0.0.1', help: 'interface to listen on (0.0.0.0: every interface)' },
  'data-dir': { type: 'string', help: 'folder of IDX files (e.g. Fashion-MNIST) the page can load from /data/' },
  config: { type: 'string', help: 'JSON file of options (flags win)' },
  quiet: { type: 'boolean', default: false, help: 'no output but errors' },
};

export const DASHBOARD_HELP = `feddip dashboard — the browser dashboard: run a simulation in the page, or watch an aggregator

Usage: feddip dashboard [options]

Options:
${formatOptions(DASHBOARD_OPTIONS)}

The page trains in web workers on the WebAssembly (or WebGPU) backend. To watch a running
'feddip serve', open that server's own address instead: it serves this dashboard at / .

Examples:
  feddip dashboard
  feddip dashboard --port 9000 --data-dir /usr/share/datasets/fashion-mnist
  feddip dashboard --host 0.0.0.0 --quiet

${EXIT_CODES_HELP}
`;

export async function runDashboard(argv: string[], io: NetIo): Promise<number> {
  const { options: o, positional } = await parseCommandLine(DASHBOARD_OPTIONS, argv, io.files.readText);
  if (positional.length) throw new InvalidArgumentError(`unexpected argument '${positional[0]}'`);
  const dataDir = o.dataDir ? io.files.resolve(o.dataDir as string) : undefined;
  const server = await serveHttp(dashboardSite({ dataDir }), { port: o.port as number, hostname: o.host as string });
  if (!o.quiet) {
    io.out(`feddip dashboard: open ${server.url}/ in a browser (Ctrl-C stops)`);
    if (dataDir) io.out(`  ${dataDir} is served at ${server.url}/data/`);
  }
  try {
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => { if (io.stopRequested()) { clearInterval(poll); resolve(); } }, 200);
    });
  } finally {
    await server.close();
  }
  return 0;
}
