// Reports of federated runs: SVG plots and a markdown table.
import { lineChart, type Series } from './chart.ts';
import { markdownGroupTable, meanRun, type RunGroup, summarizeGroup } from './groups.ts';
import { markdownTable, type RunData, summarizeRun } from './runs.ts';

export { lineChart, niceTicks, type Series, type ChartOptions } from './chart.ts';
export { parseMetrics, summarizeRun, markdownTable, type RunData, type RunSummary } from './runs.ts';
export { configKey, groupRuns, markdownGroupTable, meanRun, stat, summarizeGroup, type GroupSummary, type RunGroup, type Stat } from './groups.ts';

export interface Report {
  /** File name → SVG document. */
  plots: Record<string, string>;
  markdown: string;
}

const pct = (v: number) => `${Math.round(100 * v)} %`;

/** The three plots of the paper's comparison and the summary table, for any number of runs. */
export function buildReport(runs: readonly RunData[], targets: readonly number[] = [0.8, 0.85]): Report {
  const summaries = runs.map((r) => summarizeRun(r, targets));
  return { plots: plotRuns(runs), markdown: withPlots(markdownTable(summaries)) };
}

/** The same for cells of several seeds each: mean ± std in the table, each cell's mean curve in the plots. */
export function buildGroupReport(groups: readonly RunGroup[], targets: readonly number[] = [0.8, 0.85]): Report {
  const summaries = groups.map((g) => summarizeGroup(g, targets));
  return { plots: plotRuns(groups.map(meanRun)), markdown: withPlots(markdownGroupTable(summaries)) };
}

const withPlots = (table: string) => `# Report\n\n${table}\n\n![accuracy](accuracy.svg)\n![sparsity](sparsity.svg)\n![accuracy vs MB](accuracy-vs-mb.svg)\n`;

function plotRuns(runs: readonly RunData[]): Report['plots'] {
  const series = (y: (m: RunData['rounds'][number]) => number, x: (m: RunData['rounds'][number]) => number = (m) => m.round + 1): Series[] =>
    runs.map((r) => ({ label: r.name, points: r.rounds.map((m) => [x(m), y(m)] as [number, number]) }));
  return {
    'accuracy.svg': lineChart(series((m) => m.test_acc), { title: 'Test accuracy', xLabel: 'round', yLabel: 'top-1 accuracy', yFormat: pct }),
    'sparsity.svg': lineChart(series((m) => m.sparsity), { title: 'Sparsity of the deployed model', xLabel: 'round', yLabel: 'sparsity over prunable weights', yFormat: pct, yRange: [0, 1] }),
    'accuracy-vs-mb.svg': lineChart(series((m) => m.test_acc, (m) => (m.bytes_down_total + m.bytes_up_total) / 1e6), {
      title: 'Accuracy against data on the wire', xLabel: 'cumulative megabytes (down + up)', yLabel: 'top-1 accuracy', yFormat: pct,
    }),
  };
}
