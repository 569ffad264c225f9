// `feddip bench`: runs the suites that ship with the package — from an installed copy of the
// package (the files `npm pack` would publish, nothing else), passing options through, with exit
// codes for bad suites and for Ctrl-C.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { nodeFiles } from '../../src/cli/io.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const built = existsSync(join(root, 'dist', 'cli.js')) && existsSync(join(root, 'build', 'wasm', 'peak.wasm'));
const dir = mkdtempSync(join(tmpdir(), 'feddip-cli-bench-'));
const installed = join(dir, 'node_modules', 'feddip');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[], stop = () => false) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), files: await nodeFiles(), stopRequested: stop });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

interface Results { results: Array<{ name: string; suite?: string; ours: number; peer: number | null; unit: string }>; notes: string[]; notes_by_suite?: Record<string, string[]> }

describe.skipIf(!built)('feddip bench', () => {
  beforeAll(() => {
    // Exactly the published files, copied where npm would install them: a file the command needs
    // but "files" in package.json leaves out makes these tests fail.
    const npm = process.env.npm_execpath;
    const packed = npm
      ? execFileSync(process.execPath, [npm, 'pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      : execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const files = (JSON.parse(packed) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    for (const f of files) {
      mkdirSync(dirname(join(installed, f)), { recursive: true });
      cpSync(join(root, f), join(installed, f));
    }
  }, 60_000);

  it('refuses an argument it does not know before any suite runs, and leaves the results file alone', () => {
    const out = join(dir, 'untouched.json');
    writeFileSync(out, '{"keep":1}');
    for (const args of [['--bogus'], ['--only'], ['--quick', '--out']]) {
      const r = spawnSync(process.execPath, [join(installed, 'scripts', 'bench.mjs'), ...args, ...(args.includes('--out') ? [] : ['--out', out])], { encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/unknown argument '--bogus'|needs a value/);
      expect(r.stderr).toMatch(/usage: npm run bench/);
    }
    expect(readFileSync(out, 'utf8')).toBe('{"keep":1}');
    const help = spawnSync(process.execPath, [join(installed, 'scripts', 'bench.mjs'), '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--only/);
  });

  it('runs one suite from the installed package and writes a valid results file', () => {
    const torch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
    // An earlier run's file: --only keeps the notes of suites it does not run and replaces the rest.
    writeFileSync(join(dir, 'k.json'), JSON.stringify({
      results: [], notes: ['an old kernels note', 'a note of the sparse suite'],
      notes_by_suite: { kernels: ['an old kernels note'], sparse: ['a note of the sparse suite'] },
    }));
    const r = spawnSync(process.execPath, [join(installed, 'dist', 'cli.js'), 'bench', '--only', 'kernels', '--quick', '--out', 'k.json'], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, FEDDIP_PEER_PYTHON: torch ? '/usr/bin/python3' : join(dir, 'no-python') },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| gemm_nt_64 \| GFLOP\/s \|/);
    const file = JSON.parse(readFileSync(join(dir, 'k.json'), 'utf8')) as Results;
    const kernels = file.results.filter((e) => e.suite === 'kernels');
    expect(kernels.map((e) => e.name)).toEqual(expect.arrayContaining(['gemm_nt_64', 'gemm_nt_128', 'gemm_nt_256', 'gemm_nt_512', 'linear_400x120_train_b128']));
    for (const e of kernels) expect(e.ours).toBeGreaterThan(0);
    // The SIMD ceiling comes from build/wasm/peak.wasm, which must ship too.
    expect(file.results.find((e) => e.name === 'wasm_simd_peak')?.ours).toBeGreaterThan(0);
    expect(file.results.some((e) => e.suite === 'lenet5' || e.suite === 'fl-round')).toBe(false);
    expect(file.notes).toContain('a note of the sparse suite');
    expect(file.notes).not.toContain('an old kernels note');
    expect(file.notes_by_suite?.kernels?.some((n) => n.startsWith('lenet5_conv*_wgrad_pooled'))).toBe(true);
    expect(file.notes).toEqual(expect.arrayContaining(file.notes_by_suite!.kernels!));
    if (torch) {
      // The peer script was found and ran inside the installed package.
      for (const e of kernels) expect(e.peer, e.name).toBeGreaterThan(0);
    } else {
      expect(file.notes.join('\n')).toMatch(/peer not run/);
    }
  }, 120_000);

  it('measures both sides in three alternating passes and keeps each side\'s fastest', () => {
    // A stand-in for the peer's Python: run k of each thread count reports 300, 500, 400 samples/s.
    const fake = join(dir, 'fake-python.mjs');
    writeFileSync(fake, `#!${process.execPath}
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const counter = ${JSON.stringify(join(dir, 'peer-run-'))} + process.env.OMP_NUM_THREADS;
const k = existsSync(counter) ? Number(readFileSync(counter, 'utf8')) : 0;
writeFileSync(counter, String(k + 1));
const value = [300, 500, 400][k];
const cases = JSON.parse(readFileSync(0, 'utf8'));
console.log(JSON.stringify(Object.fromEntries(cases.map((c) => [c.name, { median_s: c.batch / value, value }]))));
`, { mode: 0o755 });
    const out = join(dir, 'passes.json');
    const r = spawnSync(process.execPath, [join(installed, 'scripts', 'bench.mjs'), '--only', 'lenet5', '--out', out], {
      encoding: 'utf8', env: { ...process.env, FEDDIP_PEER_PYTHON: fake },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.match(/bench: pass \d of 3/g)).toEqual(['bench: pass 1 of 3', 'bench: pass 2 of 3', 'bench: pass 3 of 3']);
    const file = JSON.parse(readFileSync(out, 'utf8')) as { results: Array<Results['results'][number] & { ratio: number; ours_runs: number[]; peer_runs: number[] }> };
    const entries = file.results.filter((e) => e.suite === 'lenet5');
    expect(entries.map((e) => e.name)).toEqual(expect.arrayContaining(['lenet5_train_b64_t1', 'lenet5_train_b64_t2', 'lenet5_train_b128_t1']));
    for (const e of entries) {
      expect(e.peer_runs, e.name).toEqual([300, 500, 400]);
      expect(e.peer, e.name).toBe(500);
      expect(e.ours_runs, e.name).toHaveLength(3);
      expect(e.ours, e.name).toBe(Math.max(...e.ours_runs));
      expect(e.ratio, e.name).toBeCloseTo(e.ours / 500, 12);
    }
  }, 180_000);

  it('exits 2 and lists the suites for an unknown one; --list names them', async () => {
    const bad = await run(['bench', '--only', 'nope', '--out', join(dir, 'never.json')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown bench suite\(s\): nope; available: kernels, lenet5, .*fl-round/);
    expect(existsSync(join(dir, 'never.json'))).toBe(false);
    const list = await run(['bench', '--list']);
    expect(list.code).toBe(0);
    expect(list.out.split('\n')).toEqual(expect.arrayContaining(['kernels', 'lenet5', 'fl-round']));
  }, 60_000);

  it('Ctrl-C stops after the suite in flight, writes what was measured and exits 130', async () => {
    const out = join(dir, 'stopped.json');
    const child = spawn(process.execPath, [join(installed, 'dist', 'cli.js'), 'bench', '--only', 'kernels,lenet5', '--quick', '--out', out], {
      cwd: dir, env: { ...process.env, FEDDIP_PEER_PYTHON: join(dir, 'no-python') },
    });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // As a terminal would: SIGINT to the feddip process once the first suite is done.
      if (!sent && stderr.includes('bench: kernels done')) { sent = true; child.kill('SIGINT'); }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(sent, stderr).toBe(true);
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/bench: interrupted; measured kernels/);
    const file = JSON.parse(readFileSync(out, 'utf8')) as Results;
    const measured = file.results.filter((e) => e.suite === 'kernels').map((e) => e.name);
    expect(measured).toEqual(expect.arrayContaining(['gemm_nt_64', 'gemm_nt_512', 'linear_400x120_train_b128']));
  }, 120_000);

  it('times WebGPU against WASM only on a hardware adapter, and a software one only when told to, under names of its own', async () => {
    const { findAdapter } = await import('../../src/platform/gpu.ts');
    const { adapterIsSoftware } = await import('../../src/backend/webgpu/device.ts');
    const found = await findAdapter();
    const software = found.adapter !== null && adapterIsSoftware(found.adapter);
    // The checkout's own script: the installed copy has no 'webgpu' package beside it.
    const bench = (env: Record<string, string>, out: string) => {
      const r = spawnSync(process.execPath, [join(root, 'scripts', 'bench.mjs'), '--only', 'webgpu', '--quick', '--out', out], { encoding: 'utf8', env: { ...process.env, ...env } });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(readFileSync(out, 'utf8')) as { results: Array<Results['results'][number] & Record<string, unknown>>; notes: string[] };
    };
    const plain = bench({}, join(dir, 'webgpu.json'));
    const entries = plain.results.filter((e) => e.suite === 'webgpu');
    if (!found.adapter || software) {
      expect(entries).toEqual([]);
      expect(plain.notes.join('\n')).toMatch(found.adapter ? /webgpu: not measured: the only adapter here is a software one/ : /webgpu: not measured:/);
    } else {
      expect(entries.map((e) => e.name)).toEqual(['webgpu_gemm_nt_4096', 'webgpu_alexnet_cifar_step_b32']);
    }
    if (!software) return;
    const forced = bench({ FEDDIP_BENCH_WEBGPU: 'software' }, join(dir, 'webgpu-software.json')).results.filter((e) => e.suite === 'webgpu');
    expect(forced.map((e) => e.name)).toEqual(['webgpu_gemm_nt_256_software', 'webgpu_lenet5_step_b32_software']);
    for (const e of forced) {
      expect(e.ours, e.name).toBeGreaterThan(0);
      expect(e.wasm, e.name).toBeGreaterThan(0);
      expect(e.vs_wasm, e.name).toBeCloseTo(e.unit === 's/step' ? (e.wasm as number) / e.ours : e.ours / (e.wasm as number), 9);
      expect(e.adapter, e.name).toMatch(/llvmpipe|swiftshader|lavapipe|softpipe|software/i);
    }
    expect(forced[0]!.max_rel_diff_vs_wasm).toBeLessThan(1e-4);
  }, 120_000);

  it('takes its options from --config (flags win) and names an unknown key', async () => {
    const config = join(dir, 'bench.json');
    writeFileSync(config, JSON.stringify({ only: 'nope', quick: true }));
    expect((await run(['bench', '--config', config, '--list'])).code).toBe(0);
    expect((await run(['bench', '--config', config, '--out', join(dir, 'never.json')])).code).toBe(2);
    writeFileSync(config, JSON.stringify({ suites: 'kernels' }));
    const r = await run(['bench', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/config file '.*bench\.json': unknown option 'suites'; valid options: only, quick, out, list, python/);
    expect(await run(['bench', 'kernels'])).toMatchObject({ code: 2, err: expect.stringMatching(/unexpected argument 'kernels' \(suites go in --only/) });
  }, 60_000);
});
