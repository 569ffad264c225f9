// `feddip report <run-dir>...`: plots (SVG) and a markdown table comparing runs.
import { InvalidArgumentError } from '../errors.ts';
import { buildReport, parseMetrics, type RunData } from '../report/index.ts';
import { EXIT_CODES_HELP, formatOptions, parseCommandLine, type Schema } from './args.ts';
import type { RunFiles } from './io.ts';

const REPORT_OPTIONS: Schema = {
  out: { type: 'string', default: 'report', help: 'folder for report.md and the SVG plots' },
  targets: { type: 'string', default: '0.8,0.85', help: 'accuracies to measure rounds and megabytes to' },
  names: { type: 'string', help: 'comma-separated labels for the runs (default: each folder name)' },
  config: { type: 'string', help: 'JSON file of options (flags win)' },
};

export const REPORT_HELP = `feddip report — plots and a table from simulation runs

Usage: feddip report <run-dir>... [options]

Options:
${formatOptions(REPORT_OPTIONS)}

Writes accuracy.svg (accuracy per round), sparsity.svg, accuracy-vs-mb.svg (accuracy against
cumulative megabytes on the wire) and report.md (final and best accuracy, rounds and megabytes to
reach each target, final sparsity).

Examples:
  feddip report runs/feddip runs/fedavg --out reports/compare
  feddip report bench/fl/* --targets 0.85,0.88 --names FedDIP,FedAvg
  feddip report runs/a runs/b --config report.json --out reports/ab

${EXIT_CODES_HELP}
`;

interface Io { out(line: string): void; err(line: string): void; files: RunFiles }

export async function runReport(argv: string[], io: Io): Promise<number> {
  const { options, positional } = await parseCommandLine(REPORT_OPTIONS, argv, io.files.readText);
  if (!positional.length) throw new InvalidArgumentError('report: give at least one run folder (one written by feddip simulate --out)');
  const targets = String(options.targets).split(',').map(Number);
  if (targets.some((t) => !(t > 0 && t <= 1))) throw new InvalidArgumentError(`--targets must be accuracies in (0, 1], got '${options.targets}'`);
  const names = options.names ? String(options.names).split(',') : [];
  if (names.length && names.length !== positional.length) throw new InvalidArgumentError(`--names has ${names.length} labels for ${positional.length} runs`);
  const runs: RunData[] = [];
  for (const [i, dir] of positional.entries()) {
    const metricsPath = io.files.join(dir, 'metrics.jsonl');
    let text: string;
    try {
      text = await io.files.readText(metricsPath);
    } catch {
      throw new InvalidArgumentError(`report: ${metricsPath} cannot be read — is ${dir} a run folder of feddip simulate?`);
    }
    const rounds = parseMetrics(text, metricsPath);
    if (!rounds.length) throw new InvalidArgumentError(`report: ${metricsPath} has no rounds yet`);
    const name = names[i] ?? (dir.replace(/[\\/]+$/, '').split(/[\\/]/).pop() || dir);
    runs.push({ name, rounds });
  }
  const report = buildReport(runs, targets);
  const out = io.files.resolve(String(options.out));
  await io.files.mkdir(out);
  for (const [file, svg] of Object.entries(report.plots)) await io.files.writeText(io.files.join(out, file), svg);
  await io.files.writeText(io.files.join(out, 'report.md'), report.markdown);
  io.out(report.markdown.split('\n\n')[1] ?? '');
  io.out(`written: ${out} (report.md, ${Object.keys(report.plots).join(', ')})`);
  return 0;
}
