// One plugin for rollup (the published bundle) and vite (vitest): `.wgsl` imports become strings;
// `.wasm` imports become a URL. In the bundle the file is emitted next to the output and found
// through import.meta.url; under vitest it is the file in build/wasm/.
// `feddip:worker-url` is the URL of the client-training worker script: in the bundle, the emitted
// dist/worker.js; under vitest the built dist/worker.js too (workers run JavaScript, not sources).
// `feddip:kernel-worker-url` is the URL of the threaded wasm backend's kernel worker (dist/kernel-worker.js),
// the same way.
// `feddip:dashboard-url` is the URL of the dashboard page, dist/web/index.html: importing it emits
// the page's static files (src/web/*.html, *.css) next to the dashboard.js entry.
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORKER_ID = '\0feddip-worker-url';
const KERNEL_WORKER_ID = '\0feddip-kernel-worker-url';
const DASHBOARD_ID = '\0feddip-dashboard-url';
const WEB_STATIC = ['index.html', 'dashboard.css'];

export function feddipAssets({ emitWasm }) {
  return {
    name: 'feddip-assets',
    enforce: 'pre',
    resolveId(id) {
      if (id === 'feddip:worker-url') return WORKER_ID;
      if (id === 'feddip:kernel-worker-url') return KERNEL_WORKER_ID;
      if (id === 'feddip:dashboard-url') return DASHBOARD_ID;
      return null;
    },
    load(id) {
      if (id === WORKER_ID) {
        if (!emitWasm) return `export default new URL(${JSON.stringify(pathToFileURL(join(root, 'dist', 'worker.js')).href)});`;
        const ref = this.emitFile({ type: 'chunk', id: join(root, 'src', 'fl', 'worker.ts'), fileName: 'worker.js' });
        return `export default new URL(import.meta.ROLLUP_FILE_URL_${ref});`;
      }
      if (id === KERNEL_WORKER_ID) {
        if (!emitWasm) return `export default new URL(${JSON.stringify(pathToFileURL(join(root, 'dist', 'kernel-worker.js')).href)});`;
        const ref = this.emitFile({ type: 'chunk', id: join(root, 'src', 'backend', 'wasm', 'kernel-worker.ts'), fileName: 'kernel-worker.js' });
        return `export default new URL(import.meta.ROLLUP_FILE_URL_${ref});`;
      }
      if (id === DASHBOARD_ID) {
        if (!emitWasm) return `export default new URL(${JSON.stringify(pathToFileURL(join(root, 'dist', 'web', 'index.html')).href)});`;
        const refs = WEB_STATIC.map((name) => {
          const file = join(root, 'src', 'web', name);
          this.addWatchFile?.(file);
          return this.emitFile({ type: 'asset', fileName: `web/${name}`, source: readFileSync(file) });
        });
        return `export default new URL(import.meta.ROLLUP_FILE_URL_${refs[0]});`;
      }
      const file = id.split('?')[0];
      if (file.endsWith('.wgsl')) {
        this.addWatchFile?.(file);
        return `export default ${JSON.stringify(readFileSync(file, 'utf8'))};`;
      }
      if (file.endsWith('.wasm')) {
        if (!emitWasm) return `export default new URL(${JSON.stringify(pathToFileURL(file).href)});`;
        const ref = this.emitFile({ type: 'asset', fileName: basename(file), source: readFileSync(file) });
        return `export default new URL(import.meta.ROLLUP_FILE_URL_${ref});`;
      }
      return null;
    },
  };
}
