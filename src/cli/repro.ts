// `feddip repro`: the paper's Fashion-MNIST / LeNet-5 comparison as a grid of `feddip simulate`
// runs (methods × sparsities × partitions × seeds), each in its own folder, then the report.
// Resumable: a finished run is never redone, an unfinished one starts again, so the grid can be
// stopped (Ctrl-C, a crash, a reboot) and started again with the same command. `--shard k/n` splits
// the runs between n processes that share the folder.
import { InvalidArgumentError } from '../errors.ts';
import { runtimeDescription, importDynamic } from '../platform/runtime.ts';
import { buildGroupReport, groupRuns, parseMetrics, type RunData } from '../report/index.ts';
import { EXIT_CODES_HELP, formatOptions, parseCommandLine, type Schema } from './args.ts';
import type { RunFiles } from './io.ts';
import { runSimulate, type SimulateIo } from './simulate.ts';

export const REPRO_SPARSITIES = [0.8, 0.9, 0.95, 0.98, 0.99] as const;
/** The sparsity at which the baselines and the ablation are compared: the paper's "extreme" regime. */
export const BASELINE_SPARSITY = 0.95;
const BASELINES = ['feddip-noir', 'snip', 'prunefl', 'feddst', 'prunetrain', 'topk-ef'] as const;

export interface Cell {
  /** `<partition>/<method>[-s<sparsity>]`, also the cell's folder under runs/. */
  id: string;
  method: string;
  sparsity: number | null;
  partition: string;
  /** Headline cells get every seed; the others the first one (unless --all-seeds). */
  headline: boolean;
  /** Which plot the cell belongs to: the sparsity sweep or the comparison at BASELINE_SPARSITY. */
  plots: Array<'sweep' | 'baselines'>;
  /** Planning order (lower first): what answers the report's questions soonest runs first. */
  rank: number;
}

// Headline cells, then the ablation and 0.98 (the analysis's questions), then the baselines, then
// the milder sparsities, which matter least for an "extreme sparsity" claim.
function rankOf(method: string, sparsity: number | null): number {
  if (method === 'fedavg' || method === 'feddip' || method === 'feddip-reference') {
    return sparsity === null || sparsity === BASELINE_SPARSITY || sparsity === 0.99 ? 0 : sparsity === 0.98 ? 2 : 4;
  }
  return method === 'feddip-noir' ? 1 : 3;
}

export interface PlannedRun {
  cell: Cell;
  seed: number;
  dir: string;
}

export const partitionSlug = (p: string) => p.replace(/[:]/g, '-');

/** The grid for the given partitions, in the order of the paper's comparison. */
export function reproCells(partitions: readonly string[]): Cell[] {
  const cells: Cell[] = [];
  for (const partition of partitions) {
    const slug = partitionSlug(partition);
    const cell = (method: string, sparsity: number | null, headline: boolean, plots: Cell['plots']) =>
      cells.push({ id: `${slug}/${method}${sparsity === null ? '' : `-s${sparsity}`}`, method, sparsity, partition, headline, plots, rank: rankOf(method, sparsity) });
    cell('fedavg', null, true, ['sweep', 'baselines']);
    for (const s of REPRO_SPARSITIES) {
      const extreme = s === BASELINE_SPARSITY || s === 0.99;
      cell('feddip', s, extreme, s === BASELINE_SPARSITY ? ['sweep', 'baselines'] : ['sweep']);
      cell('feddip-reference', s, extreme, s === BASELINE_SPARSITY ? ['sweep', 'baselines'] : ['sweep']);
    }
    for (const m of BASELINES) cell(m, BASELINE_SPARSITY, false, ['baselines']);
  }
  return cells;
}

/**
 * The runs of the grid in the order they are done: first seed of every cell of the first partition
 * (headline cells first), then the headline cells' other seeds, then the next partition — so that a
 * budget cut short still leaves whole comparisons rather than many seeds of a few cells.
 */
