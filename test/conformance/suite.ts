// The conformance suite: every golden case of ../shared/fixtures/torch on every backend, with the
// manifest's tolerances. Runtime-neutral: the feddip module and file access are passed in, so Node
// (vitest), Deno and Chromium run exactly this code against the built package.
import type { Backend, BackendName, BackendOptions, BackendReport, Flatten as FlattenClass, lenet5 as lenet5Fn, Network as NetworkClass } from '../../src/index.ts';
import type { BasicBlock as BasicBlockClass, LayerHarness as LayerHarnessClass } from '../../src/index.ts';
import type { releaseCsr as releaseCsrFn, uploadCsr as uploadCsrFn } from '../../src/index.ts';
import type * as Sparse from '../../src/sparse/index.ts';
import { compare, type ExpectedArray } from './compare.ts';
import { type FixtureCase, type FixtureReader, loadManifest, loadTensors } from './manifest.ts';
import { EXPECTATIONS, OPS, SPARSE_OPS } from './ops.ts';

export type CaseStatus = 'pass' | 'fail' | 'skip' | 'not-implemented';

export interface CaseResult {
  runtime: string;
  backend: string;
  name: string;
  op: string;
  status: CaseStatus;
  detail: string;
}

export interface FeddipModule {
  createBackend(name: BackendName, options?: BackendOptions): Promise<Backend>;
  backends(): Promise<BackendReport[]>;
  /** Host-side ops (masks, schedules, ERK) are judged on the package's own build, like kernels. */
  sparse: typeof Sparse;
  /** Whole-model cases (LeNet-5, the DPF step) build the network from the package under test. */
  Network: typeof NetworkClass;
  lenet5: typeof lenet5Fn;
  Flatten: typeof FlattenClass;
  /** Single-block cases (the residual block) bind the package's layer through its harness. */
  BasicBlock: typeof BasicBlockClass;
  LayerHarness: typeof LayerHarnessClass;
  /** The sparse variants of layer cases upload CSR weights with the package's own helpers. */
  uploadCsr: typeof uploadCsrFn;
  releaseCsr: typeof releaseCsrFn;
}

/** A case as run: on the dense kernels, or — for ops in SPARSE_OPS — also on the sparse path. */
export interface CaseVariant {
  c: FixtureCase;
  sparse: boolean;
  /** The case's name, with " [sparse]" for the sparse variant. */
  name: string;
}

/** Every case, each followed by its sparse variant where its op has one. */
export function caseVariants(cases: readonly FixtureCase[]): CaseVariant[] {
  return cases.flatMap((c) => [
    { c, sparse: false, name: c.name },
    ...(SPARSE_OPS[c.op] ? [{ c, sparse: true, name: `${c.name} [sparse]` }] : []),
  ]);
}

export interface SuiteOptions {
  feddip: FeddipModule;
  read: FixtureReader;
  runtime: string;
  backends?: BackendName[];
  /** When true, a missing WebGPU adapter fails the run instead of skipping its cases. */
  requireWebGpu?: boolean;
  /** Only cases whose name matches. */
  filter?: RegExp;
  /**
   * Also runs every case on a wasm backend with this many threads that splits every kernel it can
   * (thresholds 0), so the threaded paths meet the golden values in this runtime.
   */
  wasmThreads?: number;
  /** The thread count that backend must report (e.g. 1 on a page that is not cross-origin-isolated). */
  expectThreads?: number;
  /**
   * The SIMD build the default wasm backend must pick here ('relaxed' where the engine has relaxed
   * SIMD). The plain build gets a pass of its own in any case.
   */
  expectSimd?: 'relaxed' | 'baseline';
}

/** The options of the threaded conformance pass: every splittable kernel is split. */
export const SPLIT_ALL = { minSplitMacs: 0, minSplitElements: 0 } as const;

export { loadManifest, OPS };
export type { FixtureCase, FixtureReader };

/**
 * Runs one case on one backend and judges every output against the golden values: the case's
 * output tensors, plus whatever its op's EXPECTATIONS entry states from the attrs (cases such as
 * erk_densities have no tensors at all). A case with nothing to judge fails rather than passes.
 */
