// 2-D max, average and adaptive average pooling over `planes` contiguous NCHW planes (PyTorch's
// conventions: floor mode, max pooling pads with −∞, average pooling counts the padding).
// Backward passes gather: each input element sums the outputs whose window covers it, so a pass
// writes every element once, in a fixed order, whether or not windows overlap.
import { reluLanes, reluOne } from "./activation";

/** y and indices (flat h·W + w within the plane) of each window's maximum; the first max wins. */
export function maxPool2dForward(
  x: usize, y: usize, indices: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
): void {
  if (kernelH == 2 && kernelW == 2 && strideH == 2 && strideW == 2 && padH == 0 && padW == 0) {
    maxPool2x2(x, y, indices, planes, inH, inW, outH, outW);
    return;
  }
  const inPlane = <usize>(inH * inW) << 2;
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const xp = x + <usize>p * inPlane;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * strideH - padH;
      const hs = max(h0, 0);
      const he = min(h0 + kernelH, inH);
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * strideW - padW;
        const ws = max(w0, 0);
        const we = min(w0 + kernelW, inW);
        // Starting from the window's first element (rather than −∞) gives torch's index when the
        // whole window is −∞, and padding ≤ kernel/2 guarantees the window holds an element.
        let arg = hs * inW + ws;
        let best = load<f32>(xp + (<usize>arg << 2));
        for (let h = hs; h < he; h++) {
          const row = xp + (<usize>(h * inW) << 2);
          for (let w = ws; w < we; w++) {
            const v = load<f32>(row + (<usize>w << 2));
            // torch's rule: NaN propagates (the last NaN's index is kept).
            if (v > best || isNaN(v)) { best = v; arg = h * inW + w; }
          }
        }
        store<f32>(y + o, best);
        store<i32>(indices + o, arg);
        o += 4;
      }
    }
  }
}

/**
 * The 2×2 stride-2 unpadded case (LeNet, AlexNet), four windows at a time: the two input rows of
 * four windows are two pairs of v128 loads, de-interleaved into their left and right columns, and
 * the four candidates are compared in the general loop's order with its NaN rule, as lane masks
 * and bitselects. A row whose width is not a multiple of four ends with a block that overlaps the
 * one before it (recomputing a window gives the same bits), so no window takes the scalar path
 * unless a row holds fewer than four: V8 lowers an f32 select to a compare and a jump, which random
 * data mispredicts half the time, and LeNet's 14- and 5-wide rows spent most of their time in such
 * a tail (~17 ns per window).
 */
function maxPool2x2(x: usize, y: usize, indices: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32): void {
  maxPool2x2Rows(x, <usize>(inH * inW) << 2, <usize>inW << 2, y, indices, planes, inW, outH, outW, false);
}

/**
 * maxPool2x2 over planes laid out with strides of their own: plane p's row r starts at
 * x + p·planeBytes + r·rowBytes, while the indices count rows of inW (the convolution's output
 * width; a grid row may hold more than inW values). relu: store max(y, 0), as reluForward does.
 */
export function maxPool2x2Rows(
  x: usize, planeBytes: usize, rowBytes: usize, y: usize, indices: usize,
  planes: i32, inW: i32, outH: i32, outW: i32, relu: bool,
): void {
  const outRowBytes = <usize>outW << 2;
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const xp = x + <usize>p * planeBytes;
    for (let oh = 0; oh < outH; oh++) {
      const top = xp + <usize>(2 * oh) * rowBytes;
      const base = 2 * oh * inW;
      if (outW >= 4) {
        for (let ow = 0; ow < outW; ow += 4) {
          const at = min(ow, outW - 4);
          const t = top + (<usize>(2 * at) << 2);
          const best = maxOf4Windows(
            v128.load(t), v128.load(t, 16), v128.load(t + rowBytes), v128.load(t + rowBytes, 16),
            base + 2 * at, inW, indices + o + (<usize>at << 2),
          );
          v128.store(y + o + (<usize>at << 2), relu ? reluLanes(best) : best);
        }
      } else {
        for (let ow = 0; ow < outW; ow++) {
          const at = top + (<usize>(2 * ow) << 2);
          const v0 = load<f32>(at);
          const v1 = load<f32>(at, 4);
          const v2 = load<f32>(at + rowBytes);
          const v3 = load<f32>(at + rowBytes, 4);
          const i0 = base + 2 * ow;
          let best = v0;
          let arg = i0;
          if (v1 > best || v1 != v1) { best = v1; arg = i0 + 1; }
          if (v2 > best || v2 != v2) { best = v2; arg = i0 + inW; }
          if (v3 > best || v3 != v3) { best = v3; arg = i0 + inW + 1; }
          if (relu) best = reluOne(best);
          store<f32>(y + o + (<usize>ow << 2), best);
          store<i32>(indices + o + (<usize>ow << 2), arg);
        }
      }
      o += outRowBytes;
    }
  }
}