export function planRuns(cells: readonly Cell[], seeds: readonly number[], allSeeds: boolean, runsDir: string, join: (...p: string[]) => string): PlannedRun[] {
  const runs: PlannedRun[] = [];
  const partitions = [...new Set(cells.map((c) => c.partition))];
  for (const partition of partitions) {
    const here = cells.filter((c) => c.partition === partition);
    const ordered = [...here].sort((a, b) => a.rank - b.rank);
    const add = (cell: Cell, seed: number) => runs.push({ cell, seed, dir: join(runsDir, cell.id, `seed-${seed}`) });
    for (const cell of ordered) add(cell, seeds[0]!);
    for (const seed of seeds.slice(1)) for (const cell of ordered) if (cell.headline || allSeeds) add(cell, seed);
  }
  return runs;
}

/** Glob-like cell filters: `*` matches any run of characters; several patterns are comma-separated. */
export function cellFilter(patterns: string | undefined): (id: string) => boolean {
  if (!patterns) return () => true;
  const res = patterns.split(',').map((p) => p.trim()).filter(Boolean)
    .map((p) => new RegExp(`^${p.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`));
  return (id) => res.some((re) => re.test(id));
}

export const REPRO_OPTIONS: Schema = {
  rounds: { type: 'integer', default: 200, help: 'rounds per run' },
  seeds: { type: 'integer', default: 3, help: 'seeds 1..n for the headline cells (the others run seed 1)' },
  'all-seeds': { type: 'boolean', default: false, help: 'run every cell with every seed' },
  partitions: { type: 'string', default: 'iid,dirichlet:0.5', help: 'comma-separated partitions' },
  cells: { type: 'string', help: 'only cells whose id matches one of these comma-separated patterns (* wildcard), e.g. "iid/feddip*"' },
  out: { type: 'string', default: 'reports/fmnist-lenet5', help: 'report folder; runs go to <out>/runs/<cell>/seed-<k>' },
  shard: { type: 'string', help: 'k/n: do only every n-th pending run starting at the k-th (to split the grid between processes)' },
  threads: { type: 'integer', help: 'clients trained at once in each run (default: the number of cores)' },
  backend: { type: 'string', default: 'wasm', help: 'compute backend', choices: ['wasm', 'webgpu', 'reference', 'auto'] },
  simd: { type: 'string', default: 'auto', help: 'wasm build for every run (see feddip simulate --help)', choices: ['auto', 'relaxed', 'baseline'] },
  'data-dir': { type: 'string', help: 'folder holding the Fashion-MNIST files' },
  'report-only': { type: 'boolean', default: false, help: 'write the report from the runs done so far, run nothing' },
  'dry-run': { type: 'boolean', default: false, help: 'list the runs and their state, run nothing' },
  quiet: { type: 'boolean', default: false, help: 'one line per run, no per-round lines' },
  config: { type: 'string', help: 'JSON file of options (flags win)' },
};

export const REPRO_HELP = `feddip repro — the paper's Fashion-MNIST / LeNet-5 comparison, reproduced

Usage: feddip repro [options] [-- simulate options for every run]

Runs the grid (50 clients, C 0.1, E 5, B 128, lr 0.1·0.998^t, s0 0.5, R 5 — the paper's setup):
  fedavg; feddip and feddip-reference at sparsity ${REPRO_SPARSITIES.join(', ')};
  ${BASELINES.join(', ')} at ${BASELINE_SPARSITY};
  for each partition, with --seeds seeds for the headline cells (fedavg, feddip and
  feddip-reference at ${BASELINE_SPARSITY} and 0.99) and seed 1 for the others.
Each run is a 'feddip simulate' into <out>/runs/<cell>/seed-<k>/. Finished runs are kept; run the
same command again to go on after a stop. After every run, <out>/results.md and the plots under
<out>/<partition>/ are rewritten from all finished runs (mean ± std over seeds).

Options:
${formatOptions(REPRO_OPTIONS)}

Examples:
  feddip repro                                   # the whole grid (long: about 40 runs × 200 rounds)
  feddip repro --partitions iid --seeds 1        # one seed of every IID cell
  feddip repro --cells 'iid/feddip-s0.99,iid/feddip-reference-s0.99' --rounds 100
  feddip repro --shard 1/2 & feddip repro --shard 2/2   # two processes sharing the grid
  feddip repro --dry-run                          # what is done, what is left
  feddip repro --report-only                      # rewrite the report from the finished runs

${EXIT_CODES_HELP}
`;

