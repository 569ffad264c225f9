// The paper's CIFAR models and the layers they need: layouts and parameter counts as spec §6 and
// torch's state_dict have them, batch-norm running statistics as buffers that travel with the model
// but are not trained, dropout that is reproducible from its seed, and the residual block checked
// against a host-side composition of the reference kernels on every backend.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdaptiveAvgPool2d, alexnetCifar, AvgPool2d, type Backend, BasicBlock, BatchNorm2d, Conv2d, createBackend, Dropout, Flatten,
  initParameters, InvalidArgumentError, LayerHarness, Linear, type ModelDef, modelByName, Network, ParamLayout, reference,
  ReLU, resnet18Cifar, Rng,
} from '../../src/index.ts';
import type { Conv2dDims } from '../../src/kernels/conv.ts';
import { expectClose, forEachBackend, randomArray, rng, thrown } from './kernel-harness.ts';

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
/** Index of the first difference of two arrays (−1 if equal); vitest's deep equality is too slow for 11M elements. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}
/** Uniform in [0, 1) from a seed, as initParameters expects. */
const uniform = (seed: number) => {
  const g = new Rng(seed);
  return () => g.uniform();
};

describe('AlexNet for CIFAR', () => {
  const m = alexnetCifar();

  it('has the 23,272,266 parameters of spec §6 under torch state_dict names', () => {
    expect(m.layout.parameterCount).toBe(23_272_266);
    expect(m.layout.size).toBe(23_272_266);
    expect(m.layout.segments.map((s) => `${s.name}:${s.shape.join('x')}`)).toEqual([
      'features.0.weight:64x3x3x3', 'features.0.bias:64',
      'features.3.weight:192x64x3x3', 'features.3.bias:192',
      'features.6.weight:384x192x3x3', 'features.6.bias:384',
      'features.8.weight:256x384x3x3', 'features.8.bias:256',
      'features.10.weight:256x256x3x3', 'features.10.bias:256',
      'classifier.1.weight:4096x1024', 'classifier.1.bias:4096',
      'classifier.4.weight:4096x4096', 'classifier.4.bias:4096',
      'classifier.6.weight:10x4096', 'classifier.6.bias:10',
    ]);
    expect(m.layout.prunable.map((s) => s.name)).toEqual(m.layout.segments.filter((s) => s.name.endsWith('.weight')).map((s) => s.name));
    expect(m.layout.buffers).toEqual([]);
    expect(m.inputShape).toEqual([3, 32, 32]);
  });

  it('is registered as alexnet-cifar', () => {
    expect(modelByName('alexnet-cifar').layout.hash()).toBe(m.layout.hash());
    expect(modelByName('alexnet-cifar', 100).layout.segment('classifier.6.weight').shape).toEqual([100, 4096]);
  });
});

