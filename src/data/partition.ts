// Splitting a training set among federated clients: IID, Dirichlet non-IID and pathological
// (k classes per client), every random choice drawn from the Rng passed in, so a run seed
// reproduces the partition exactly.
import { InvalidArgumentError } from '../errors.ts';
import type { Rng } from '../util/rng.ts';

export type PartitionSpec =
  | { kind: 'iid' }
  | { kind: 'dirichlet'; alpha: number }
  | { kind: 'pathological'; k: number };

const SPEC_HELP = "expected 'iid', 'dirichlet:<alpha>' (alpha > 0, e.g. dirichlet:0.5) or 'pathological:<k>' (k classes per client, e.g. pathological:2)";

/** Parses 'iid', 'dirichlet:0.5' or 'pathological:2'. */
export function parsePartitionSpec(text: string): PartitionSpec {
  if (typeof text !== 'string') throw new InvalidArgumentError(`partition spec: ${SPEC_HELP}, got ${String(text)}`);
  const [kind, arg, ...rest] = text.trim().toLowerCase().split(':');
  if (rest.length) throw new InvalidArgumentError(`partition spec '${text}': too many ':' parts; ${SPEC_HELP}`);
  switch (kind) {
    case 'iid':
      if (arg !== undefined) throw new InvalidArgumentError(`partition spec '${text}': iid takes no parameter`);
      return { kind: 'iid' };
    case 'dirichlet': {
      const alpha = arg !== undefined && /^\s*[0-9.eE+-]+\s*$/.test(arg) ? Number(arg) : NaN;
      if (!(alpha > 0) || !Number.isFinite(alpha)) {
        throw new InvalidArgumentError(`partition spec '${text}': alpha must be a positive number, e.g. dirichlet:0.5`);
      }
      return { kind: 'dirichlet', alpha };
    }
    case 'pathological': {
      const k = arg !== undefined && /^\s*\d+\s*$/.test(arg) ? Number(arg) : NaN;
      if (!Number.isSafeInteger(k) || k < 1) {
        throw new InvalidArgumentError(`partition spec '${text}': k must be a positive integer (classes per client), e.g. pathological:2`);
      }
      return { kind: 'pathological', k };
    }
    default:
      throw new InvalidArgumentError(`partition spec '${text}': unknown kind '${kind}'; ${SPEC_HELP}`);
  }
}

/** The canonical text of a spec ('dirichlet:0.5'), which parsePartitionSpec reads back. */
export function formatPartitionSpec(spec: PartitionSpec): string {
  return spec.kind === 'iid' ? 'iid' : spec.kind === 'dirichlet' ? `dirichlet:${spec.alpha}` : `pathological:${spec.k}`;
}

export interface PartitionOptions {
  /** Number of classes (default: the largest label + 1). */
  classes?: number;
  /** Dirichlet: the fewest samples any client may get; the whole draw is repeated until it holds (default 1). */
  minSize?: number;
  /** Dirichlet: how many draws to try before giving up (default 1000). */
  maxTries?: number;
}

function checkLabels(labels: ArrayLike<number>, classesOpt: number | undefined): number {
  let max = -1;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0) throw new InvalidArgumentError(`partition: label ${i} is ${y}, not a class index`);
    if (y > max) max = y;
  }
  const classes = classesOpt ?? max + 1;
  if (!Number.isSafeInteger(classes) || classes < 1) throw new InvalidArgumentError(`partition: classes must be a positive integer, got ${classes}`);
  if (max >= classes) throw new InvalidArgumentError(`partition: label ${max} is outside the ${classes} classes`);
  return classes;
}

/** Sample indices grouped by class, each group in ascending order. */
function byClass(labels: ArrayLike<number>, classes: number): Int32Array[] {
  const counts = new Int32Array(classes);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  const groups = Array.from(counts, (n) => new Int32Array(n));
  const fill = new Int32Array(classes);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    groups[y]![fill[y]!++] = i;
  }
  return groups;
}

/** Lists to sorted Int32Arrays (each client's indices ascending: canonical, and kind to caches). */
const finish = (lists: number[][]): Int32Array[] => lists.map((l) => Int32Array.from(l).sort());

/**
 * IID: each class is shuffled and dealt round-robin, the dealer carrying on from class to class,
 * so every client gets the same count of every class ±1 and the same total ±1.
 */
function iid(groups: Int32Array[], clients: number, rng: Rng): Int32Array[] {
  const lists: number[][] = Array.from({ length: clients }, () => []);
  let next = 0;
  for (const g of groups) {
    rng.shuffle(g);
    for (const i of g) {
      lists[next]!.push(i);
      next = (next + 1) % clients;
    }
  }
  return finish(lists);
}

