// Finite-difference gradient checks of every reference backward pass, in float64. Each layer's
// forward reference defines a scalar loss L = ⟨r, f(inputs)⟩ for a fixed random projection r; the
// backward reference, fed dy = r, must return ∂L/∂input for every input, which is compared with the
// central difference (L(v + h) − L(v − h)) / 2h at every coordinate. In float64 with h = 1e-5 the
// difference is accurate to ~1e-10 for smooth layers and exact for piecewise-linear ones away from
// their kinks (the random points keep clear of them), so a 1e-6 relative tolerance catches any
// wrong index, missing term or mis-scaled sum while never failing on rounding.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/rng.ts';
import { conv2dBackwardRef, conv2dForwardRef, type Conv2dDims } from '../../src/kernels/conv.ts';
import { linearBackwardRef, linearForwardRef } from '../../src/kernels/linear.ts';
import { reluBackwardRef, reluForwardRef } from '../../src/kernels/activation.ts';
import {
  adaptiveAvgPool2dBackwardRef, adaptiveAvgPool2dForwardRef, avgPool2dBackwardRef, avgPool2dForwardRef,
  maxPool2dBackwardRef, maxPool2dForwardRef, type PlaneDims, type Pool2dDims,
} from '../../src/kernels/pool.ts';
import { batchNorm2dBackwardRef, batchNorm2dForwardRef } from '../../src/kernels/batchnorm.ts';
import { addRef, dropoutRef, dropoutScale } from '../../src/kernels/elementwise.ts';
import { softmaxCrossEntropyRef } from '../../src/kernels/loss.ts';
import { addScaledByInvNormRef, sumSquaresRef } from '../../src/kernels/vector.ts';
import { applyMaskRef } from '../../src/kernels/mask.ts';

const H = 1e-5;
const RTOL = 1e-6;
/** Absolute floor for coordinates whose true gradient is (near) zero; FD noise there is ~1e-11. */
const ATOL = 1e-9;

const rng = new Rng('gradcheck');
const vec = (n: number, lo = -1, hi = 1) => Float64Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());

/**
 * Central differences of `loss` with respect to every coordinate of `v` (perturbed in place and
 * restored), compared with `analytic`. Returns the worst relative error for the report.
 */
function check(what: string, v: Float64Array, analytic: ArrayLike<number>, loss: () => number): number {
  expect(analytic.length, `${what}: gradient length`).toBe(v.length);
  let worst = 0;
  for (let i = 0; i < v.length; i++) {
    const keep = v[i]!;
    v[i] = keep + H;
    const up = loss();
    v[i] = keep - H;
    const down = loss();
    v[i] = keep;
    const numeric = (up - down) / (2 * H);
    const a = analytic[i]!;
    const err = Math.abs(a - numeric);
    const bound = RTOL * Math.max(Math.abs(a), Math.abs(numeric)) + ATOL;
    if (!(err <= bound)) throw new Error(`${what}[${i}]: analytic ${a}, finite difference ${numeric} (error ${err.toExponential(2)})`);
    worst = Math.max(worst, err / (Math.max(Math.abs(a), Math.abs(numeric)) + ATOL));
  }
  return worst;
}

/** ⟨r, y⟩: the random projection that turns a layer's output into a scalar loss. */
const project = (r: Float64Array, y: Float64Array) => {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += r[i]! * y[i]!;
  return s;
};

function convDims(n: number, c: number, h: number, w: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): Conv2dDims {
  return {
    batch: n, inChannels: c, inH: h, inW: w, outChannels: o, kernelH: kh, kernelW: kw, strideH: sh, strideW: sw, padH: ph, padW: pw,
    outH: Math.floor((h + 2 * ph - kh) / sh) + 1, outW: Math.floor((w + 2 * pw - kw) / sw) + 1,
  };
}

function poolDims(planes: number, inH: number, inW: number, k: [number, number], s: [number, number], p: [number, number]): Pool2dDims {
  return {
    planes, inH, inW, kernelH: k[0], kernelW: k[1], strideH: s[0], strideW: s[1], padH: p[0], padW: p[1],
    outH: Math.floor((inH + 2 * p[0] - k[0]) / s[0]) + 1, outW: Math.floor((inW + 2 * p[1] - k[1]) / s[1]) + 1,
  };
}