describe('ResNet-18 for CIFAR', () => {
  const m = resnet18Cifar();
  // torch's state_dict of the reference ResNet-18 (num_batches_tracked left out), written out here
  // independently of the model code.
  const bn = (p: string) => [`${p}.weight`, `${p}.bias`, `${p}.running_mean`, `${p}.running_var`];
  const expected: string[] = ['conv1.weight', ...bn('bn1')];
  const channels: number[] = [64];
  [64, 128, 256, 512].forEach((planes, stage) => {
    for (const i of [0, 1]) {
      const p = `layer${stage + 1}.${i}`;
      expected.push(`${p}.conv1.weight`, ...bn(`${p}.bn1`), `${p}.conv2.weight`, ...bn(`${p}.bn2`));
      channels.push(planes, planes);
      if (stage > 0 && i === 0) {
        expected.push(`${p}.shortcut.0.weight`, ...bn(`${p}.shortcut.1`));
        channels.push(planes);
      }
    }
  });
  expected.push('linear.weight', 'linear.bias');

  it('has the 11,220,132 trainable parameters of spec §6 under torch state_dict names', () => {
    expect(m.layout.parameterCount).toBe(11_220_132);
    expect(m.layout.segments.map((s) => s.name)).toEqual(expected);
    expect(m.layout.trainable).toHaveLength(62);
    // 20 batch norms, each with a running mean and variance.
    expect(channels).toHaveLength(20);
    expect(m.layout.buffers).toHaveLength(40);
    expect(m.layout.size).toBe(11_220_132 + 2 * sum(channels));
    expect(m.layout.segment('layer2.0.shortcut.0.weight').shape).toEqual([128, 64, 1, 1]);
    expect(m.layout.segment('layer4.1.conv2.weight').shape).toEqual([512, 512, 3, 3]);
    expect(m.layout.segment('linear.weight').shape).toEqual([100, 512]);
  });

  it('prunes conv and linear weights only, leaving the 1×1 shortcuts dense', () => {
    const prunable = m.layout.prunable.map((s) => s.name);
    expect(prunable).toEqual(expected.filter((n) => /(conv\d|linear)\.weight$/.test(n)));
    expect(prunable.some((n) => n.includes('shortcut'))).toBe(false);
    expect(m.layout.segment('layer3.0.shortcut.0.weight')).toMatchObject({ prunable: false, trainable: true, role: 'weight' });
    expect(m.layout.segment('bn1.running_var')).toMatchObject({ prunable: false, trainable: false, role: 'running-var' });
    expect(m.layout.segment('bn1.weight')).toMatchObject({ prunable: false, trainable: true, role: 'bn-weight' });
  });

  it('is registered as resnet18-cifar and initialises BN like torch', () => {
    expect(modelByName('resnet18-cifar').layout.hash()).toBe(m.layout.hash());
    const p = initParameters(m.layout, uniform(1));
    expect(Array.from(m.layout.view(p, 'layer1.0.bn2.running_var'))).toEqual(new Array(64).fill(1));
    expect(Array.from(m.layout.view(p, 'layer1.0.bn2.running_mean'))).toEqual(new Array(64).fill(0));
    expect(Array.from(m.layout.view(p, 'layer1.0.bn2.weight'))).toEqual(new Array(64).fill(1));
  });
});

describe('parameter layouts with buffers', () => {
  it('refuses a prunable buffer and counts buffers in size but not in parameterCount', () => {
    const e = thrown(() => new ParamLayout([{ name: 'rm', shape: [3], prunable: true, role: 'running-mean' }]));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/'rm' is a buffer/);
    const l = new ParamLayout(new BatchNorm2d('bn', 3).params());
    expect([l.size, l.parameterCount, l.prunableSize]).toEqual([12, 6, 0]);
  });

  it('fingerprints trainability, so a buffer and a parameter of one name and shape differ', () => {
    const a = new ParamLayout([{ name: 't', shape: [2], prunable: false, role: 'bias' }]);
    const b = new ParamLayout([{ name: 't', shape: [2], prunable: false, role: 'running-mean' }]);
    expect(a.hash()).not.toBe(b.hash());
  });
});

