// Loads the AssemblyScript kernel module once per realm and build. The .wasm files ship next to
// the bundle and are located with `new URL(..., import.meta.url)`, which works in Node, Deno,
// browsers and downstream bundlers alike. There are four builds (scripts/build-wasm.mjs): one
// thread or shared memory, each in plain and in relaxed SIMD.
import wasmUrl from '../../../build/wasm/feddip.wasm';
import wasmMtUrl from '../../../build/wasm/feddip-mt.wasm';
import wasmRelaxedUrl from '../../../build/wasm/feddip-relaxed.wasm';
import wasmMtRelaxedUrl from '../../../build/wasm/feddip-mt-relaxed.wasm';
import { allowRelaxedSimd, readBinary, runtimeName } from '../../platform/runtime.ts';
import { BackendUnavailableError, InvalidArgumentError } from '../../errors.ts';
import type { SimdBuild } from '../backend.ts';

/** The kernel exports of assembly/index.ts (pointers are byte offsets into memory). */
export interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  gemmNT(a: number, b: number, c: number, m: number, n: number, k: number, beta: number): void;
  gemmNN(a: number, b: number, c: number, m: number, n: number, k: number, beta: number): void;
  gemmTN(a: number, b: number, c: number, m: number, n: number, k: number, beta: number): void;
  linearForward(x: number, w: number, bias: number, y: number, batch: number, inF: number, outF: number): void;
  linearBackwardBias(dy: number, db: number, rows: number, cols: number, beta: number): void;
  /** Workspace floats of one thread's linearBackwardData/linearBackwardWeight. */
  linearBackwardWorkspaceFloats(batch: number, inF: number, outF: number): number;
  /** Columns j0 … j1 of dx = dy·W. */
  linearBackwardData(dy: number, w: number, dx: number, ws: number, batch: number, inF: number, outF: number, j0: number, j1: number): void;
  /** Rows o0 … o1 of dW = dyᵀ·x. */
  linearBackwardWeight(dy: number, x: number, dw: number, ws: number, batch: number, inF: number, outF: number, o0: number, o1: number): void;
  reluForward(x: number, y: number, n: number): void;
  reluBackward(x: number, dy: number, dx: number, n: number): void;
  softmaxCrossEntropy(logits: number, labels: number, loss: number, dlogits: number, batch: number, classes: number): void;
  sgdStep(param: number, grad: number, n: number, lr: number, weightDecay: number): void;
  axpy(alpha: number, x: number, y: number, n: number): void;
  fill(y: number, value: number, n: number): void;
  copy(x: number, y: number, n: number): void;
  sumSquares(x: number, n: number, out: number): void;
  addScaledByInvNorm(x: number, sumSq: number, grad: number, n: number, lambda: number): void;
  /**
   * Floats of per-thread workspace the conv kernels need for this geometry (im2col, or the implicit
   * lowering's padded image, gradient grid and offsets); 0 for a 1×1 stride-1 unpadded conv.
   */
  convWorkspaceFloats(c: number, h: number, w: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): number;
  /** col: workspace of convWorkspaceFloats floats, or 0 for a 1×1 stride-1 unpadded conv. */
  conv2dForward(x: number, w: number, bias: number, y: number, col: number,
    n: number, c: number, h: number, wd: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): void;
  conv2dBackward(x: number, w: number, dy: number, dx: number, dw: number, db: number, col: number,
    n: number, c: number, h: number, wd: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): void;
  /**
   * Chunks of images the weight gradient sums separately (groups of four on lanes, or the implicit
   * lowering's chunks; 0: the geometry takes another lowering); threads can split the batch by them (conv2dWeightGradPartialsPart, then sumPartialsPart).
   */
  weightGradChunks(n: number, c: number, h: number, w: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): number;
  /** Whether conv2dWeightGradPooled takes this kernel width (kw ≤ 8). */
  pooledWeightGradSupported(kw: number): number;
  /** Workspace floats of one thread's conv2dWeightGradPooled. */
  pooledWeightGradWorkspaceFloats(n: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, pooled: number): number;
  /** dw rows o0 … o1 (and db) from the pooled gradient g and the pool's indices; ws: the workspace. */
  conv2dWeightGradPooled(x: number, g: number, indices: number, dw: number, db: number, ws: number, o0: number, o1: number,
    n: number, c: number, h: number, wd: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, pooled: number): void;
  /** Whether conv2dBackwardDataPooled is the faster input gradient for c channels and kernels kw wide. */
  pooledInputGradPreferred(c: number, kw: number): number;
  /** Workspace floats of one thread's conv2dBackwardDataPooled. */
  pooledInputGradWorkspaceFloats(c: number, h: number, w: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, pooled: number): number;
  /** Workspace floats of one thread's sparseConv2dBackwardDataPooled, for nnz kept weights. */
  sparsePooledInputGradWorkspaceFloats(nnz: number, c: number, h: number, w: number, o: number, kh: number, kw: number,
    sh: number, sw: number, ph: number, pw: number, pooled: number): number;
  /** dx of images n0 … n1 from the pooled gradient, the pool's indices and the CSR of Wᵀ; ws: the workspace. */
  sparseConv2dBackwardDataPooled(g: number, indices: number, rowPtr: number, colIdx: number, values: number, dx: number, ws: number,
    n0: number, n1: number, c: number, h: number, wd: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number,
    pooled: number): void;
  /** dx of images n0 … n1 from the pooled gradient g and the pool's indices; ws: the workspace. */
  conv2dBackwardDataPooled(g: number, indices: number, w: number, dx: number, ws: number, n0: number, n1: number,
    c: number, h: number, wd: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, pooled: number): void;
  maxPool2dForward(x: number, y: number, indices: number, planes: number, inH: number, inW: number, outH: number, outW: number,
    kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number): void;
  maxPool2dBackward(dy: number, indices: number, dx: number, planes: number, inH: number, inW: number, outH: number, outW: number): void;
  avgPool2dForward(x: number, y: number, planes: number, inH: number, inW: number, outH: number, outW: number,
    kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number): void;
  avgPool2dBackward(dy: number, dx: number, planes: number, inH: number, inW: number, outH: number, outW: number,
    kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number): void;
  adaptiveAvgPool2dForward(x: number, y: number, planes: number, inH: number, inW: number, outH: number, outW: number): void;
  adaptiveAvgPool2dBackward(dy: number, dx: number, planes: number, inH: number, inW: number, outH: number, outW: number): void;
  batchNorm2dForward(x: number, gamma: number, beta: number, runningMean: number, runningVar: number, y: number,
    saveMean: number, saveInvStd: number, batch: number, channels: number, spatial: number,
    training: number, momentum: number, eps: number): void;
  batchNorm2dBackward(x: number, gamma: number, dy: number, saveMean: number, saveInvStd: number,
    dx: number, dgamma: number, dbeta: number, batch: number, channels: number, spatial: number): void;
  dropout(input: number, mask: number, out: number, n: number, scale: number): void;
  addTensors(a: number, b: number, y: number, n: number): void;
  applyMask(w: number, mask: number, y: number, n: number): void;
  csrAddScaledByInvNorm(rowPtr: number, colIdx: number, values: number, rows: number, cols: number, sumSq: number, grad: number, lambda: number): void;
  csrGather(w: number, rowPtr: number, colIdx: number, values: number, rows: number, rowStride: number, colStride: number): void;
  /** xt, yt: workspaces of cols·batch and rows·batch floats (0 when batch is 1). */
  sparseLinearForward(x: number, rowPtr: number, colIdx: number, values: number, bias: number, y: number, xt: number, yt: number,
    batch: number, cols: number, rows: number): void;
  /** Workspace floats of the sparse conv kernels with at most nnz kept weights (0: none needed). */
  sparseConvWorkspaceFloats(nnz: number, c: number, h: number, w: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): number;
  sparseConv2dForward(x: number, rowPtr: number, colIdx: number, values: number, bias: number, y: number, col: number,
    n: number, c: number, h: number, wd: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): void;
  sparseConv2dBackwardData(dy: number, rowPtr: number, colIdx: number, values: number, dx: number, dcol: number,
    n: number, c: number, h: number, wd: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): void;
  /** Whether sparseConv2dForwardPooled takes this geometry with nnz kept weights. */
  sparsePooledForwardFused(nnz: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): number;
  /** sparseConv2dForward's gathered pass with the 2×2 stride-2 pool (then ReLU) read off its grid; col: sparseConvWorkspaceFloats floats. */
  sparseConv2dForwardPooled(x: number, rowPtr: number, colIdx: number, values: number, bias: number, y: number, indices: number, col: number,
    n: number, c: number, h: number, wd: number, o: number, kh: number, kw: number, ph: number, pw: number, relu: number): void;
}