export async function runCase(
  backend: Backend, c: FixtureCase, read: FixtureReader, lib: FeddipModule, sparse = false,
): Promise<{ status: CaseStatus; detail: string }> {
  const runner = (sparse ? SPARSE_OPS : OPS)[c.op];
  if (!runner) return { status: 'not-implemented', detail: `op '${c.op}' has no ${sparse ? 'sparse path' : 'kernel'} yet` };
  const inputs = await loadTensors(read, c, c.inputs);
  const golden = await loadTensors(read, c, c.outputs);
  const expected: Record<string, ExpectedArray> = { ...golden };
  let actual: Record<string, ArrayLike<number>>;
  const names = [...c.outputs];
  try {
    for (const [name, values] of Object.entries(EXPECTATIONS[c.op]?.(c, { ...inputs, ...golden }) ?? {})) {
      if (name in expected) throw new Error(`expectation '${name}' shadows an output tensor of the case`);
      expected[name] = values;
      names.push(name);
    }
  } catch (error) {
    return { status: 'fail', detail: `bad expectations: ${(error as Error).message}` };
  }
  if (names.length === 0) return { status: 'fail', detail: 'the case has nothing to compare' };
  try {
    actual = await runner(backend, c, inputs, lib);
  } catch (error) {
    return { status: 'fail', detail: `threw ${(error as Error).name}: ${(error as Error).message}` };
  }
  const problems: string[] = [];
  let worst = 0;
  for (const name of names) {
    const got = actual[name];
    if (!got) { problems.push(`${name}: not produced`); continue; }
    const spec = c.tensors[name];
    const cmp = compare(got, expected[name]!, spec?.rtol ?? c.rtol, spec?.atol ?? c.atol);
    worst = Math.max(worst, cmp.worst);
    if (!cmp.ok) {
      problems.push(cmp.message
        ? `${name}: ${cmp.message}`
        : `${name}[${cmp.index}] = ${cmp.actual}, expected ${cmp.expected} (${cmp.worst.toPrecision(3)}× the tolerance)`);
    }
  }
  if (problems.length) return { status: 'fail', detail: problems.join('; ') };
  return { status: 'pass', detail: `worst ${worst.toPrecision(2)} of tolerance` };
}

/** Runs every case on every requested backend. Never throws for a kernel failure: it reports it. */
export async function runConformance(options: SuiteOptions): Promise<CaseResult[]> {
  const manifest = await loadManifest(options.read);
  const cases = caseVariants(manifest.cases).filter((v) => !options.filter || options.filter.test(v.name));
  const results: CaseResult[] = [];
  // The default wasm backend (relaxed SIMD where the engine has it), the plain-SIMD build, webgpu,
  // and optionally a threaded pass that splits every kernel.
  type Pass = { name: BackendName; options?: BackendOptions; split?: boolean };
  const passes: Pass[] = (options.backends ?? ['wasm', 'webgpu']).flatMap((name): Pass[] =>
    name === 'wasm' ? [{ name }, { name, options: { simd: 'baseline' } }] : [{ name }]);
  if (options.wasmThreads !== undefined) passes.push({ name: 'wasm', options: { threads: options.wasmThreads, ...SPLIT_ALL }, split: true });
  for (const { name: backendName, options: backendOptions, split } of passes) {
    let backend: Backend | undefined;
    let unavailable = '';
    try {
      backend = await options.feddip.createBackend(backendName, backendOptions);
    } catch (error) {
      unavailable = (error as Error).message;
    }
    let label = backend?.description ?? backendName;
    const problem = (what: string) => {
      unavailable = what;
      backend?.dispose();
      backend = undefined;
    };
    if (backend && split) {
      label = `${label}, every kernel split (${backend.threading.reason})`;
      if (options.expectThreads !== undefined && backend.threading.threads !== options.expectThreads) {
        problem(`expected ${options.expectThreads} kernel threads, the backend runs ${backend.threading.threads}: ${backend.threading.reason}`);
      }
    }
    if (backend && backendName === 'wasm' && !backendOptions?.simd && options.expectSimd && backend.simd?.kind !== options.expectSimd) {
      problem(`expected the ${options.expectSimd} SIMD build, the backend runs ${backend.simd?.kind}: ${backend.simd?.reason}`);
    }
    for (const { c, sparse, name } of cases) {
      const base = { runtime: options.runtime, backend: label, name, op: c.op };
      if (!backend) {
        const required = backendName !== 'webgpu' || options.requireWebGpu;
        results.push({ ...base, status: required ? 'fail' : 'skip', detail: unavailable });
        continue;
      }
      results.push({ ...base, ...(await runCase(backend, c, options.read, options.feddip, sparse)) });
    }
    backend?.dispose();
  }
  return results;
}

export interface Tally { pass: number; fail: number; skip: number; 'not-implemented': number }

export function tally(results: CaseResult[]): Tally {
  const t: Tally = { pass: 0, fail: 0, skip: 0, 'not-implemented': 0 };
  for (const r of results) t[r.status]++;
  return t;
}

/** A readable report: a line per runtime × backend with counts, then every non-passing case. */
export function formatReport(results: CaseResult[]): string {
  const groups = new Map<string, CaseResult[]>();
  for (const r of results) {
    const key = `${r.runtime} | ${r.backend}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const lines: string[] = [];
  for (const [key, rs] of groups) {
    const t = tally(rs);
    lines.push(`conformance ${key}: ${t.pass} passed, ${t.fail} failed, ${t.skip} skipped, ${t['not-implemented']} not implemented`);
    const notImplemented = rs.filter((r) => r.status === 'not-implemented').map((r) => r.name);
    for (const r of rs) {
      if (r.status === 'fail' || r.status === 'skip') lines.push(`  ${r.status.toUpperCase()} ${r.name} (${r.op}): ${r.detail}`);
    }
    if (notImplemented.length) lines.push(`  not implemented: ${notImplemented.join(', ')}`);
  }
  return lines.join('\n');
}