describe('the CIFAR models on wasm', () => {
  let b: Backend;
  beforeAll(async () => { b = await createBackend('wasm'); });
  afterAll(() => b.dispose());

  const images = (n: number, seed: number) => randomArray(n * 3 * 32 * 32, rng(seed));

  it('AlexNet: finite logits of shape [2, 10] at batch 2, and one training step at batch 2', async () => {
    const m = alexnetCifar();
    const net = new Network(m, b, { rng: new Rng(3) });
    try {
      net.setParameters(initParameters(m.layout, uniform(1)));
      const x = images(2, 2);
      const logits = await net.predict(x, 2);
      expect(logits).toHaveLength(20);
      expect(logits.every(Number.isFinite)).toBe(true);
      expect(new Set(logits).size).toBeGreaterThan(10);
      net.trainStep(x, Int32Array.of(3, 7), { lr: 0.01 });
      expect(Number.isFinite((await net.lastLoss()).ce)).toBe(true);
    } finally {
      net.dispose();
    }
    expect(b.liveTensors).toBe(0);
  });

  it('ResNet-18: finite logits of shape [2, 100]; a training step moves the running statistics, the optimiser never does', async () => {
    const m = resnet18Cifar();
    const net = new Network(m, b);
    try {
      const p0 = initParameters(m.layout, uniform(4));
      net.setParameters(p0);
      const x = images(2, 5);
      const logits = await net.predict(x, 2);
      expect(logits).toHaveLength(200);
      expect(logits.every(Number.isFinite)).toBe(true);
      // Evaluation reads the running statistics and leaves them alone.
      expect(firstDifference(await net.getParameters(), p0)).toBe(-1);

      net.computeGradients(x, Int32Array.of(11, 99));
      const afterForward = await net.getParameters();
      const grads = await net.getGradients();
      for (const s of m.layout.buffers) {
        const before = m.layout.view(p0, s.name);
        const after = m.layout.view(afterForward, s.name);
        expect(after.some((v, i) => v !== before[i]), `${s.name} did not move`).toBe(true);
        expect(after.every(Number.isFinite)).toBe(true);
        expect(m.layout.view(grads, s.name).every((v) => v === 0)).toBe(true);
      }
      // The running mean after one step from 0 is 0.1 × the batch mean of bn1's input (conv1 of x).
      expect(Math.max(...m.layout.view(afterForward, 'bn1.running_mean').map(Math.abs))).toBeGreaterThan(0);

      net.applyUpdate(0.1, 5e-4);
      const updated = await net.getParameters();
      for (const s of m.layout.segments) {
        const before = m.layout.view(afterForward, s.name);
        const after = m.layout.view(updated, s.name);
        if (s.trainable) expect(after.some((v, i) => v !== before[i]), `${s.name} was not updated`).toBe(true);
        else expect(firstDifference(after, before), `${s.name} was touched by the optimiser`).toBe(-1);
      }
    } finally {
      net.dispose();
    }
    expect(b.liveTensors).toBe(0);
  });
});

/** A small model with every new layer, to run whole training steps on every backend. */
function tinyResNet(classes = 3): ModelDef {
  const layers = [
    new Conv2d('conv1', 2, 4, 3, { padding: 1, bias: false }), new BatchNorm2d('bn1', 4), new ReLU(),
    new BasicBlock('layer1.0', 4, 4), new BasicBlock('layer2.0', 4, 6, 2),
    new AvgPool2d(2, 2, 1), new AdaptiveAvgPool2d([1, 2]), new Flatten(), new Dropout(0.3), new Linear('linear', 12, classes),
  ];
  let shape = [2, 7, 5];
  for (const l of layers) shape = l.outputShape(shape);
  expect(shape).toEqual([classes]);
  return { name: 'tiny-resnet', inputShape: [2, 7, 5], classes, layers, layout: new ParamLayout(layers.flatMap((l) => l.params())) };
}

