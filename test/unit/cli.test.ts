import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe('feddip CLI', () => {
  it('prints help with examples and exits 0', async () => {
    const c = capture();
    expect(await main(['--help'], c.io)).toBe(0);
    expect(c.out.join('\n')).toMatch(/Usage: feddip <command>/);
    expect(c.out.join('\n')).toMatch(/Examples:/);
  });

  it('exits 2 on an unknown command and says what to do', async () => {
    const c = capture();
    expect(await main(['frobnicate'], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/unknown command 'frobnicate' \(try 'feddip help'\)/);
  });

  it('reports every backend as JSON, with a reason for each unavailable one', async () => {
    const c = capture();
    expect(await main(['backends', '--json'], c.io)).toBe(0);
    const report = JSON.parse(c.out.join('\n'));
    expect(report.runtime).toMatch(/^node /);
    expect(report.backends.map((b: { name: string }) => b.name)).toEqual(['wasm', 'webgpu', 'reference']);
    for (const b of report.backends) {
      expect(b.available ? b.description : b.reason).toEqual(expect.any(String));
    }
    expect(report.backends[0].available).toBe(true);
  });

  it('rejects unknown options', async () => {
    const c = capture();
    expect(await main(['backends', '--fast'], c.io)).toBe(2);
  });
});