/**
 * Gamma(shape, 1) as its logarithm, by Marsaglia & Tsang (2000): for shape ≥ 1 a squeeze-and-
 * reject on (1 + c·x)³ with x normal; for shape < 1, Gamma(shape + 1)·U^(1/shape). Logs keep tiny
 * shapes usable: U^(1/α) underflows to 0 for α = 0.01, its logarithm does not.
 */
export function logGamma(shape: number, rng: Rng): number {
  if (!(shape > 0) || !Number.isFinite(shape)) throw new InvalidArgumentError(`logGamma: shape must be positive and finite, got ${shape}`);
  if (shape < 1) return logGamma(shape + 1, rng) + Math.log(1 - rng.uniform()) / shape;
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.uniform(); // (0, 1]: log(u) is finite
    const x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2 || Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return Math.log(d) + Math.log(v);
  }
}

/** A point of the simplex drawn from the symmetric Dirichlet(alpha) over n components. */
export function dirichlet(alpha: number, n: number, rng: Rng): Float64Array {
  const logs = new Float64Array(n);
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    logs[j] = logGamma(alpha, rng);
    if (logs[j]! > max) max = logs[j]!;
  }
  let sum = 0;
  for (let j = 0; j < n; j++) {
    logs[j] = Math.exp(logs[j]! - max);
    sum += logs[j]!;
  }
  for (let j = 0; j < n; j++) logs[j] = logs[j]! / sum;
  return logs;
}

/**
 * Splits n items by proportions p into integer counts that sum to n: floors, then one more to the
 * largest remainders (ties to the lower index), so the result is deterministic.
 */
function apportion(n: number, p: Float64Array): Int32Array {
  const counts = new Int32Array(p.length);
  const rema: number[] = [];
  let given = 0;
  for (let j = 0; j < p.length; j++) {
    const exact = n * p[j]!;
    counts[j] = Math.floor(exact);
    given += counts[j]!;
    rema.push(j);
  }
  rema.sort((a, b) => (n * p[b]! - counts[b]!) - (n * p[a]! - counts[a]!) || a - b);
  for (let r = 0; r < n - given; r++) counts[rema[r]!]!++;
  return counts;
}

/**
 * Dirichlet non-IID (Hsu et al., 2019): for each class, proportions over the clients are drawn
 * from Dir(alpha), and the shuffled class is cut into consecutive pieces of those sizes. Small
 * alpha concentrates each class on few clients. A client left with fewer than minSize samples
 * makes the whole draw start again (the common practice), up to maxTries times.
 */
function dirichletPartition(groups: Int32Array[], clients: number, alpha: number, rng: Rng, minSize: number, maxTries: number, total: number): Int32Array[] {
  if (minSize * clients > total) {
    throw new InvalidArgumentError(`partition: ${clients} clients × minSize ${minSize} exceeds the ${total} samples`);
  }
  for (let attempt = 1; attempt <= maxTries; attempt++) {
    const lists: number[][] = Array.from({ length: clients }, () => []);
    for (const g of groups) {
      if (g.length === 0) continue;
      rng.shuffle(g);
      const counts = apportion(g.length, dirichlet(alpha, clients, rng));
      let at = 0;
      for (let j = 0; j < clients; j++) {
        for (let e = at + counts[j]!; at < e; at++) lists[j]!.push(g[at]!);
      }
    }
    if (lists.every((l) => l.length >= minSize)) return finish(lists);
  }
  throw new InvalidArgumentError(`partition: no Dirichlet(${alpha}) draw in ${maxTries} tries gave every one of ${clients} clients at least ${minSize} samples; use a larger alpha, fewer clients or a smaller minSize`);
}

/**
 * Pathological non-IID (McMahan et al., 2017): samples sorted by label (in random order within a
 * class) are cut into clients·k equal shards (±1 sample), which are dealt k per client at random.
 * A client usually sees k classes: fewer when two of its shards come from one class, more when a
 * shard straddles a class boundary (class sizes that are not multiples of the shard size). That is
 * the scheme as published; summaries show what each client got.
 */
function pathological(groups: Int32Array[], clients: number, k: number, rng: Rng, total: number): Int32Array[] {
  const shards = clients * k;
  if (shards > total) throw new InvalidArgumentError(`partition: pathological:${k} needs ${shards} shards for ${clients} clients, but there are only ${total} samples`);
  const sorted = new Int32Array(total);
  let at = 0;
  for (const g of groups) {
    rng.shuffle(g);
    sorted.set(g, at);
    at += g.length;
  }
  const order = rng.shuffle(Array.from({ length: shards }, (_, s) => s));
  const lists: number[][] = Array.from({ length: clients }, () => []);
  for (let s = 0; s < shards; s++) {
    const shard = order[s]!;
    const from = Math.floor(shard * total / shards);
    const to = Math.floor((shard + 1) * total / shards);
    const list = lists[Math.floor(s / k)]!;
    for (let i = from; i < to; i++) list.push(sorted[i]!);
  }
  return finish(lists);
}