describe('training and evaluation modes across backends', () => {
  const m = tinyResNet();
  const params = initParameters(m.layout, uniform(8));
  // Random BN affine parameters and statistics, so evaluation differs visibly from training.
  const r = rng(9);
  for (const s of m.layout.segments) {
    const v = m.layout.view(params, s.name);
    if (s.role === 'running-var') v.forEach((_, i) => { v[i] = 0.5 + 0.5 * Math.abs(r()); });
    else if (s.role !== 'weight' && s.role !== 'bias') v.forEach((_, i) => { v[i] = r(); });
  }
  const x = randomArray(3 * 70, rng(10));
  const labels = Int32Array.of(0, 2, 1);

  async function step(b: Backend, seed: number) {
    const net = new Network(m, b, { rng: new Rng(seed) });
    try {
      net.setParameters(params);
      const evalLogits = await net.predict(x, 3);
      net.trainStep(x, labels, { lr: 0.05, weightDecay: 5e-4 });
      const trainLogits = await net.readActivation(m.layers.length - 1);
      return { evalLogits, trainLogits, params: await net.getParameters(), evalAgain: await net.predict(x, 3) };
    } finally {
      net.dispose();
    }
  }

  let expected: Awaited<ReturnType<typeof step>>;
  beforeAll(async () => {
    const ref = await createBackend('reference');
    expected = await step(ref, 1);
    ref.dispose();
  });

  forEachBackend('tiny ResNet', (run) => {
    run('one step (BN, residual blocks, pools, dropout) agrees with the reference backend', async (b) => {
      const got = await step(b, 1);
      expectClose(got.evalLogits, expected.evalLogits, 1e-4, 'eval logit');
      expectClose(got.trainLogits, expected.trainLogits, 1e-4, 'train logit');
      expectClose(got.params, expected.params, 1e-4, 'parameter');
      expectClose(got.evalAgain, expected.evalAgain, 1e-4, 'eval logit after the step');
      // Evaluation is deterministic and differs from the training pass (batch statistics, dropout).
      expect(Array.from(got.evalLogits)).not.toEqual(Array.from(got.trainLogits));
    });

    run('dropout draws from the network seed: same seed, same step; another seed, another step', async (b) => {
      const again = await step(b, 1);
      const other = await step(b, 2);
      expect(Array.from(again.params)).toEqual(Array.from((await step(b, 1)).params));
      expect(Array.from(other.trainLogits)).not.toEqual(Array.from(again.trainLogits));
      // Evaluation does not depend on the seed at all.
      expect(Array.from(other.evalLogits)).toEqual(Array.from(again.evalLogits));
    });
  });
});

describe('layers on their own', () => {
  forEachBackend('Dropout', (run) => {
    run('keeps each element with probability 1 − p, scales by 1/(1 − p), and is the identity in eval', async (b) => {
      const p = 0.3;
      const x = randomArray(2 * 5 * 101, rng(1), 1, 2); // all in [1, 3): a dropped element is exactly 0
      const h = new LayerHarness(new Dropout(p), b, [5, 101], 2, { rng: new Rng(42) });
      try {
        h.forward(x, false);
        expect(Array.from(await h.readOutput())).toEqual(Array.from(x));
        h.backward(x);
        expect(Array.from(await h.readInputGrad())).toEqual(Array.from(x));

        h.forward(x, true);
        const y = await h.readOutput();
        const dy = randomArray(x.length, rng(2));
        h.backward(dy);
        const dx = await h.readInputGrad();
        let kept = 0;
        for (let i = 0; i < x.length; i++) {
          if (y[i] === 0) {
            expect(Math.abs(dx[i]!)).toBe(0);
          } else {
            kept++;
            expect(y[i]).toBeCloseTo(x[i]! / (1 - p), 5);
            expect(dx[i]).toBeCloseTo(dy[i]! / (1 - p), 5);
          }
        }
        // 1010 Bernoulli(0.7) draws: mean 707, sd ≈ 14.6.
        expect(kept).toBeGreaterThan(707 - 60);
        expect(kept).toBeLessThan(707 + 60);

        // The same seed replays the same mask; the next draw is a fresh one.
        h.rng = new Rng(42);
        h.forward(x, true);
        expect(Array.from(await h.readOutput())).toEqual(Array.from(y));
        h.forward(x, true);
        expect(Array.from(await h.readOutput())).not.toEqual(Array.from(y));
      } finally {
        h.dispose();
      }
    });
  });

  forEachBackend('pooling layers', (run) => {
    run('AvgPool2d and AdaptiveAvgPool2d run the pooling kernels with the layer geometry', async (b) => {
      const x = randomArray(2 * 3 * 7 * 9, rng(3));
      const avg = new LayerHarness(new AvgPool2d([3, 2], [2, 2], [1, 1]), b, [3, 7, 9], 2);
      const ada = new LayerHarness(new AdaptiveAvgPool2d([3, 4]), b, [3, 7, 9], 2);
      try {
        expect(avg.outputShape).toEqual([3, 4, 5]);
        avg.forward(x, true);
        const want = new Float32Array(2 * 3 * 20);
        reference.avgPool2dForwardRef(x, want, { planes: 6, inH: 7, inW: 9, outH: 4, outW: 5, kernelH: 3, kernelW: 2, strideH: 2, strideW: 2, padH: 1, padW: 1 });
        expectClose(await avg.readOutput(), want, 1e-6);
        const dy = randomArray(want.length, rng(4));
        avg.backward(dy);
        const dx = new Float32Array(x.length);
        reference.avgPool2dBackwardRef(dy, dx, { planes: 6, inH: 7, inW: 9, outH: 4, outW: 5, kernelH: 3, kernelW: 2, strideH: 2, strideW: 2, padH: 1, padW: 1 });
        expectClose(await avg.readInputGrad(), dx, 1e-6);

        ada.forward(x, false);
        const wantAda = new Float32Array(2 * 3 * 12);
        reference.adaptiveAvgPool2dForwardRef(x, wantAda, { planes: 6, inH: 7, inW: 9, outH: 3, outW: 4 });
        expectClose(await ada.readOutput(), wantAda, 1e-6);
      } finally {
        avg.dispose();
        ada.dispose();
      }
    });
  });
});

