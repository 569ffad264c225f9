#!/usr/bin/env node
// Round-by-round comparison of our `feddip-reference` runs with the public PyTorch code's run:
//   node bench/fl/compare-reference.mjs [--csv FILE] [--from 20] RUN_DIR...
// Prints each round's accuracy (reference, every run, the runs' mean) and, per run and for the mean,
// the mean |difference| to the reference from round --from on and the rounds more than 2 points off;
// for several runs also how many stay within 2 points at every round, and the spread between them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const option = (flag, fallback) => {
  const i = argv.indexOf(flag);
  if (i < 0) return fallback;
  const value = argv[i + 1];
  argv.splice(i, 2);
  return value;
};
const csv = option('--csv', '../shared/reference/feddip_sp0.90_fmnist_lenet5_r50.csv');
const from = Number(option('--from', '20'));
if (argv.length === 0) {
  console.error('usage: node bench/fl/compare-reference.mjs [--csv FILE] [--from ROUND] RUN_DIR...');
  process.exit(2);
}

const [header, ...lines] = readFileSync(csv, 'utf8').trim().split('\n');
const col = header.split(',').indexOf('test_acc');
const reference = new Map(lines.map((l) => { const c = l.split(','); return [Number(c[0]), 100 * Number(c[col])]; }));
const runs = argv.map((dir) => {
  const rounds = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return new Map(rounds.map((m) => [m.round, 100 * m.test_acc]));
});

const rows = [...reference.keys()].filter((r) => r >= from && runs.every((run) => run.has(r)));
const series = [...runs.map((run) => rows.map((r) => run.get(r))), rows.map((r) => runs.reduce((s, run) => s + run.get(r), 0) / runs.length)];
const names = [...argv.map((_, i) => `run ${i + 1}`), 'mean'];
console.log(['round', 'reference', ...names].join('\t'));
rows.forEach((r, i) => console.log([r, reference.get(r).toFixed(2), ...series.map((s) => s[i].toFixed(2))].join('\t')));
console.log();
const within = [];
series.forEach((s, k) => {
  const diffs = s.map((v, i) => v - reference.get(rows[i]));
  const off = rows.filter((_, i) => Math.abs(diffs[i]) > 2);
  if (k < runs.length) within.push(rows.length - off.length);
  const meanAbs = diffs.reduce((a, d) => a + Math.abs(d), 0) / diffs.length;
  const worst = diffs.reduce((w, d) => (Math.abs(d) > Math.abs(w) ? d : w), 0);
  console.log(`${names[k]}: rounds ${from}–${rows.at(-1)}: mean |diff| ${meanAbs.toFixed(2)} points, largest ${worst.toFixed(2)}, ` +
    `${rows.length - off.length} of ${rows.length} within 2 points${off.length ? ` (outside: ${off.join(', ')})` : ''}`);
});
if (runs.length > 1) {
  const sorted = [...within].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  console.log(`runs within 2 points at every round: ${within.filter((w) => w === rows.length).length} of ${runs.length}; ` +
    `rounds within 2 points per run: ${sorted[0]}–${sorted.at(-1)} of ${rows.length}, median ${median}`);
  const spread = rows.map((_, i) => { const v = runs.map((run) => run.get(rows[i])); return Math.max(...v) - Math.min(...v); });
  console.log(`spread between runs per round: mean ${(spread.reduce((a, b) => a + b, 0) / spread.length).toFixed(2)}, largest ${Math.max(...spread).toFixed(2)} points`);
}
