// Cells of several seeds: grouping by configuration, mean ± std, seeds that reach a target, mean curves.
import { describe, expect, it } from 'vitest';
import { buildGroupReport, configKey, groupRuns, markdownGroupTable, meanRun, stat, summarizeGroup, type RunData } from '../../src/report/index.ts';

const run = (name: string, accs: number[], config: Record<string, unknown>, seconds = 2): RunData => ({
  name, config,
  rounds: accs.map((a, i) => ({ round: i, test_acc: a, sparsity: 0.5 + i / 100, bytes_down_total: (i + 1) * 1e6, bytes_up_total: (i + 1) * 5e5, seconds: seconds + i })),
});

describe('seed groups', () => {
  it('computes mean and sample standard deviation, ignoring missing values', () => {
    expect(stat([1, 2, 3])).toEqual({ mean: 2, std: 1, n: 3 });
    expect(stat([4])).toEqual({ mean: 4, std: 0, n: 1 });
    expect(stat([NaN, 2, 4]).mean).toBe(3);
    expect(stat([]).n).toBe(0);
  });

  it('groups runs whose configurations differ only in seed, output folder or thread count', () => {
    const base = { method: 'feddip', sparsity: 0.95, partition: 'iid' };
    const runs = [
      run('a', [0.5], { ...base, seed: 1, out: '/x', threads: 2 }),
      run('b', [0.6], { ...base, seed: 2, out: '/y', threads: 1 }),
      run('c', [0.7], { ...base, sparsity: 0.99, seed: 1 }),
    ];
    expect(configKey(runs[0]!.config)).toBe(configKey(runs[1]!.config));
    expect(configKey(runs[0]!.config)).not.toBe(configKey(runs[2]!.config));
    const groups = groupRuns(runs);
    expect(groups.map((g) => g.runs.map((r) => r.name))).toEqual([['a', 'b'], ['c']]);
  });

  it('summarises a cell: mean ± std of final accuracy; rounds to a target over the seeds that reached it', () => {
    const g = { name: 'feddip 0.95', runs: [run('s1', [0.7, 0.82, 0.86], {}), run('s2', [0.75, 0.8, 0.84], {}), run('s3', [0.6, 0.7, 0.78], {})] };
    const s = summarizeGroup(g, [0.8, 0.85]);
    expect(s.seeds).toBe(3);
    expect(s.finalAcc.mean).toBeCloseTo((0.86 + 0.84 + 0.78) / 3, 12);
    expect(s.reach[0]).toMatchObject({ target: 0.8, reached: 2 });
    expect(s.reach[0]!.rounds.mean).toBe(2);
    expect(s.reach[1]).toMatchObject({ target: 0.85, reached: 1 });
    expect(s.reach[1]!.mb.mean).toBeCloseTo(4.5, 9);
    // Each run's median seconds per round (2, 3, 4 → 3).
    expect(s.secondsPerRound.mean).toBe(3);
    const table = markdownGroupTable([s]);
    expect(table).toContain('| feddip 0.95 | 3 | 3 ± 0 | 82.67 ± 4.16 |');
    expect(table).toContain('2 ± 0 (2/3 seeds)');
    expect(table).toContain('3 (1/3 seeds)');
  });

  it('draws the mean curve over the rounds every seed has', () => {
    const m = meanRun({ name: 'c', runs: [run('a', [0.2, 0.4, 0.6], {}), run('b', [0.4, 0.6], {})] });
    expect(m.name).toBe('c (mean of 2)');
    expect(m.rounds.map((r) => r.test_acc)).toEqual([0.30000000000000004, 0.5]);
    const report = buildGroupReport([{ name: 'c', runs: [run('a', [0.2, 0.4], {})] }]);
    expect(Object.keys(report.plots)).toEqual(['accuracy.svg', 'sparsity.svg', 'accuracy-vs-mb.svg']);
    expect(report.plots['accuracy.svg']).toContain('<path d="M');
  });
});