// ---- the residual block against the reference kernels composed on the host (float64) ----

interface BlockCase { batch: number; inPlanes: number; planes: number; stride: number; h: number; w: number }

const convDims = (batch: number, c: number, h: number, w: number, o: number, k: number, stride: number, pad: number): Conv2dDims => ({
  batch, inChannels: c, inH: h, inW: w, outChannels: o, kernelH: k, kernelW: k, strideH: stride, strideW: stride, padH: pad, padW: pad,
  outH: Math.floor((h + 2 * pad - k) / stride) + 1, outW: Math.floor((w + 2 * pad - k) / stride) + 1,
});

/** y, dx, every parameter gradient and the new running statistics, by the reference kernels. */
function hostBlock(k: BlockCase, layout: ParamLayout, params: Float32Array, x: Float32Array, dy: Float32Array, training: boolean) {
  const P = (name: string) => Float64Array.from(layout.view(params, name));
  const state = new Map<string, Float64Array>();
  const grads = new Map<string, Float64Array>();
  const c1 = convDims(k.batch, k.inPlanes, k.h, k.w, k.planes, 3, k.stride, 1);
  const c2 = convDims(k.batch, k.planes, c1.outH, c1.outW, k.planes, 3, 1, 1);
  const sc = convDims(k.batch, k.inPlanes, k.h, k.w, k.planes, 1, k.stride, 0);
  const n = k.batch * k.planes * c1.outH * c1.outW;
  const bnDims = { batch: k.batch, channels: k.planes, spatial: c1.outH * c1.outW };
  const conv = (name: string, input: Float64Array, d: Conv2dDims) => {
    const out = new Float64Array(n);
    reference.conv2dForwardRef(input, P(`${name}.weight`), undefined, out, d);
    return out;
  };
  const bn = (name: string, input: Float64Array) => {
    const rm = P(`${name}.running_mean`);
    const rv = P(`${name}.running_var`);
    const out = new Float64Array(n);
    const sm = new Float64Array(k.planes);
    const si = new Float64Array(k.planes);
    reference.batchNorm2dForwardRef(input, P(`${name}.weight`), P(`${name}.bias`), rm, rv, out, sm, si, training, 0.1, 1e-5, bnDims);
    state.set(`${name}.running_mean`, rm);
    state.set(`${name}.running_var`, rv);
    const backward = (d: Float64Array) => {
      const dIn = new Float64Array(n);
      const dg = new Float64Array(k.planes);
      const db = new Float64Array(k.planes);
      reference.batchNorm2dBackwardRef(input, P(`${name}.weight`), d, sm, si, dIn, dg, db, bnDims);
      grads.set(`${name}.weight`, dg);
      grads.set(`${name}.bias`, db);
      return dIn;
    };
    return { out, backward };
  };
  const x64 = Float64Array.from(x);
  const a1 = conv('conv1', x64, c1);
  const n1 = bn('bn1', a1);
  const r1 = new Float64Array(n);
  reference.reluForwardRef(n1.out, r1);
  const a2 = conv('conv2', r1, c2);
  const n2 = bn('bn2', a2);
  let skip = x64;
  let nsc: ReturnType<typeof bn> | undefined;
  let asc: Float64Array | undefined;
  if (k.stride !== 1 || k.inPlanes !== k.planes) {
    asc = conv('shortcut.0', x64, sc);
    nsc = bn('shortcut.1', asc);
    skip = nsc.out;
  }
  const s = new Float64Array(n);
  reference.addRef(n2.out, skip, s);
  const y = new Float64Array(n);
  reference.reluForwardRef(s, y);
  if (!training) return { y, state };

  const ds = new Float64Array(n);
  reference.reluBackwardRef(s, Float64Array.from(dy), ds);
  const dwConv = (name: string, input: Float64Array, d: Conv2dDims, dOut: Float64Array) => {
    const dIn = new Float64Array(input.length);
    const dw = new Float64Array(layout.segment(`${name}.weight`).size);
    reference.conv2dBackwardRef(input, P(`${name}.weight`), dOut, dIn, dw, undefined, d);
    grads.set(`${name}.weight`, dw);
    return dIn;
  };
  const dr1 = dwConv('conv2', r1, c2, n2.backward(ds));
  const dn1 = new Float64Array(n);
  reference.reluBackwardRef(n1.out, dr1, dn1);
  const dx = dwConv('conv1', x64, c1, n1.backward(dn1));
  const dskip = nsc ? dwConv('shortcut.0', x64, sc, nsc.backward(ds)) : ds;
  reference.addRef(dx, dskip, dx);
  return { y, dx, grads, state };
}

