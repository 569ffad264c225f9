// `feddip repro`: the grid of the paper's comparison, its run order, and resuming where it stopped.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { nodeFiles, type RunFiles } from '../../src/cli/io.ts';
import { cellFilter, planRuns, reproCells } from '../../src/cli/repro.ts';

const haveData = existsSync('/usr/share/datasets/fashion-mnist');
const dir = mkdtempSync(join(tmpdir(), 'feddip-repro-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[], files?: RunFiles) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), files: files ?? await nodeFiles(), stopRequested: () => false });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A finished run folder as `feddip simulate` leaves it. */
function fakeRun(root: string, cell: string, seed: number, config: Record<string, unknown>, accs: number[], finished = true) {
  const d = join(root, 'runs', cell, `seed-${seed}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'config.json'), JSON.stringify({ seed, rounds: accs.length, ...config }));
  writeFileSync(join(d, 'metrics.jsonl'), accs.map((a, i) => JSON.stringify({ round: i, test_acc: a, sparsity: 0.9, bytes_down_total: i * 1e6, bytes_up_total: i * 1e6, seconds: 3 })).join('\n'));
  if (finished) writeFileSync(join(d, 'summary.json'), JSON.stringify({ interrupted: false, rounds_completed: accs.length, final_acc: accs.at(-1), final_sparsity: 0.9 }));
}

describe('repro grid', () => {
  it('has every method of the comparison, every sparsity for feddip and feddip-reference, per partition', () => {
    const cells = reproCells(['iid', 'dirichlet:0.5']);
    expect(cells).toHaveLength(34);
    const ids = cells.map((c) => c.id);
    for (const s of [0.8, 0.9, 0.95, 0.98, 0.99]) for (const m of ['feddip', 'feddip-reference']) expect(ids).toContain(`iid/${m}-s${s}`);
    for (const m of ['feddip-noir', 'snip', 'prunefl', 'feddst', 'prunetrain', 'topk-ef']) expect(ids).toContain(`dirichlet-0.5/${m}-s0.95`);
    expect(ids).toContain('iid/fedavg');
    expect(cells.filter((c) => c.headline && c.partition === 'iid').map((c) => c.id).sort()).toEqual(
      ['iid/fedavg', 'iid/feddip-reference-s0.95', 'iid/feddip-reference-s0.99', 'iid/feddip-s0.95', 'iid/feddip-s0.99']);
  });

  it('plans seed 1 of every cell before the other seeds of the headline cells, partition by partition', () => {
    const runs = planRuns(reproCells(['iid', 'dirichlet:0.5']), [1, 2, 3], false, '/r', (...p) => p.join('/'));
    expect(runs).toHaveLength(2 * (17 + 2 * 5));
    const iid = runs.filter((r) => r.cell.partition === 'iid');
    expect(iid.slice(0, 17).every((r) => r.seed === 1)).toBe(true);
    expect(iid.slice(0, 5).every((r) => r.cell.headline)).toBe(true);
    expect(iid.slice(17).every((r) => r.cell.headline && r.seed > 1)).toBe(true);
    expect(runs.findIndex((r) => r.cell.partition !== 'iid')).toBe(27);
    expect(runs[0]!.dir).toBe('/r/iid/fedavg/seed-1');
    expect(planRuns(reproCells(['iid']), [1, 2], true, '/r', (...p) => p.join('/'))).toHaveLength(34);
  });

  it('filters cells with * patterns', () => {
    const keep = cellFilter('iid/feddip-s*,*/snip*');
    expect(keep('iid/feddip-s0.9')).toBe(true);
    expect(keep('iid/feddip-reference-s0.9')).toBe(false);
    expect(keep('dirichlet-0.5/snip-s0.95')).toBe(true);
  });

  it('knows which runs are done, unfinished or to do, and writes the report from the finished ones', async () => {
    const out = join(dir, 'states');
    const cfg = { partition: 'iid', dataset: 'fashion-mnist' };
    fakeRun(out, 'iid/fedavg', 1, { ...cfg, method: 'fedavg' }, [0.5, 0.81, 0.86]);
    fakeRun(out, 'iid/fedavg', 2, { ...cfg, method: 'fedavg' }, [0.5, 0.79, 0.84]);
    fakeRun(out, 'iid/feddip-s0.95', 1, { ...cfg, method: 'feddip', sparsity: 0.95 }, [0.4, 0.7], false);
    const common = ['repro', '--rounds', '3', '--seeds', '2', '--partitions', 'iid', '--cells', 'iid/fedavg,iid/feddip-s0.95', '--out', out];
    const dry = await run([...common, '--dry-run']);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toMatch(/4 runs of 3 rounds in 2 cells .* 2 done, 1 unfinished, 1 to do/);
    expect(dry.out).toMatch(/done +iid\/fedavg seed 2/);
    expect(dry.out).toMatch(/partial +iid\/feddip-s0.95 seed 1/);
    const report = await run([...common, '--report-only']);
    expect(report.code, report.err).toBe(0);
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    expect(md).toContain('from the 2 finished runs of the grid');
    expect(md).toContain('| fedavg | 2 | 3 ± 0 | 85.00 ± 1.41 |');
    expect(md).not.toContain('| feddip 0.95 |');
    // Runs outside this command's cells and seeds stay in the report: a command for one cell
    // rewrites it without dropping the rest of the grid.
    fakeRun(out, 'iid/snip-s0.95', 1, { ...cfg, method: 'snip', sparsity: 0.95 }, [0.5, 0.6, 0.7]);
    fakeRun(out, 'iid/fedavg', 4, { ...cfg, method: 'fedavg' }, [0.5, 0.8, 0.9]);
    expect((await run([...common, '--report-only'])).code).toBe(0);
    const whole = readFileSync(join(out, 'results.md'), 'utf8');
    expect(whole).toContain('from the 4 finished runs of the grid');
    expect(whole).toContain('| snip 0.95 | 1 | 3 | 70.00 |');
    expect(whole).toContain('| fedavg | 3 | 3 ± 0 |');
    expect(whole).toContain('feddip repro --rounds 3 --seeds 4 --partitions iid');
    expect(readFileSync(join(out, 'iid', 'baselines-accuracy.svg'), 'utf8')).toContain('<svg');
  });

  it('refuses a folder that holds another experiment, and bad options', async () => {
    const out = join(dir, 'clash');
    fakeRun(out, 'iid/fedavg', 1, { method: 'fedavg', partition: 'dirichlet:0.5' }, [0.5, 0.6]);
    const r = await run(['repro', '--rounds', '2', '--partitions', 'iid', '--cells', 'iid/fedavg', '--out', out, '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/holds a different run .*move it away/);
    expect((await run(['repro', '--cells', 'nothing*', '--dry-run'])).err).toMatch(/matches no cell; the cells are: iid\/fedavg/);
    expect((await run(['repro', '--shard', '3/2', '--dry-run'])).code).toBe(2);
    expect((await run(['repro', '--', '--method', 'fedavg'])).err).toMatch(/--method is set by the grid/);
  });

  it('runs the pending cells with simulate, then finds them done and runs nothing more', async (ctx) => {
    if (!haveData) return ctx.skip('Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)');
    const out = join(dir, 'real');
    const args = ['repro', '--rounds', '1', '--seeds', '1', '--partitions', 'iid', '--cells', 'iid/fedavg,iid/snip-s0.95', '--out', out, '--threads', '1', '--quiet',
      '--', '--clients', '100', '--fraction', '0.02', '--local-epochs', '1'];
    const files = await nodeFiles();
    const reads = new Map<string, number>();
    const first = await run(args, { ...files, readText: (p) => { reads.set(p, (reads.get(p) ?? 0) + 1); return files.readText(p); } });
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/2 runs .* 0 done, 0 unfinished, 2 to do/);
    // The report is rewritten after each of the two runs and at the end, yet each run's metrics
    // are read once; and it says what a report written from scratch says, byte for byte.
    expect([...reads].filter(([p]) => p.endsWith('metrics.jsonl')).map(([, n]) => n)).toEqual([1, 1]);
    const along = readFileSync(join(out, 'results.md'), 'utf8');
    const dashdash = args.indexOf('--');
    expect((await run([...args.slice(0, dashdash), '--report-only', ...args.slice(dashdash)])).code).toBe(0);
    expect(readFileSync(join(out, 'results.md'), 'utf8')).toBe(along);
    const config = JSON.parse(readFileSync(join(out, 'runs', 'iid', 'snip-s0.95', 'seed-1', 'config.json'), 'utf8'));
    expect(config).toMatchObject({ method: 'snip', sparsity: 0.95, partition: 'iid', seed: 1, rounds: 1, clients: 100 });
    expect(readFileSync(join(out, 'results.md'), 'utf8')).toContain('| snip 0.95 | 1 | 1 |');
    const again = await run(args);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/2 done, 0 unfinished, 0 to do/);
    expect(again.out).not.toMatch(/starting/);
  }, 120_000);
});
