// Input gradient of a convolution whose output feeds a max-pool (LeNet's conv2 → ReLU → max-pool),
// from the pool's side, as pooled.ts takes the weight gradient: the pool routes each pooled
// gradient g to the one conv output its window picked, so dy is at least three quarters zeros
// (and the ReLU in between zeroes more). Every non-zero g adds g · W[o] (all channels and taps) to
// the input patch under its conv output:
//   dx[n, c, r·sh + ki − ph, q·sw + kj − pw] += g[n, o, p] · W[o, c, ki, kj]   ((r, q) = indices[n, o, p])
// which is the dense input gradient of dy = maxPool2dBackward(g, indices) without its products
// with zero.
//
// Per image the sums collect in a zero-bordered channels-last plane whose channels are padded to a
// multiple of 4 (cp): one kernel row ki of a patch is then kw·cp contiguous floats, a whole number
// of aligned vectors, and so is the matching row of the weights, re-laid [o][ki][kj][cp] with zeros
// in the padded channels. Patches of neighbouring windows overlap, always on whole vectors at the
// same addresses. For each filter and kernel row, the row's weights stay in registers while that
// filter's non-zeros stream past: one load, one multiply-add and one store per vector.
//
// Bits: dx of an image depends on that image alone, summed filter by filter, kernel row by kernel
// row, non-zero by non-zero in pooled order, so threads can own any images.
import { madd } from "./gemm";
import { outSize, round4, unpad } from "./conv";
import { listNonZeros, patchOffsets } from "./pooled";

// @ts-ignore: decorator
@inline function bytes(n: i32): usize {
  return <usize>n << 2;
}

/**
 * Whether conv2dBackwardDataPooled is the faster input gradient for this geometry: narrow channels
 * (a patch row of at most 12 vectors, LeNet's conv2 has 10), where the dense lowering's products
 * are short. Wider layers take Winograd or im2col, at full speed on dense dy.
 */
export function pooledInputGradPreferred(c: i32, kw: i32): bool {
  return kw * round4(c) <= 48;
}

/**
 * Floats of one thread's workspace: the re-laid weights, one padded image, one filter's non-zero
 * list, the conv output → patch offset table.
 */
export function pooledInputGradWorkspaceFloats(c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, pooled: i32): i32 {
  const cp = round4(c);
  const positions = outSize(h, kh, sh, ph) * outSize(wd, kw, sw, pw);
  return o * kh * kw * cp + (h + 2 * ph) * (wd + 2 * pw) * cp + 2 * round4(pooled + 4) + round4(positions);
}

/**
 * dx of images n0 … n1 (overwritten) for the convolution x [n × c × h × wd] → [n × o × ho × wo]
 * with w [o × c × kh × kw], from the pooled gradient g and the pool's indices [n × o × pooled]
 * (flat r·wo + q in the conv output; an index outside it is skipped, as the pool's backward skips
 * it). ws: pooledInputGradWorkspaceFloats floats.
 */
