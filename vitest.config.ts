import { defineConfig } from 'vitest/config';
import { feddipAssets } from './scripts/asset-plugin.mjs';

export default defineConfig({
  plugins: [feddipAssets({ emitWasm: false })],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Kernel tests are CPU-bound; two workers match the machine.
    maxWorkers: 2,
  },
});