export type ReproIo = SimulateIo;

type RunState = 'done' | 'partial' | 'todo';

async function readJson(files: RunFiles, path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await files.readText(path)) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** A run is done when its summary says every planned round finished and it was not interrupted. */
async function runState(files: RunFiles, run: PlannedRun, rounds: number): Promise<RunState> {
  const summary = await readJson(files, files.join(run.dir, 'summary.json'));
  if (summary && summary.interrupted === false && summary.rounds_completed === rounds) {
    const config = await readJson(files, files.join(run.dir, 'config.json'));
    // A folder holding another experiment (edited by hand, or another --rounds) must not count.
    if (config && (config.method !== run.cell.method || config.seed !== run.seed || config.partition !== run.cell.partition || config.rounds !== rounds
      || (run.cell.sparsity !== null && config.sparsity !== run.cell.sparsity))) {
      throw new InvalidArgumentError(`${run.dir} holds a different run (${config.method}, sparsity ${config.sparsity}, ${config.partition}, seed ${config.seed}, ${config.rounds} rounds); move it away or pick another --out`);
    }
    return 'done';
  }
  return (await readJson(files, files.join(run.dir, 'config.json'))) ? 'partial' : 'todo';
}

export function simulateArgs(run: PlannedRun, o: Record<string, unknown>, extra: readonly string[]): string[] {
  const args = ['--method', run.cell.method, '--partition', run.cell.partition, '--seed', String(run.seed), '--rounds', String(o.rounds),
    '--dataset', 'fashion-mnist', '--model', 'lenet5', '--backend', String(o.backend), '--out', run.dir];
  if (run.cell.sparsity !== null) args.push('--sparsity', String(run.cell.sparsity));
  if (o.threads !== undefined) args.push('--threads', String(o.threads));
  if (o.simd !== undefined && o.simd !== 'auto') args.push('--simd', String(o.simd));
  if (o.dataDir !== undefined) args.push('--data-dir', String(o.dataDir));
  return [...args, ...extra];
}

