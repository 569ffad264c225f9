// Batch normalisation over the channels of an NCHW tensor. Channel c's elements are `batch` runs
// of `spatial` contiguous floats, one per sample, `channels·spatial` floats apart. Statistics are
// accumulated in f64 (two lanes per f32x4 half) and the mean is subtracted before squaring, so the
// variance of a channel with a large mean keeps its digits; the element-wise passes run in f32x4.

/** Σ p[0..n) in f64. */
function sum(p: usize, n: i32): f64 {
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p + (<usize>i << 2));
    a0 = f64x2.add(a0, f64x2.promote_low_f32x4(v));
    a1 = f64x2.add(a1, f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 0, 1)));
  }
  const a = f64x2.add(a0, a1);
  let s = f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
  for (; i < n; i++) s += <f64>load<f32>(p + (<usize>i << 2));
  return s;
}

/** Σ (p[i] − mean)² in f64. */
function sumSquaredDeviation(p: usize, n: i32, mean: f64): f64 {
  const m = f64x2.splat(mean);
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p + (<usize>i << 2));
    const d0 = f64x2.sub(f64x2.promote_low_f32x4(v), m);
    const d1 = f64x2.sub(f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 0, 1)), m);
    a0 = f64x2.add(a0, f64x2.mul(d0, d0));
    a1 = f64x2.add(a1, f64x2.mul(d1, d1));
  }
  const a = f64x2.add(a0, a1);
  let s = f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
  for (; i < n; i++) {
    const d = <f64>load<f32>(p + (<usize>i << 2)) - mean;
    s += d * d;
  }
  return s;
}

/** out = (x − mean)·scale + shift. */
function normalise(x: usize, out: usize, n: i32, mean: f32, scale: f32, shift: f32): void {
  const vm = f32x4.splat(mean);
  const vs = f32x4.splat(scale);
  const vb = f32x4.splat(shift);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(out + off, f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + off), vm), vs), vb));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, (load<f32>(x + off) - mean) * scale + shift);
  }
}

/**
 * Training (training ≠ 0): normalise with the batch mean and biased variance, and blend the batch
 * mean and unbiased variance into the running statistics. Evaluation: normalise with the running
 * statistics. saveMean / saveInvStd (0 = absent) receive the statistics used.
 */
export function batchNorm2dForward(
  x: usize, gamma: usize, beta: usize, runningMean: usize, runningVar: usize, y: usize,
  saveMean: usize, saveInvStd: usize, batch: i32, channels: i32, spatial: i32,
  training: i32, momentum: f64, eps: f64,
): void {
  batchNorm2dForwardChannels(x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd,
    batch, channels, spatial, training, momentum, eps, 0, channels);
}

/** batchNorm2dForward for channels c0 … c1−1 only: channels are independent, so threads split them. */
export function batchNorm2dForwardChannels(
  x: usize, gamma: usize, beta: usize, runningMean: usize, runningVar: usize, y: usize,
  saveMean: usize, saveInvStd: usize, batch: i32, channels: i32, spatial: i32,
  training: i32, momentum: f64, eps: f64, c0: i32, c1: i32,
): void {
  const count = <f64>batch * <f64>spatial;
  const sampleStride = (<usize>channels * <usize>spatial) << 2;
  for (let c = c0; c < c1; c++) {
    const first = (<usize>c * <usize>spatial) << 2;
    const cb = <usize>c << 2;
    let mean: f64;
    let variance: f64;
    if (training != 0) {
      let s: f64 = 0;
      for (let n = 0; n < batch; n++) s += sum(x + first + <usize>n * sampleStride, spatial);
      mean = s / count;
      let q: f64 = 0;
      for (let n = 0; n < batch; n++) q += sumSquaredDeviation(x + first + <usize>n * sampleStride, spatial, mean);
      variance = q / count;
      const rm = <f64>load<f32>(runningMean + cb);
      const rv = <f64>load<f32>(runningVar + cb);
      store<f32>(runningMean + cb, <f32>((1 - momentum) * rm + momentum * mean));
      store<f32>(runningVar + cb, <f32>((1 - momentum) * rv + momentum * (q / (count - 1))));
    } else {
      mean = <f64>load<f32>(runningMean + cb);
      variance = <f64>load<f32>(runningVar + cb);
    }
    const invStd = 1 / Math.sqrt(variance + eps);
    if (saveMean != 0) store<f32>(saveMean + cb, <f32>mean);
    if (saveInvStd != 0) store<f32>(saveInvStd + cb, <f32>invStd);
    const scale = <f32>(<f64>load<f32>(gamma + cb) * invStd);
    const shift = load<f32>(beta + cb);
    for (let n = 0; n < batch; n++) {
      const off = first + <usize>n * sampleStride;
      normalise(x + off, y + off, spatial, <f32>mean, scale, shift);
    }
  }
}

