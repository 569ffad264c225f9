// The published shape of the package: what `import 'feddip'` and the `feddip` binary resolve to.
import { existsSync, readFileSync, statSync } from 'node:fs';
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

  it('builds the bin executable, so that `npx feddip` in a checkout runs it after every rebuild', () => {
    const bin = new URL(`../../${pkg.bin.feddip}`, import.meta.url);
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    if (process.platform !== 'win32') expect(statSync(bin).mode & 0o111).toBe(0o111);
    const out = execFileSync(bin.pathname, ['--version'], { encoding: 'utf8' });
    expect(out.trim()).toBe(pkg.version);
  });
});
