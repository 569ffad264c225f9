// Runs the conformance suite under Deno (the binary from the `deno` npm package).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const denoBin = join(dirname(require.resolve('deno/package.json')), 'bin.cjs');
// Mesa warns about a missing runtime dir when Deno opens a Vulkan adapter; give it a private one.
const runtimeDir = mkdtempSync(join(tmpdir(), 'feddip-deno-'));
const result = spawnSync(process.execPath, [denoBin, 'run', '--no-check', '--allow-read', '--allow-env', '--no-prompt', 'test/runtimes/deno.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir, NO_COLOR: '1' },
});
rmSync(runtimeDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