export function conv2dBackwardDataPooled(
  g: usize, indices: usize, w: usize, dx: usize, ws: usize, n0: i32, n1: i32,
  c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, pooled: i32,
): void {
  const ho = outSize(h, kh, sh, ph), wo = outSize(wd, kw, sw, pw);
  const positions = ho * wo;
  const cp = round4(c);
  const hp = h + 2 * ph, wp = wd + 2 * pw;
  const span = kw * cp;
  const wt = ws;
  const pad = wt + bytes(o * kh * span);
  const listG = pad + bytes(hp * wp * cp);
  const listO = listG + bytes(round4(pooled + 4));
  const table = listO + bytes(round4(pooled + 4));
  memory.fill(wt, 0, bytes(o * kh * span));
  for (let oi = 0; oi < o; oi++) {
    for (let ci = 0; ci < c; ci++) {
      for (let ki = 0; ki < kh; ki++) {
        for (let kj = 0; kj < kw; kj++) {
          store<f32>(wt + bytes(((oi * kh + ki) * kw + kj) * cp + ci), load<f32>(w + bytes(((oi * c + ci) * kh + ki) * kw + kj)));
        }
      }
    }
  }
  const rowBytes = bytes(wp * cp);
  // Patches in the padded channels-last plane: pixels of cp floats.
  patchOffsets(table, positions, wo, sh, sw, wp, cp);
  for (let ni = n0; ni < n1; ni++) {
    memory.fill(pad, 0, bytes(hp * wp * cp));
    for (let oi = 0; oi < o; oi++) {
      const at = (ni * o + oi) * pooled;
      const m = listNonZeros(g + bytes(at), indices + bytes(at), pooled, positions, table, 0, listG, listO, 0);
      if (m == 0) continue;
      for (let ki = 0; ki < kh; ki++) {
        const src = wt + bytes((oi * kh + ki) * span);
        const base = pad + <usize>ki * rowBytes;
        if (span == 40) scatterRows10(base, src, listG, listO, m);
        else scatterRows(base, src, span, listG, listO, m);
      }
    }
    // Back to channels-first, the border dropped.
    const dxn = dx + bytes(ni * c * h * wd);
    for (let ci = 0; ci < c; ci++) {
      for (let y = 0; y < h; y++) {
        const from = pad + bytes(((y + ph) * wp + pw) * cp + ci);
        const to = dxn + bytes((ci * h + y) * wd);
        for (let xi = 0; xi < wd; xi++) store<f32>(to + bytes(xi), load<f32>(from + bytes(xi * cp)));
      }
    }
  }
}

/**
 * One kernel row of 10 vectors (kw·cp = 40: LeNet's conv2, 5 taps × 8 channels) held in registers
 * while the m non-zeros add g · row to their patches at base + offset. Exported (see index.ts) to
 * keep it a function of its own, with its registers to itself.
 */
export function scatterRows10(base: usize, src: usize, listG: usize, listO: usize, m: i32): void {
  const w0 = v128.load(src), w1 = v128.load(src, 16), w2 = v128.load(src, 32), w3 = v128.load(src, 48), w4 = v128.load(src, 64);
  const w5 = v128.load(src, 80), w6 = v128.load(src, 96), w7 = v128.load(src, 112), w8 = v128.load(src, 128), w9 = v128.load(src, 144);
  for (let e = 0; e < m; e++) {
    const gs = v128.load32_splat(listG + bytes(e));
    const d = base + <usize>load<i32>(listO + bytes(e));
    v128.store(d, madd(v128.load(d), gs, w0));
    v128.store(d, madd(v128.load(d, 16), gs, w1), 16);
    v128.store(d, madd(v128.load(d, 32), gs, w2), 32);
    v128.store(d, madd(v128.load(d, 48), gs, w3), 48);
    v128.store(d, madd(v128.load(d, 64), gs, w4), 64);
    v128.store(d, madd(v128.load(d, 80), gs, w5), 80);
    v128.store(d, madd(v128.load(d, 96), gs, w6), 96);
    v128.store(d, madd(v128.load(d, 112), gs, w7), 112);
    v128.store(d, madd(v128.load(d, 128), gs, w8), 128);
    v128.store(d, madd(v128.load(d, 144), gs, w9), 144);
  }
}

/** The same for any row length (a multiple of 4 floats): the weights read from memory. */
function scatterRows(base: usize, src: usize, span: i32, listG: usize, listO: usize, m: i32): void {
  const spanBytes = bytes(span);
  for (let e = 0; e < m; e++) {
    const gs = v128.load32_splat(listG + bytes(e));
    const d = base + <usize>load<i32>(listO + bytes(e));
    for (let j: usize = 0; j < spanBytes; j += 16) v128.store(d + j, madd(v128.load(d + j), gs, v128.load(src + j)));
  }
}

// ---- with the weight sparse ----
//
// The same scatter with the pruned weight as the CSR of Wᵀ (sparseConv2dBackwardData's operand):
// each filter's kept weights are listed once per call (byte offset of the tap in the padded
// plane, value), and every non-zero pooled gradient adds g·value at its patch's offset plus each
// tap's. At 95 % sparsity a LeNet-5 filter keeps a handful of its 150 weights, so the work is a few
// scalar multiply-adds per non-zero gradient, where the sparse input gradient of the dense dy does
// them for every conv output, zeros included.