describe('BasicBlock', () => {
  it('names its parameters like the torch module and leaves the shortcut convolution dense', () => {
    const names = new BasicBlock('layer2.0', 64, 128, 2).params().map((p) => `${p.name}${p.prunable ? '*' : ''}`);
    expect(names).toEqual([
      'layer2.0.conv1.weight*', 'layer2.0.bn1.weight', 'layer2.0.bn1.bias', 'layer2.0.bn1.running_mean', 'layer2.0.bn1.running_var',
      'layer2.0.conv2.weight*', 'layer2.0.bn2.weight', 'layer2.0.bn2.bias', 'layer2.0.bn2.running_mean', 'layer2.0.bn2.running_var',
      'layer2.0.shortcut.0.weight', 'layer2.0.shortcut.1.weight', 'layer2.0.shortcut.1.bias',
      'layer2.0.shortcut.1.running_mean', 'layer2.0.shortcut.1.running_var',
    ]);
    expect(new BasicBlock('b', 8, 8, 1).shortcut).toBeUndefined();
    expect(new BasicBlock('b', 8, 8, 2).shortcut).toBeDefined();
    expect(new BasicBlock('b', 8, 16, 1).shortcut).toBeDefined();
    expect(new BasicBlock('b', 3, 5, 2).outputShape([3, 7, 5])).toEqual([5, 4, 3]);
  });

  it('rejects a wrong input and bad geometry with typed errors', () => {
    const e = thrown(() => new BasicBlock('layer1.0', 4, 4).outputShape([3, 8, 8]));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/layer1\.0: expects input \[4, H, W\], got \[3, 8, 8\]/);
    expect(thrown(() => new BasicBlock('b', 4, 4, 0)).message).toMatch(/stride must be a positive integer/);
    expect(thrown(() => new Dropout(1.5))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => new BatchNorm2d('bn', 4, { momentum: 2 })).message).toMatch(/momentum/);
  });

  const CASES: BlockCase[] = [
    { batch: 2, inPlanes: 3, planes: 3, stride: 1, h: 5, w: 7 }, // identity shortcut, odd sizes
    { batch: 1, inPlanes: 3, planes: 5, stride: 2, h: 7, w: 5 }, // projection, batch 1, odd spatial
    { batch: 3, inPlanes: 6, planes: 6, stride: 2, h: 6, w: 6 }, // projection forced by the stride alone
  ];

  forEachBackend('BasicBlock', (run) => {
    for (const k of CASES) {
      const title = `${k.inPlanes}→${k.planes}, stride ${k.stride}, batch ${k.batch}, ${k.h}×${k.w}`;
      run(`${title}: training pass, backward and running statistics match the reference kernels`, async (b) => {
        const block = new BasicBlock('', k.inPlanes, k.planes, k.stride);
        const h = new LayerHarness(block, b, [k.inPlanes, k.h, k.w], k.batch);
        try {
          const r = rng(100 + k.planes);
          const params = initParameters(h.layout, uniform(100 + k.planes));
          for (const s of h.layout.segments) {
            const v = h.layout.view(params, s.name);
            if (s.role === 'bn-weight') v.forEach((_, i) => { v[i] = 0.5 + Math.abs(r()); });
            if (s.role === 'bn-bias' || s.role === 'running-mean') v.forEach((_, i) => { v[i] = 0.3 * r(); });
            if (s.role === 'running-var') v.forEach((_, i) => { v[i] = 0.5 + Math.abs(r()); });
          }
          const x = randomArray(k.batch * k.inPlanes * k.h * k.w, r);
          const dy = randomArray(k.batch * h.outputShape.reduce((a, c) => a * c, 1), r);
          h.setParameters(params);

          h.forward(x, false);
          const evalWant = hostBlock(k, h.layout, params, x, dy, false);
          expectClose(await h.readOutput(), evalWant.y, 1e-4, 'eval y');
          expect(await h.getParameters()).toEqual(params);

          h.forward(x, true);
          h.backward(dy);
          const want = hostBlock(k, h.layout, params, x, dy, true);
          expectClose(await h.readOutput(), want.y, 1e-4, 'y');
          expectClose(await h.readInputGrad(), want.dx!, 2e-4, 'dx');
          const grads = await h.getGradients();
          const now = await h.getParameters();
          for (const s of h.layout.segments) {
            if (s.trainable) expectClose(h.layout.view(grads, s.name), want.grads!.get(s.name)!, 2e-4, `grad ${s.name}`);
            else expectClose(h.layout.view(now, s.name), want.state.get(s.name)!, 1e-5, s.name);
          }
        } finally {
          h.dispose();
        }
      });
    }

    run('without an input gradient it still produces every parameter gradient', async (b) => {
      const k = CASES[1]!;
      const full = new LayerHarness(new BasicBlock('', k.inPlanes, k.planes, k.stride), b, [k.inPlanes, k.h, k.w], k.batch);
      const lean = new LayerHarness(new BasicBlock('', k.inPlanes, k.planes, k.stride), b, [k.inPlanes, k.h, k.w], k.batch, { needInputGrad: false });
      try {
        const params = initParameters(full.layout, uniform(5));
        const x = randomArray(k.batch * k.inPlanes * k.h * k.w, rng(6));
        const dy = randomArray(k.batch * full.outputShape.reduce((a, c) => a * c, 1), rng(7));
        for (const h of [full, lean]) {
          h.setParameters(params);
          h.forward(x, true);
          h.backward(dy);
        }
        expect(Array.from(await lean.getGradients())).toEqual(Array.from(await full.getGradients()));
        await expect(lean.readInputGrad()).rejects.toThrow(/needInputGrad: false/);
      } finally {
        full.dispose();
        lean.dispose();
      }
    });

    run('backward refuses to follow an evaluation pass, and the harness a missing forward', async (b) => {
      const h = new LayerHarness(new BasicBlock('', 2, 2), b, [2, 3, 3], 2);
      try {
        const dy = new Float32Array(36);
        expect(thrown(() => h.backward(dy)).message).toMatch(/needs a forward pass first/);
        h.forward(new Float32Array(36).map((_, i) => Math.sin(i)), false);
        const e = thrown(() => h.backward(dy));
        expect(e).toBeInstanceOf(InvalidArgumentError);
        expect(e.message).toMatch(/bn2: backward needs a training-mode forward pass/);
      } finally {
        h.dispose();
      }
    });
  });
});