// Smallest module using a v128 instruction: tells whether this engine has WebAssembly SIMD.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

// (func (param v128) (result v128) (f32x4.relaxed_madd (local.get 0) (local.get 0) (local.get 0))):
// valid only where the engine has relaxed SIMD.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 0, 32, 0, 253, 133, 2, 11,
]);

export function wasmSimdSupported(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

/**
 * Which SIMD build the wasm backend runs: 'relaxed' (multiply-adds fused where the CPU can, see
 * assembly/gemm.ts `madd`) or 'baseline' (plain WebAssembly SIMD, the same bits on every machine).
 * 'auto' picks 'relaxed' wherever the engine has it.
 */
export type SimdChoice = 'auto' | 'relaxed' | 'baseline';
export const SIMD_CHOICES: readonly SimdChoice[] = ['auto', 'relaxed', 'baseline'];

/** Why the engine refuses relaxed SIMD, or undefined when it runs it. */
async function relaxedSimdMissing(): Promise<string | undefined> {
  if (WebAssembly.validate(RELAXED_SIMD_PROBE)) return undefined;
  // Node 20 has relaxed SIMD behind a V8 flag (on by default from Node 22).
  if (await allowRelaxedSimd() && WebAssembly.validate(RELAXED_SIMD_PROBE)) return undefined;
  return runtimeName() === 'node'
    ? 'this Node lacks relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd; Node 22 and later have it)'
    : 'this engine lacks WebAssembly relaxed SIMD (Chrome 114 and later and Deno have it)';
}

/** Resolves the user's choice against what the engine has; 'relaxed' where it is missing is an error. */
export async function chooseSimdBuild(choice: unknown = 'auto'): Promise<SimdBuild> {
  if (!SIMD_CHOICES.includes(choice as SimdChoice)) {
    throw new InvalidArgumentError(`wasm backend: 'simd' must be one of ${SIMD_CHOICES.join(', ')}, got ${String(choice)}`);
  }
  if (choice === 'baseline') return { kind: 'baseline', reason: "plain SIMD: 'baseline' requested" };
  if (typeof WebAssembly !== 'object') throw new BackendUnavailableError('wasm', 'this runtime has no WebAssembly');
  const missing = await relaxedSimdMissing();
  if (missing === undefined) return { kind: 'relaxed', reason: 'relaxed SIMD: multiply-adds fused where the CPU has fused multiply-add' };
  if (choice === 'relaxed') throw new BackendUnavailableError('wasm', `'relaxed' SIMD requested, but ${missing}; ask for simd: 'auto' or 'baseline'`);
  return { kind: 'baseline', reason: `plain SIMD: ${missing}` };
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

async function compile(url: URL): Promise<WebAssembly.Module> {
  if (typeof WebAssembly !== 'object') throw new BackendUnavailableError('wasm', 'this runtime has no WebAssembly');
  if (!wasmSimdSupported()) throw new BackendUnavailableError('wasm', 'this engine lacks WebAssembly SIMD (needs Node 16.4+, Deno 1.9+, Chrome 91+, Firefox 89+, Safari 16.4+)');
  const bytes = await readBinary(url);
  return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

/** The compiled build, compiled once per realm; a failed compilation is retried next time. */
async function compiledBuild(url: URL): Promise<WebAssembly.Module> {
  let module = compiled.get(url.href);
  if (!module) {
    module = compile(url);
    compiled.set(url.href, module);
  }
  try {
    return await module;
  } catch (error) {
    compiled.delete(url.href);
    throw error;
  }
}

/** A fresh instance (own memory) of the kernel module in the given build; compilation happens once. */
export async function instantiateKernels(simd: SimdBuild['kind']): Promise<KernelExports> {
  const module = await compiledBuild(simd === 'relaxed' ? wasmRelaxedUrl : wasmUrl);
  const instance = await WebAssembly.instantiate(module, { env: { abort: onAbort } });
  return instance.exports as unknown as KernelExports;
}

/** Pages of the threaded module's shared memory: its declared maximum (scripts/build-wasm.mjs). */
export const SHARED_MAX_PAGES = 65536;

/**
 * The threaded build on a fresh shared memory, plus the compiled module for the workers to
 * instantiate on the same memory.
 */
export async function instantiateSharedKernels(simd: SimdBuild['kind']): Promise<{ kernels: KernelExports; module: WebAssembly.Module; memory: WebAssembly.Memory }> {
  const module = await compiledBuild(simd === 'relaxed' ? wasmMtRelaxedUrl : wasmMtUrl);
  const memory = new WebAssembly.Memory({ initial: 16, maximum: SHARED_MAX_PAGES, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory, abort: onAbort } });
  return { kernels: { ...(instance.exports as unknown as KernelExports), memory }, module, memory };
}

function onAbort(): never {
  throw new Error('feddip wasm kernel aborted');
}
