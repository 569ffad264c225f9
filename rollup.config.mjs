// dist/feddip.js (the library), dist/cli.js (the `feddip` command) and dist/web/ (the dashboard
// page) as ES modules for Node, Deno and browsers, with the wasm module and the training worker
// emitted beside them; build/test/ holds the conformance suite compiled for the browser run.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import typescript from '@rollup/plugin-typescript';
import { feddipAssets } from './scripts/asset-plugin.mjs';

const ts = (tsconfig, options = {}) => typescript({
  tsconfig,
  declaration: false,
  declarationMap: false,
  // rollup resolves the .ts specifiers itself. Rewriting them would make TypeScript call a helper
  // it does not emit for import() with a computed specifier (platform/runtime.ts needs one).
  rewriteRelativeImportExtensions: false,
  noEmit: false,
  outDir: undefined,
  rootDir: undefined,
  ...options,
});

// Without the rewrite, TypeScript notes that .ts specifiers need it (TS5096); that is the one
// diagnostic this build expects, every other one is shown.
const onwarn = (warning, warn) => {
  if (warning.plugin === 'typescript' && warning.message.includes('TS5096')) return;
  warn(warning);
};

// The `feddip` command must be executable as built: `npx feddip` in a checkout runs it through a
// link that npm marks executable only when it first creates it, and a rebuilt file is 0644 again.
const executableCli = {
  name: 'executable-cli',
  writeBundle(options, bundle) {
    if (bundle['cli.js']) chmodSync(join(options.dir, 'cli.js'), 0o755);
  },
};

export default [
  {
    // The dashboard shares the library's chunks, worker and wasm: dist/ is the site it is served from.
    input: { feddip: 'src/index.ts', cli: 'src/cli/bin.ts', 'web/dashboard': 'src/web/main.ts' },
    onwarn,
    output: {
      dir: 'dist',
      format: 'es',
      entryFileNames: '[name].js',
      chunkFileNames: 'chunks/feddip-[hash].js',
      sourcemap: true,
      banner: (chunk) => (chunk.name === 'cli' ? '#!/usr/bin/env node' : ''),
    },
    plugins: [feddipAssets({ emitWasm: true }), ts('tsconfig.json'), executableCli],
  },
  {
    input: 'test/conformance/suite.ts',
    onwarn,
    output: { file: 'build/test/suite.js', format: 'es', sourcemap: true },
    plugins: [ts('tsconfig.test.json', { include: ['src/**/*.ts', 'test/conformance/**/*.ts'] })],
  },
];