/** Floats of one thread's sparseConv2dBackwardDataPooled workspace, for nnz kept weights. */
export function sparsePooledInputGradWorkspaceFloats(
  nnz: i32, c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, pooled: i32,
): i32 {
  const positions = outSize(h, kh, sh, ph) * outSize(wd, kw, sw, pw);
  const plane = c * (h + 2 * ph) * (wd + 2 * pw);
  return 2 * round4(o + 1) + 2 * round4(nnz) + round4(plane) + 2 * round4(pooled + 4) + round4(positions);
}

/**
 * dx of images n0 … n1 (overwritten), as conv2dBackwardDataPooled, with the weight given as the CSR
 * of Wᵀ ([c·kh·kw × o]: row t lists the filters tap t feeds, and their weights).
 */
export function sparseConv2dBackwardDataPooled(
  g: usize, indices: usize, rowPtr: usize, colIdx: usize, values: usize, dx: usize, ws: usize, n0: i32, n1: i32,
  c: i32, h: i32, wd: i32, o: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, pooled: i32,
): void {
  const ho = outSize(h, kh, sh, ph), wo = outSize(wd, kw, sw, pw);
  const positions = ho * wo;
  const taps = kh * kw;
  const k = c * taps;
  const nnz = load<i32>(rowPtr + bytes(k));
  const hp = h + 2 * ph, wp = wd + 2 * pw;
  const plane = c * hp * wp;
  const padded = ph != 0 || pw != 0;
  const first = ws;
  const cursor = first + bytes(round4(o + 1));
  const tapAt = cursor + bytes(round4(o + 1));
  const weight = tapAt + bytes(round4(nnz));
  const pad = weight + bytes(round4(nnz));
  const listG = pad + bytes(round4(plane));
  const listO = listG + bytes(round4(pooled + 4));
  const table = listO + bytes(round4(pooled + 4));
  // Each filter's kept weights, in tap order: a counting sort of Wᵀ's entries by filter.
  memory.fill(first, 0, bytes(o + 1));
  for (let i = 0; i < nnz; i++) {
    const at = first + bytes(load<i32>(colIdx + bytes(i)) + 1);
    store<i32>(at, load<i32>(at) + 1);
  }
  for (let oi = 0; oi < o; oi++) store<i32>(first + bytes(oi + 1), load<i32>(first + bytes(oi + 1)) + load<i32>(first + bytes(oi)));
  memory.copy(cursor, first, bytes(o));
  for (let t = 0; t < k; t++) {
    const ci = t / taps, ki = (t - ci * taps) / kw, kj = t - ci * taps - ki * kw;
    const offset = <i32>bytes((ci * hp + ki) * wp + kj);
    const end = load<i32>(rowPtr + bytes(t + 1));
    for (let i = load<i32>(rowPtr + bytes(t)); i < end; i++) {
      const slot = cursor + bytes(load<i32>(colIdx + bytes(i)));
      const j = load<i32>(slot);
      store<i32>(slot, j + 1);
      store<i32>(tapAt + bytes(j), offset);
      store<f32>(weight + bytes(j), load<f32>(values + bytes(i)));
    }
  }
  patchOffsets(table, positions, wo, sh, sw, wp, 1);
  const image = c * h * wd;
  for (let ni = n0; ni < n1; ni++) {
    const dxn = dx + bytes(ni * image);
    // Unpadded, the plane is dx itself.
    const target = padded ? pad : dxn;
    memory.fill(target, 0, bytes(plane));
    for (let oi = 0; oi < o; oi++) {
      const f0 = load<i32>(first + bytes(oi)), f1 = load<i32>(first + bytes(oi + 1));
      if (f1 == f0) continue;
      const at = (ni * o + oi) * pooled;
      const m = listNonZeros(g + bytes(at), indices + bytes(at), pooled, positions, table, 0, listG, listO, 0);
      for (let e = 0; e < m; e++) {
        const gv = load<f32>(listG + bytes(e));
        const base = target + <usize>load<i32>(listO + bytes(e));
        for (let j = f0; j < f1; j++) {
          const p = base + <usize>load<i32>(tapAt + bytes(j));
          store<f32>(p, load<f32>(p) + gv * load<f32>(weight + bytes(j)));
        }
      }
    }
    if (padded) unpad(pad, dxn, c, h, wd, ph, pw);
  }
}