describe('finite-difference gradient checks (float64 references)', () => {
  const convCases: Array<[string, Conv2dDims]> = [
    ['3×3, stride 1, padding 1', convDims(2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1)],
    ['3×2, strides 2×1, padding 1×0', convDims(2, 2, 7, 6, 3, 3, 2, 2, 1, 1, 0)],
    ['5×5 LeNet-style, padding 2', convDims(1, 1, 6, 6, 2, 5, 5, 1, 1, 2, 2)],
    ['1×1, stride 2, padding 1', convDims(2, 3, 5, 5, 2, 1, 1, 2, 2, 1, 1)],
    ['2×2, stride 3 (skipped pixels)', convDims(1, 2, 8, 7, 3, 2, 2, 3, 3, 0, 0)],
  ];
  for (const [label, d] of convCases) {
    it(`conv2d ${label}: dx, dw, db`, () => {
      const x = vec(d.batch * d.inChannels * d.inH * d.inW);
      const w = vec(d.outChannels * d.inChannels * d.kernelH * d.kernelW);
      const b = vec(d.outChannels);
      const y = new Float64Array(d.batch * d.outChannels * d.outH * d.outW);
      const r = vec(y.length);
      const loss = () => { conv2dForwardRef(x, w, b, y, d); return project(r, y); };
      const dx = new Float64Array(x.length), dw = new Float64Array(w.length), db = new Float64Array(b.length);
      conv2dBackwardRef(x, w, r, dx, dw, db, d);
      check('dx', x, dx, loss);
      check('dw', w, dw, loss);
      check('db', b, db, loss);
    });
  }

  it('linear: dx, dw, db', () => {
    const d = { batch: 3, inFeatures: 7, outFeatures: 5 };
    const x = vec(21), w = vec(35), b = vec(5);
    const y = new Float64Array(15);
    const r = vec(15);
    const loss = () => { linearForwardRef(x, w, b, y, d); return project(r, y); };
    const dx = new Float64Array(21), dw = new Float64Array(35), db = new Float64Array(5);
    linearBackwardRef(x, w, r, dx, dw, db, d);
    check('dx', x, dx, loss);
    check('dw', w, dw, loss);
    check('db', b, db, loss);
  });

  it('ReLU (points kept away from the kink at 0)', () => {
    const x = vec(40).map((v) => (Math.abs(v) < 0.01 ? v + 0.05 : v));
    const y = new Float64Array(40);
    const r = vec(40);
    const dx = new Float64Array(40);
    reluBackwardRef(x, r, dx);
    expect(dx.some((g) => g === 0) && dx.some((g) => g !== 0)).toBe(true); // both sides of the kink are exercised
    check('dx', x, dx, () => { reluForwardRef(x, y); return project(r, y); });
  });

  const poolCases: Array<[string, Pool2dDims]> = [
    ['2×2 stride 2', poolDims(3, 6, 6, [2, 2], [2, 2], [0, 0])],
    ['3×3 stride 2 padding 1 (overlapping windows)', poolDims(2, 7, 6, [3, 3], [2, 2], [1, 1])],
    ['3×2 stride 1×2 padding 1×0', poolDims(2, 5, 6, [3, 2], [1, 2], [1, 0])],
  ];
  for (const [label, d] of poolCases) {
    it(`max-pool ${label}`, () => {
      // Distinct values spaced well over 2h apart: no window's maximum changes under the perturbation.
      const n = d.planes * d.inH * d.inW;
      const x = Float64Array.from(shuffled(n), (k) => k * 0.01 - 0.3);
      const outN = d.planes * d.outH * d.outW;
      const y = new Float64Array(outN), idx = new Int32Array(outN);
      const r = vec(outN);
      maxPool2dForwardRef(x, y, idx, d);
      const dx = new Float64Array(n);
      maxPool2dBackwardRef(r, idx, dx, d);
      check('dx', x, dx, () => { maxPool2dForwardRef(x, y, idx, d); return project(r, y); });
    });

    it(`avg-pool ${label}`, () => {
      const x = vec(d.planes * d.inH * d.inW);
      const y = new Float64Array(d.planes * d.outH * d.outW);
      const r = vec(y.length);
      const dx = new Float64Array(x.length);
      avgPool2dBackwardRef(r, dx, d);
      check('dx', x, dx, () => { avgPool2dForwardRef(x, y, d); return project(r, y); });
    });
  }

  it('adaptive avg-pool 7×5 → 3×2 (overlapping bins)', () => {
    const d: PlaneDims = { planes: 2, inH: 7, inW: 5, outH: 3, outW: 2 };
    const x = vec(2 * 35);
    const y = new Float64Array(2 * 6);
    const r = vec(12);
    const dx = new Float64Array(x.length);
    adaptiveAvgPool2dBackwardRef(r, dx, d);
    check('dx', x, dx, () => { adaptiveAvgPool2dForwardRef(x, y, d); return project(r, y); });
  });

  it('batch-norm in training mode: dx (through the batch statistics), dgamma, dbeta', () => {
    const d = { batch: 3, channels: 2, spatial: 5 };
    const n = 30;
    const x = vec(n, -2, 3), gamma = vec(2, 0.5, 1.5), beta = vec(2);
    const y = new Float64Array(n);
    const r = vec(n);
    const loss = () => {
      // Fresh running statistics every call: the forward pass updates them in place.
      batchNorm2dForwardRef(x, gamma, beta, new Float64Array(2), new Float64Array(2).fill(1), y, undefined, undefined, true, 0.1, 1e-5, d);
      return project(r, y);
    };
    const mean = new Float64Array(2), invStd = new Float64Array(2);
    batchNorm2dForwardRef(x, gamma, beta, new Float64Array(2), new Float64Array(2).fill(1), y, mean, invStd, true, 0.1, 1e-5, d);
    const dx = new Float64Array(n), dgamma = new Float64Array(2), dbeta = new Float64Array(2);
    batchNorm2dBackwardRef(x, gamma, r, mean, invStd, dx, dgamma, dbeta, d);
    check('dx', x, dx, loss);
    check('dgamma', gamma, dgamma, loss);
    check('dbeta', beta, dbeta, loss);
  });

  it('dropout with a given keep-mask (p = 0.3)', () => {
    const x = vec(50);
    const mask = Float64Array.from({ length: 50 }, () => (rng.uniform() < 0.7 ? 1 : 0));
    const scale = dropoutScale(0.3);
    const y = new Float64Array(50);
    const r = vec(50);
    const dx = new Float64Array(50);
    dropoutRef(r, mask, dx, scale);
    check('dx', x, dx, () => { dropoutRef(x, mask, y, scale); return project(r, y); });
  });

  it('flatten (a copy between shapes: the gradient is dy reshaped)', () => {
    // Network's Flatten runs copy() both ways; its reference is the identity on the flat data.
    const x = vec(2 * 3 * 4);
    const r = vec(24);
    check('dx', x, Float64Array.from(r), () => project(r, Float64Array.from(x)));
  });

  it('residual add: both inputs receive dy', () => {
    const a = vec(30), b = vec(30);
    const y = new Float64Array(30);
    const r = vec(30);
    const loss = () => { addRef(a, b, y); return project(r, y); };
    check('da', a, r, loss);
    check('db', b, r, loss);
  });

  it('softmax cross-entropy: dlogits of the batch-mean loss', () => {
    const d = { batch: 4, classes: 6 };
    const logits = vec(24, -3, 3);
    const labels = Int32Array.from([0, 5, 2, 2]);
    const lossOut = new Float64Array(1);
    const dlogits = new Float64Array(24);
    softmaxCrossEntropyRef(logits, labels, lossOut, dlogits, d);
    check('dlogits', logits, dlogits, () => { softmaxCrossEntropyRef(logits, labels, lossOut, undefined, d); return lossOut[0]!; });
  });

  it('FedDIP penalty λ·Σ_l‖M_l⊙W_l‖₂: the gradient w.r.t. the dense W of every layer', () => {
    const lambda = 5e-3;
    const layers = [13, 8, 21].map((size) => ({
      w: vec(size),
      mask: Float64Array.from({ length: size }, () => (rng.uniform() < 0.6 ? 1 : 0)),
    }));
    const penalty = () => {
      let s = 0;
      for (const l of layers) {
        const eff = new Float64Array(l.w.length);
        applyMaskRef(l.w, l.mask, eff);
        s += lambda * Math.sqrt(sumSquaresRef(eff));
      }
      return s;
    };
    for (const [i, l] of layers.entries()) {
      // What Network does: the gradient at the pruned point M⊙W, then (chain rule) masked onto W.
      const eff = new Float64Array(l.w.length);
      applyMaskRef(l.w, l.mask, eff);
      const gEff = new Float64Array(l.w.length);
      addScaledByInvNormRef(eff, sumSquaresRef(eff), gEff, lambda);
      const gW = new Float64Array(l.w.length);
      applyMaskRef(gEff, l.mask, gW);
      check(`layer ${i} dW`, l.w, gW, penalty);
    }
  });

  it('the checker rejects a wrong gradient (conv dx computed with the wrong padding)', () => {
    // Guards against a check that cannot fail: a plausible bug must be caught.
    const d = convDims(1, 2, 5, 5, 2, 3, 3, 1, 1, 1, 1);
    const wrong = { ...d, padH: 0, padW: 0, outH: 3, outW: 3 };
    const x = vec(50), w = vec(36), y = new Float64Array(50);
    const r = vec(50);
    const dx = new Float64Array(50);
    // Backward with the unpadded geometry reads dy as 3×3 planes: a shifted, partial gradient.
    conv2dBackwardRef(x, w, r, dx, undefined, undefined, wrong);
    expect(() => check('dx', x, dx, () => { conv2dForwardRef(x, w, undefined, y, d); return project(r, y); })).toThrow(/finite difference/);
    // And a gradient off by a relative 1e-4 is also rejected.
    const good = new Float64Array(50);
    conv2dBackwardRef(x, w, r, good, undefined, undefined, d);
    const nudged = good.map((g, i) => (i === 17 ? g * (1 + 1e-4) : g));
    expect(() => check('dx', x, nudged, () => { conv2dForwardRef(x, w, undefined, y, d); return project(r, y); })).toThrow(/dx\[17\]/);
  });
});

/** 0 … n−1 in a random order. */
function shuffled(n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