/**
 * a where the lanes of `take` (all ones or all zeros, as comparisons give) are set, else b. The
 * relaxed build selects whole lanes (one blend on x86, against three logic operations for a
 * bitselect); with such masks both give the same bits.
 */
// @ts-ignore: decorator
@inline function laneSelect(a: v128, b: v128, take: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_laneselect(a, b, take);
  return v128.bitselect(a, b, take);
}

/**
 * The maxima of four 2×2 windows side by side, from their top row (t0, t1: 8 values) and bottom
 * row (b0, b1), in the general loop's order (top left, top right, bottom left, bottom right; the
 * first maximum wins, a NaN is taken). Stores the windows' indices — i0 is the first window's top
 * left, inW the row length they count — and returns the maxima.
 */
// @ts-ignore: decorator
@inline function maxOf4Windows(t0: v128, t1: v128, b0: v128, b1: v128, i0: i32, inW: i32, indices: usize): v128 {
  const v0 = v128.shuffle<f32>(t0, t1, 0, 2, 4, 6);
  const v1 = v128.shuffle<f32>(t0, t1, 1, 3, 5, 7);
  const v2 = v128.shuffle<f32>(b0, b1, 0, 2, 4, 6);
  const v3 = v128.shuffle<f32>(b0, b1, 1, 3, 5, 7);
  const first = i32x4.add(i32x4.splat(i0), i32x4(0, 2, 4, 6));
  let best = v0;
  let arg = first;
  let take = v128.or(f32x4.gt(v1, best), f32x4.ne(v1, v1));
  best = laneSelect(v1, best, take);
  arg = laneSelect(i32x4.add(first, i32x4.splat(1)), arg, take);
  take = v128.or(f32x4.gt(v2, best), f32x4.ne(v2, v2));
  best = laneSelect(v2, best, take);
  arg = laneSelect(i32x4.add(first, i32x4.splat(inW)), arg, take);
  take = v128.or(f32x4.gt(v3, best), f32x4.ne(v3, v3));
  best = laneSelect(v3, best, take);
  arg = laneSelect(i32x4.add(first, i32x4.splat(inW + 1)), arg, take);
  v128.store(indices, arg);
  return best;
}

/** dx ← 0, then dx[index] += dy. Indices outside the plane are skipped: never a stray write. */
export function maxPool2dBackward(
  dy: usize, indices: usize, dx: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
): void {
  const inSize = inH * inW;
  const outSize = outH * outW;
  memory.fill(dx, 0, (<usize>planes * <usize>inSize) << 2);
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const dxp = dx + ((<usize>p * <usize>inSize) << 2);
    for (let j = 0; j < outSize; j++) {
      const i = load<i32>(indices + o);
      if (<u32>i < <u32>inSize) {
        const at = dxp + (<usize>i << 2);
        store<f32>(at, load<f32>(at) + load<f32>(dy + o));
      }
      o += 4;
    }
  }
}

/** Mean over each window, dividing by the full kernel area (padding counts as zeros). */
export function avgPool2dForward(
  x: usize, y: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
): void {
  const inPlane = <usize>(inH * inW) << 2;
  const divisor = <f32>(kernelH * kernelW);
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const xp = x + <usize>p * inPlane;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * strideH - padH;
      const hs = max(h0, 0);
      const he = min(h0 + kernelH, inH);
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * strideW - padW;
        const ws = max(w0, 0);
        const we = min(w0 + kernelW, inW);
        let s: f32 = 0;
        for (let h = hs; h < he; h++) {
          const row = xp + (<usize>(h * inW) << 2);
          for (let w = ws; w < we; w++) s += load<f32>(row + (<usize>w << 2));
        }
        store<f32>(y + o, s / divisor);
        o += 4;
      }
    }
  }
}

