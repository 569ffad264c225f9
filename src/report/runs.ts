// Reading a run's results (metrics.jsonl + config.json) and summarising runs into a table:
// final and best accuracy, rounds and megabytes until given accuracies, final sparsity.
import type { RoundMetrics } from '../fl/simulation.ts';

export interface RunData {
  /** Label of the run in plots and tables. */
  name: string;
  rounds: Array<Pick<RoundMetrics, 'round' | 'test_acc' | 'sparsity' | 'bytes_down_total' | 'bytes_up_total'> & Partial<RoundMetrics>>;
  config?: Record<string, unknown>;
}

export function parseMetrics(text: string, source: string): RunData['rounds'] {
  const rows: RunData['rounds'] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let row: RunData['rounds'][number];
    try {
      row = JSON.parse(line);
    } catch {
      throw new Error(`${source}:${i + 1}: not a JSON line`);
    }
    for (const key of ['round', 'test_acc', 'sparsity', 'bytes_down_total', 'bytes_up_total'] as const) {
      if (typeof row[key] !== 'number') throw new Error(`${source}:${i + 1}: '${key}' is missing or not a number`);
    }
    rows.push(row);
  });
  return rows;
}

export interface RunSummary {
  name: string;
  rounds: number;
  finalAcc: number;
  bestAcc: number;
  bestRound: number;
  finalSparsity: number;
  totalMB: number;
  /** For each target accuracy: the first round reaching it (1-based count) and MB spent by then. */
  reach: Array<{ target: number; rounds: number | null; mb: number | null }>;
}

const MB = 1e6;

export function summarizeRun(run: RunData, targets: readonly number[]): RunSummary {
  const r = run.rounds;
  const last = r[r.length - 1];
  let best = r[0];
  for (const m of r) if (best && m.test_acc > best.test_acc) best = m;
  return {
    name: run.name,
    rounds: r.length,
    finalAcc: last?.test_acc ?? NaN,
    bestAcc: best?.test_acc ?? NaN,
    bestRound: best ? best.round + 1 : NaN,
    finalSparsity: last?.sparsity ?? NaN,
    totalMB: last ? (last.bytes_down_total + last.bytes_up_total) / MB : 0,
    reach: targets.map((target) => {
      const hit = r.find((m) => m.test_acc >= target);
      return { target, rounds: hit ? hit.round + 1 : null, mb: hit ? (hit.bytes_down_total + hit.bytes_up_total) / MB : null };
    }),
  };
}

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(2)} %` : '—');

export function markdownTable(summaries: readonly RunSummary[]): string {
  const targets = summaries[0]?.reach.map((x) => x.target) ?? [];
  const head = ['run', 'rounds', 'final acc', 'best acc (round)', 'final sparsity', 'MB total',
    ...targets.flatMap((t) => [`rounds to ${pct(t)}`, `MB to ${pct(t)}`])];
  const rows = summaries.map((s) => [
    s.name, String(s.rounds), pct(s.finalAcc), `${pct(s.bestAcc)} (${s.bestRound})`, pct(s.finalSparsity), s.totalMB.toFixed(1),
    ...s.reach.flatMap((x) => [x.rounds === null ? 'not reached' : String(x.rounds), x.mb === null ? '—' : x.mb.toFixed(1)]),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}