export async function runRepro(argv: string[], io: ReproIo): Promise<number> {
  const dashdash = argv.indexOf('--');
  const extra = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const { options: o, positional } = await parseCommandLine(REPRO_OPTIONS, own, io.files.readText);
  if (positional.length) throw new InvalidArgumentError(`unexpected argument '${positional[0]}' (simulate options go after --)`);
  const owned = ['--method', '--partition', '--seed', '--rounds', '--out', '--sparsity', '--dataset', '--model', '--config'];
  const clash = extra.find((a) => owned.includes(a.split('=')[0]!));
  if (clash) throw new InvalidArgumentError(`${clash} is set by the grid; it cannot be given after --`);
  if (!((o.rounds as number) >= 1)) throw new InvalidArgumentError(`--rounds must be at least 1, got ${o.rounds}`);
  if (!((o.seeds as number) >= 1)) throw new InvalidArgumentError(`--seeds must be at least 1, got ${o.seeds}`);
  let shard: [number, number] | null = null;
  if (o.shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(String(o.shard));
    if (!m || +m[1]! < 1 || +m[1]! > +m[2]!) throw new InvalidArgumentError(`--shard must be k/n with 1 ≤ k ≤ n, got '${o.shard}'`);
    shard = [+m[1]!, +m[2]!];
  }
  const partitions = String(o.partitions).split(',').map((p) => p.trim()).filter(Boolean);
  if (!partitions.length) throw new InvalidArgumentError('--partitions is empty');
  const keep = cellFilter(o.cells as string | undefined);
  const cells = reproCells(partitions).filter((c) => keep(c.id));
  if (!cells.length) throw new InvalidArgumentError(`--cells '${o.cells}' matches no cell; the cells are: ${reproCells(partitions).map((c) => c.id).join(', ')}`);

  const out = io.files.resolve(String(o.out));
  const runsDir = io.files.join(out, 'runs');
  const seeds = Array.from({ length: o.seeds as number }, (_, i) => i + 1);
  const plan = planRuns(cells, seeds, o.allSeeds as boolean, runsDir, io.files.join);
  const states = await Promise.all(plan.map((r) => runState(io.files, r, o.rounds as number)));
  const counts = { done: 0, partial: 0, todo: 0 };
  for (const s of states) counts[s]++;
  io.out(`feddip repro: ${plan.length} runs of ${o.rounds} rounds in ${cells.length} cells (${partitions.join(', ')}; seeds ${seeds.join(', ')} for headline cells) — ${counts.done} done, ${counts.partial} unfinished, ${counts.todo} to do`);
  if (o.dryRun) {
    plan.forEach((r, i) => io.out(`  ${states[i]!.padEnd(7)} ${r.cell.id} seed ${r.seed}${r.cell.headline ? '  (headline)' : ''}`));
    return 0;
  }

  await io.files.mkdir(out);
  const finished = new Map<string, RunData>();
  // The report covers every finished run of the grid, not only this command's part of it: a
  // command for one cell (--cells) or fewer seeds must not drop the others' results from it.
  const everySeed = Array.from({ length: Math.max(o.seeds as number, REPORT_SEEDS) }, (_, i) => i + 1);
  const grid = planRuns(reproCells(partitions), everySeed, true, runsDir, io.files.join);
  const writeReport = () => reproReport(io.files, out, grid, partitions, o, extra, finished);
  if (o.reportOnly) {
    await writeReport();
    io.out(`report: ${io.files.join(out, 'results.md')}`);
    return 0;
  }
  let pending = plan.filter((_, i) => states[i] !== 'done');
  if (shard) pending = pending.filter((_, i) => i % shard![1] === shard![0] - 1);
  let failed = 0;
  for (const [i, run] of pending.entries()) {
    // Another shard may have finished it meanwhile.
    if ((await runState(io.files, run, o.rounds as number)) === 'done') continue;
    const label = `[${i + 1}/${pending.length}] ${run.cell.id} seed ${run.seed}`;
    io.out(`${label}: ${states[plan.indexOf(run)] === 'partial' ? 'unfinished before, starting it again' : 'starting'} → ${run.dir}`);
    const args = simulateArgs(run, o, extra);
    if (o.quiet) args.push('--quiet');
    const started = performance.now();
    let code: number;
    try {
      code = await runSimulate(args, { ...io, out: (line) => io.out(`  ${line}`) });
    } catch (error) {
      // One broken run must not stop the grid: say why, leave it unfinished, go on.
      failed++;
      io.err(`${label}: failed: ${(error as Error).message}`);
      continue;
    }
    if (code === 130) {
      io.out(`${label}: stopped; run the same command again to go on (this run starts again)`);
      await writeReport();
      return 130;
    }
    const summary = await readJson(io.files, io.files.join(run.dir, 'summary.json'));
    io.out(`${label}: final accuracy ${summary ? (100 * (summary.final_acc as number)).toFixed(2) : '—'} % at sparsity ${summary ? (100 * (summary.final_sparsity as number)).toFixed(1) : '—'} % in ${((performance.now() - started) / 60000).toFixed(1)} min`);
    await writeReport();
  }
  await writeReport();
  io.out(`report: ${io.files.join(out, 'results.md')}`);
  return failed ? 1 : 0;
}

/**
 * A finished run's metrics and configuration, or null while it is not finished. A finished run is
 * never run again (by this process or another shard), so `finished` keeps what was parsed, by
 * folder: the report, rewritten after every run, reads each run once rather than the whole grid
 * each time.
 */
async function finishedRun(files: RunFiles, run: PlannedRun, rounds: number, finished: Map<string, RunData>): Promise<RunData | null> {
  const known = finished.get(run.dir);
  if (known) return known;
  if ((await runState(files, run, rounds)) !== 'done') return null;
  const metricsPath = files.join(run.dir, 'metrics.jsonl');
  const data: RunData = {
    name: run.cell.id,
    rounds: parseMetrics(await files.readText(metricsPath), metricsPath),
    config: (await readJson(files, files.join(run.dir, 'config.json'))) ?? {},
  };
  finished.set(run.dir, data);
  return data;
}

