// The published shape of the package: what `import 'feddip'` and the `feddip` binary resolve to.
import { readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

describe('package', () => {
  it('has one version everywhere', () => {
    expect(VERSION).toBe(pkg.version);
  });

  it('exports an ESM entry with types, a wasm file next to it, and a bin', () => {
    expect(pkg.type).toBe('module');
    const entry = new URL(`../../${pkg.exports['.'].import}`, import.meta.url);
    expect(existsSync(entry)).toBe(true);
    expect(existsSync(new URL(`../../${pkg.exports['.'].types}`, import.meta.url))).toBe(true);
    expect(existsSync(new URL('../../dist/feddip.wasm', import.meta.url))).toBe(true);
    const out = execFileSync(process.execPath, [new URL(`../../${pkg.bin.feddip}`, import.meta.url).pathname, '--version'], { encoding: 'utf8' });
    expect(out.trim()).toBe(pkg.version);
  });
});