/** dx[h, w] = Σ dy over the windows covering (h, w), divided by the kernel area. */
export function avgPool2dBackward(
  dy: usize, dx: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
): void {
  const outPlane = <usize>(outH * outW) << 2;
  const divisor = <f32>(kernelH * kernelW);
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const dyp = dy + <usize>p * outPlane;
    for (let h = 0; h < inH; h++) {
      // Windows oh with oh·s ≤ h + pad < oh·s + k.
      const hp = h + padH;
      const ohLo = hp < kernelH ? 0 : (hp - kernelH) / strideH + 1;
      const ohHi = min(hp / strideH, outH - 1);
      for (let w = 0; w < inW; w++) {
        const wp = w + padW;
        const owLo = wp < kernelW ? 0 : (wp - kernelW) / strideW + 1;
        const owHi = min(wp / strideW, outW - 1);
        let s: f32 = 0;
        for (let oh = ohLo; oh <= ohHi; oh++) {
          const row = dyp + (<usize>(oh * outW) << 2);
          for (let ow = owLo; ow <= owHi; ow++) s += load<f32>(row + (<usize>ow << 2));
        }
        store<f32>(dx + o, s / divisor);
        o += 4;
      }
    }
  }
}

/** Mean over torch's adaptive bins: [⌊i·in/out⌋, ⌈(i+1)·in/out⌉) in each direction. */
export function adaptiveAvgPool2dForward(
  x: usize, y: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
): void {
  const inPlane = <usize>(inH * inW) << 2;
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const xp = x + <usize>p * inPlane;
    for (let oh = 0; oh < outH; oh++) {
      const hs = (oh * inH) / outH;
      const he = ((oh + 1) * inH + outH - 1) / outH;
      for (let ow = 0; ow < outW; ow++) {
        const ws = (ow * inW) / outW;
        const we = ((ow + 1) * inW + outW - 1) / outW;
        let s: f32 = 0;
        for (let h = hs; h < he; h++) {
          const row = xp + (<usize>(h * inW) << 2);
          for (let w = ws; w < we; w++) s += load<f32>(row + (<usize>w << 2));
        }
        store<f32>(y + o, s / <f32>((he - hs) * (we - ws)));
        o += 4;
      }
    }
  }
}

/** dx[h, w] = Σ dy[oh, ow] / |bin| over the (possibly overlapping) bins holding (h, w). */
export function adaptiveAvgPool2dBackward(
  dy: usize, dx: usize, planes: i32, inH: i32, inW: i32, outH: i32, outW: i32,
): void {
  const outPlane = <usize>(outH * outW) << 2;
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const dyp = dy + <usize>p * outPlane;
    for (let h = 0; h < inH; h++) {
      // Bins oh with start(oh) ≤ h < end(oh), i.e. ⌊h·out/in⌋ ≤ oh < ⌈(h+1)·out/in⌉.
      const ohLo = (h * outH) / inH;
      const ohEnd = ((h + 1) * outH + inH - 1) / inH;
      for (let w = 0; w < inW; w++) {
        const owLo = (w * outW) / inW;
        const owEnd = ((w + 1) * outW + inW - 1) / inW;
        let s: f32 = 0;
        for (let oh = ohLo; oh < ohEnd; oh++) {
          const binH = ((oh + 1) * inH + outH - 1) / outH - (oh * inH) / outH;
          const row = dyp + (<usize>(oh * outW) << 2);
          for (let ow = owLo; ow < owEnd; ow++) {
            const binW = ((ow + 1) * inW + outW - 1) / outW - (ow * inW) / outW;
            s += load<f32>(row + (<usize>ow << 2)) / <f32>(binH * binW);
          }
        }
        store<f32>(dx + o, s);
        o += 4;
      }
    }
  }
}