/** Seeds the report looks for in every cell, whatever --seeds the command took. */
const REPORT_SEEDS = 10;

/** Writes results.md and the plots, per partition, from every finished run of the grid. */
async function reproReport(
  files: RunFiles, out: string, grid: readonly PlannedRun[], partitions: readonly string[], o: Record<string, unknown>, extra: readonly string[],
  finished: Map<string, RunData>,
): Promise<void> {
  const runs = new Map<Cell, RunData[]>();
  let done = 0;
  let seeds = 1;
  for (const run of grid) {
    let data: RunData | null;
    try {
      data = await finishedRun(files, run, o.rounds as number, finished);
    } catch (error) {
      // A folder outside this command's cells that holds another experiment: not part of this grid.
      if (error instanceof InvalidArgumentError) continue;
      throw error;
    }
    if (!data) continue;
    done++;
    if (run.cell.headline) seeds = Math.max(seeds, run.seed);
    const list = runs.get(run.cell) ?? [];
    list.push(data);
    runs.set(run.cell, list);
  }
  const cells = [...new Set(grid.map((r) => r.cell))];
  const sections: string[] = [];
  for (const partition of partitions) {
    const slug = partitionSlug(partition);
    const here = cells.filter((c) => c.partition === partition && runs.has(c));
    if (!here.length) { sections.push(`## ${partition}\n\nNo finished run yet.\n`); continue; }
    const label = (c: Cell) => `${c.method}${c.sparsity === null ? '' : ` ${c.sparsity}`}`;
    const grouped = (filter: (c: Cell) => boolean) => groupRuns(here.filter(filter).flatMap((c) => runs.get(c)!), (r) => r.name, (r) => label(here.find((c) => c.id === r.name)!));
    await files.mkdir(files.join(out, slug));
    const table = buildGroupReport(grouped(() => true)).markdown.split('\n\n')[1]!;
    const plotLinks: string[] = [];
    for (const kind of ['sweep', 'baselines'] as const) {
      const groups = grouped((c) => c.plots.includes(kind));
      if (!groups.length) continue;
      const report = buildGroupReport(groups);
      for (const [file, svg] of Object.entries(report.plots)) {
        await files.writeText(files.join(out, slug, `${kind}-${file}`), svg);
        plotLinks.push(`![${kind}: ${file.replace('.svg', '')}](${slug}/${kind}-${file})`);
      }
    }
    sections.push(`## ${partition}\n\n${table}\n\n${plotLinks.join('\n')}\n`);
  }
  const machine = await machineDescription();
  const text = `# Fashion-MNIST / LeNet-5: FedDIP against its baselines

Written by \`feddip repro\` from the ${done} finished run${done === 1 ? '' : 's'} of the grid (${o.rounds} rounds each), whichever command ran them; rewritten after every run.
Cells show mean ± std over their seeds (the "seeds" column says how many);
"rounds/MB to x %" count only the seeds that reached x % (how many, when not all); s/round is each run's median.
Setup: 50 clients, C 0.1, E 5, B 128, lr 0.1·0.998^t, s0 0.5, R 5, weight decay 5e-4, λ0 5e-4 → λmax 1e-3 (the simulate defaults), LeNet-5 (61,706 parameters).

Command for the whole grid: \`feddip repro --rounds ${o.rounds} --seeds ${seeds}${o.allSeeds ? ' --all-seeds' : ''} --partitions ${partitions.join(',')}${extra.length ? ` -- ${extra.join(' ')}` : ''}\`
(it runs only what is missing; every run's full configuration is in its \`runs/<cell>/seed-<k>/config.json\`, per-round metrics in \`metrics.jsonl\`).
Machine: ${machine}.

${sections.join('\n')}`;
  await files.writeText(files.join(out, 'results.md'), text);
}

async function machineDescription(): Promise<string> {
  try {
    const os = await importDynamic<{ cpus(): Array<{ model: string }> }>('node:os');
    const cpus = os.cpus();
    return `${runtimeDescription()}, ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}`;
  } catch {
    return runtimeDescription();
  }
}
