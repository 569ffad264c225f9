// One plugin for rollup (the published bundle) and vite (vitest): `.wgsl` imports become strings;
// `.wasm` imports become a URL. In the bundle the file is emitted next to the output and found
// through import.meta.url; under vitest it is the file in build/wasm/.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';

export function feddipAssets({ emitWasm }) {
  return {
    name: 'feddip-assets',
    enforce: 'pre',
    load(id) {
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