/**
 * Training-mode gradient: dβ = Σ dy, dγ = Σ dy·x̂ and
 * dx = γ·σ⁻¹·(dy − dβ/M − x̂·dγ/M) with x̂ = (x − μ)·σ⁻¹ and M = batch·spatial.
 */
export function batchNorm2dBackward(
  x: usize, gamma: usize, dy: usize, saveMean: usize, saveInvStd: usize,
  dx: usize, dgamma: usize, dbeta: usize, batch: i32, channels: i32, spatial: i32,
): void {
  batchNorm2dBackwardChannels(x, gamma, dy, saveMean, saveInvStd, dx, dgamma, dbeta, batch, channels, spatial, 0, channels);
}

/** batchNorm2dBackward for channels c0 … c1−1 only. */
export function batchNorm2dBackwardChannels(
  x: usize, gamma: usize, dy: usize, saveMean: usize, saveInvStd: usize,
  dx: usize, dgamma: usize, dbeta: usize, batch: i32, channels: i32, spatial: i32, c0: i32, c1: i32,
): void {
  const count = <f64>batch * <f64>spatial;
  const sampleStride = (<usize>channels * <usize>spatial) << 2;
  for (let c = c0; c < c1; c++) {
    const first = (<usize>c * <usize>spatial) << 2;
    const cb = <usize>c << 2;
    const mean = load<f32>(saveMean + cb);
    const invStd = load<f32>(saveInvStd + cb);
    const vm = f64x2.splat(<f64>mean);
    let g0 = f64x2.splat(0);
    let g1 = f64x2.splat(0);
    let d0 = f64x2.splat(0);
    let d1 = f64x2.splat(0);
    let sumDy: f64 = 0;
    let sumDyDev: f64 = 0;
    for (let n = 0; n < batch; n++) {
      const xp = x + first + <usize>n * sampleStride;
      const gp = dy + first + <usize>n * sampleStride;
      let i = 0;
      for (; i + 4 <= spatial; i += 4) {
        const off = <usize>i << 2;
        const xv = v128.load(xp + off);
        const gv = v128.load(gp + off);
        const glo = f64x2.promote_low_f32x4(gv);
        const ghi = f64x2.promote_low_f32x4(f32x4.shuffle(gv, gv, 2, 3, 0, 1));
        g0 = f64x2.add(g0, glo);
        g1 = f64x2.add(g1, ghi);
        d0 = f64x2.add(d0, f64x2.mul(glo, f64x2.sub(f64x2.promote_low_f32x4(xv), vm)));
        d1 = f64x2.add(d1, f64x2.mul(ghi, f64x2.sub(f64x2.promote_low_f32x4(f32x4.shuffle(xv, xv, 2, 3, 0, 1)), vm)));
      }
      for (; i < spatial; i++) {
        const off = <usize>i << 2;
        const g = <f64>load<f32>(gp + off);
        sumDy += g;
        sumDyDev += g * (<f64>load<f32>(xp + off) - <f64>mean);
      }
    }
    const g = f64x2.add(g0, g1);
    const d = f64x2.add(d0, d1);
    sumDy += f64x2.extract_lane(g, 0) + f64x2.extract_lane(g, 1);
    sumDyDev += f64x2.extract_lane(d, 0) + f64x2.extract_lane(d, 1);
    const sumDyXhat = sumDyDev * <f64>invStd;
    store<f32>(dbeta + cb, <f32>sumDy);
    store<f32>(dgamma + cb, <f32>sumDyXhat);
    // dx = k·dy − (x − μ)·k·σ⁻¹·dγ/M − k·dβ/M, with k = γ·σ⁻¹: one multiply-add chain per element.
    const k = <f64>load<f32>(gamma + cb) * <f64>invStd;
    const a = <f32>k;
    const b = <f32>(-k * <f64>invStd * sumDyXhat / count);
    const shift = <f32>(-k * sumDy / count);
    const va = f32x4.splat(a);
    const vb = f32x4.splat(b);
    const vs = f32x4.splat(shift);
    const vmean = f32x4.splat(mean);
    for (let n = 0; n < batch; n++) {
      const off0 = first + <usize>n * sampleStride;
      let i = 0;
      for (; i + 4 <= spatial; i += 4) {
        const off = off0 + (<usize>i << 2);
        const dev = f32x4.sub(v128.load(x + off), vmean);
        v128.store(dx + off, f32x4.add(f32x4.add(f32x4.mul(v128.load(dy + off), va), f32x4.mul(dev, vb)), vs));
      }
      for (; i < spatial; i++) {
        const off = off0 + (<usize>i << 2);
        store<f32>(dx + off, load<f32>(dy + off) * a + (load<f32>(x + off) - mean) * b + shift);
      }
    }
  }
}
