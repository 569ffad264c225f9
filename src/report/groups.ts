// Runs that differ only in their seed form one cell of an experiment grid: summarised as mean ± std
// over the seeds, and drawn as one line (the seeds' mean curve).
import { type RunData, type RunSummary, summarizeRun } from './runs.ts';

export interface RunGroup {
  name: string;
  runs: RunData[];
}

/** Keys of config.json that do not change what a run computes, or that tell seeds apart. */
const NOT_IDENTITY = new Set(['seed', 'out', 'threads', 'quiet', 'config', 'dataDir', 'backendDescription']);

/** A cell's identity: the run's configuration without its seed and without how it was run. */
export function configKey(config: Record<string, unknown> | undefined): string {
  if (!config) return '';
  const kept = Object.keys(config).filter((k) => !NOT_IDENTITY.has(k)).sort();
  return JSON.stringify(kept.map((k) => [k, config[k]]));
}

/** Groups runs by `key` (default: their configuration without the seed), keeping first-seen order. */
export function groupRuns(runs: readonly RunData[], key: (run: RunData) => string = (r) => configKey(r.config), name?: (first: RunData) => string): RunGroup[] {
  const groups = new Map<string, RunGroup>();
  for (const run of runs) {
    const k = key(run);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { name: name ? name(run) : run.name, runs: [] }));
    g.runs.push(run);
  }
  return [...groups.values()];
}

export interface Stat {
  mean: number;
  /** Sample standard deviation (n − 1); 0 for one value. */
  std: number;
  n: number;
}

export function stat(values: readonly number[]): Stat {
  const v = values.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (!n) return { mean: NaN, std: NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

export interface GroupSummary {
  name: string;
  seeds: number;
  rounds: Stat;
  finalAcc: Stat;
  bestAcc: Stat;
  finalSparsity: Stat;
  totalMB: Stat;
  /** Each run's median seconds per round (when the metrics have them), over the runs. */
  secondsPerRound: Stat;
  /** Per target: how many seeds reached it, and rounds / MB to reach it over those that did. */
  reach: Array<{ target: number; reached: number; rounds: Stat; mb: Stat }>;
  runs: RunSummary[];
}

export function summarizeGroup(group: RunGroup, targets: readonly number[]): GroupSummary {
  const runs = group.runs.map((r) => summarizeRun(r, targets));
  return {
    name: group.name,
    seeds: runs.length,
    rounds: stat(runs.map((r) => r.rounds)),
    finalAcc: stat(runs.map((r) => r.finalAcc)),
    bestAcc: stat(runs.map((r) => r.bestAcc)),
    finalSparsity: stat(runs.map((r) => r.finalSparsity)),
    totalMB: stat(runs.map((r) => r.totalMB)),
    secondsPerRound: stat(group.runs.map((r) => median(r.rounds.map((m) => m.seconds ?? NaN)))),
    reach: targets.map((target, i) => {
      const hits = runs.map((r) => r.reach[i]!).filter((x) => x.rounds !== null);
      return { target, reached: hits.length, rounds: stat(hits.map((x) => x.rounds!)), mb: stat(hits.map((x) => x.mb!)) };
    }),
    runs,
  };
}

function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? (v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2) : NaN;
}

const pm = (s: Stat, scale: number, digits: number, unit = '') =>
  !s.n ? '—' : s.n > 1 ? `${(scale * s.mean).toFixed(digits)} ± ${(scale * s.std).toFixed(digits)}${unit}` : `${(scale * s.mean).toFixed(digits)}${unit}`;
const pct = (t: number) => `${Math.round(1000 * t) / 10} %`;

/** One row per cell: mean ± std over its seeds (n = seeds); reach columns count the seeds that got there. */
export function markdownGroupTable(summaries: readonly GroupSummary[]): string {
  const targets = summaries[0]?.reach.map((x) => x.target) ?? [];
  const head = ['cell', 'seeds', 'rounds', 'final acc (%)', 'best acc (%)', 'final sparsity (%)', 'MB total',
    ...targets.flatMap((t) => [`rounds to ${pct(t)}`, `MB to ${pct(t)}`]), 's/round'];
  const rows = summaries.map((s) => [
    s.name, String(s.seeds), pm(s.rounds, 1, 0), pm(s.finalAcc, 100, 2), pm(s.bestAcc, 100, 2), pm(s.finalSparsity, 100, 1), pm(s.totalMB, 1, 1),
    ...s.reach.flatMap((x) => {
      if (!x.reached) return ['not reached', '—'];
      const partial = x.reached < s.seeds ? ` (${x.reached}/${s.seeds} seeds)` : '';
      return [`${pm(x.rounds, 1, 0)}${partial}`, pm(x.mb, 1, 1)];
    }),
    pm(s.secondsPerRound, 1, 2),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

/**
 * A cell's mean curve: the seeds' metrics averaged round by round, over the rounds every seed has
 * (so an unfinished seed shortens the curve rather than bending it).
 */
export function meanRun(group: RunGroup): RunData {
  const length = Math.min(...group.runs.map((r) => r.rounds.length));
  const rounds: RunData['rounds'] = [];
  for (let i = 0; i < length; i++) {
    const at = group.runs.map((r) => r.rounds[i]!);
    const avg = (f: (m: RunData['rounds'][number]) => number) => at.reduce((a, m) => a + f(m), 0) / at.length;
    rounds.push({ round: at[0]!.round, test_acc: avg((m) => m.test_acc), sparsity: avg((m) => m.sparsity), bytes_down_total: avg((m) => m.bytes_down_total), bytes_up_total: avg((m) => m.bytes_up_total) });
  }
  return { name: group.runs.length > 1 ? `${group.name} (mean of ${group.runs.length})` : group.name, rounds };
}