/**
 * Splits the indices 0 … labels.length−1 among `clients`: returns one ascending Int32Array per
 * client; together they cover every index exactly once.
 */
export function partition(labels: ArrayLike<number>, clients: number, spec: string | PartitionSpec, rng: Rng, options: PartitionOptions = {}): Int32Array[] {
  const s = typeof spec === 'string' ? parsePartitionSpec(spec) : spec;
  if (!Number.isSafeInteger(clients) || clients < 1) throw new InvalidArgumentError(`partition: clients must be a positive integer, got ${clients}`);
  const classes = checkLabels(labels, options.classes);
  const groups = byClass(labels, classes);
  const total = labels.length;
  switch (s.kind) {
    case 'iid':
      return iid(groups, clients, rng);
    case 'dirichlet': {
      if (!(s.alpha > 0) || !Number.isFinite(s.alpha)) throw new InvalidArgumentError(`partition: Dirichlet alpha must be positive and finite, got ${s.alpha}`);
      const minSize = options.minSize ?? 1;
      const maxTries = options.maxTries ?? 1000;
      if (!Number.isSafeInteger(minSize) || minSize < 0) throw new InvalidArgumentError(`partition: minSize must be a non-negative integer, got ${minSize}`);
      if (!Number.isSafeInteger(maxTries) || maxTries < 1) throw new InvalidArgumentError(`partition: maxTries must be a positive integer, got ${maxTries}`);
      return dirichletPartition(groups, clients, s.alpha, rng, minSize, maxTries, total);
    }
    case 'pathological':
      if (!Number.isSafeInteger(s.k) || s.k < 1) throw new InvalidArgumentError(`partition: pathological k must be a positive integer, got ${s.k}`);
      return pathological(groups, clients, s.k, rng, total);
    default:
      throw new InvalidArgumentError(`partition: unknown spec ${JSON.stringify(s)}; ${SPEC_HELP}`);
  }
}

export interface PartitionSummary {
  classes: number;
  /** Samples per client. */
  counts: number[];
  /** histograms[client][class]: samples of each class per client. */
  histograms: Int32Array[];
  /** Number of classes each client holds at least one sample of. */
  classesPresent: number[];
}

/** Per-client sample counts and class histograms. */
export function partitionSummary(labels: ArrayLike<number>, parts: readonly ArrayLike<number>[], classes: number): PartitionSummary {
  if (!Number.isSafeInteger(classes) || classes < 1) throw new InvalidArgumentError(`partitionSummary: classes must be a positive integer, got ${classes}`);
  const histograms = parts.map((part, c) => {
    const h = new Int32Array(classes);
    for (let k = 0; k < part.length; k++) {
      const i = part[k]!;
      const y = labels[i];
      if (y === undefined || !Number.isInteger(i)) throw new InvalidArgumentError(`partitionSummary: client ${c} holds index ${i}, outside the ${labels.length} labels`);
      if (y < 0 || y >= classes) throw new InvalidArgumentError(`partitionSummary: label ${y} of sample ${i} is outside the ${classes} classes`);
      h[y]!++;
    }
    return h;
  });
  return {
    classes,
    counts: parts.map((p) => p.length),
    histograms,
    classesPresent: histograms.map((h) => h.reduce((n, v) => n + (v > 0 ? 1 : 0), 0)),
  };
}

/**
 * A fixed-width text table of a summary: one row per client with its count and, for up to
 * `maxClassColumns` classes (default 10), one column per class; with more classes, the number of
 * classes present and the three largest (class:count).
 */
export function formatPartitionSummary(summary: PartitionSummary, options: { maxClassColumns?: number } = {}): string {
  const maxCols = options.maxClassColumns ?? 10;
  const wide = summary.classes <= maxCols;
  const header = ['client', 'samples', ...(wide ? Array.from({ length: summary.classes }, (_, c) => `c${c}`) : ['classes', 'largest'])];
  const rows = summary.histograms.map((h, client) => {
    const cells = [String(client), String(summary.counts[client])];
    if (wide) {
      for (const v of h) cells.push(String(v));
    } else {
      const top = Array.from(h, (v, c) => [c, v] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 3);
      cells.push(String(summary.classesPresent[client]), top.map(([c, v]) => `${c}:${v}`).join(' '));
    }
    return cells;
  });
  const counts = summary.counts;
  const total = counts.reduce((a, b) => a + b, 0);
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]!.length)));
  const line = (cells: string[]) => cells.map((c, j) => (j === cells.length - 1 && !wide ? c : c.padStart(widths[j]!))).join('  ').trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (counts.length) {
    out.push(`${counts.length} clients, ${total} samples: min ${Math.min(...counts)}, max ${Math.max(...counts)}, mean ${(total / counts.length).toFixed(1)} per client`);
  }
  return out.join('\n');
}
