// How each fixture op is run on a backend: upload the case's inputs, call the kernels, read back
// every output the case lists. An op missing here is reported as "not implemented".
import type { Backend, Tensor } from '../../src/index.ts';
import type { ExpectedArray } from './compare.ts';
import type { FixtureArray, FixtureCase } from './manifest.ts';
import type { FeddipModule } from './suite.ts';

type Outputs = Record<string, ArrayLike<number>>;
/** `lib` is the package under test, for ops that run on the host rather than on a backend. */
export type OpRunner = (b: Backend, c: FixtureCase, inputs: Record<string, FixtureArray>, lib: FeddipModule) => Promise<Outputs>;
/**
 * Golden values a case gives in its attrs, or that follow from its golden tensors, rather than as
 * tensor files; judged like outputs, with the case's tolerances. `golden` holds inputs and outputs.
 */
export type Expectation = (c: FixtureCase, golden: Record<string, FixtureArray>) => Record<string, ExpectedArray>;

const shapeOf = (c: FixtureCase, name: string): number[] => c.tensors[name]!.shape;

/** Uploads named inputs, runs `body`, and releases everything it allocated, even on failure. */
async function withTensors<T>(b: Backend, body: (make: (dtype: 'f32' | 'i32', shape: number[], data?: ArrayLike<number>) => Tensor) => Promise<T>): Promise<T> {
  const made: Tensor[] = [];
  try {
    return await body((dtype, shape, data) => {
      const t = b.tensor(dtype, shape, data);
      made.push(t);
      return t;
    });
  } finally {
    for (const t of made) b.release(t);
  }
}

const linear: OpRunner = (b, c, inp) => withTensors(b, async (make) => {
  const x = make('f32', shapeOf(c, 'x'), inp.x);
  const w = make('f32', shapeOf(c, 'W'), inp.W);
  const bias = inp.b ? make('f32', shapeOf(c, 'b'), inp.b) : undefined;
  const dy = make('f32', shapeOf(c, 'dy'), inp.dy);
  const y = make('f32', shapeOf(c, 'y'));
  const dx = make('f32', shapeOf(c, 'dx'));
  const dw = make('f32', shapeOf(c, 'dW'));
  const db = c.outputs.includes('db') ? make('f32', shapeOf(c, 'db')) : undefined;
  b.linearForward({ x, w, b: bias, y });
  b.linearBackward({ x, w, dy, dx, dw, db });
  const out: Outputs = { y: await b.read(y), dx: await b.read(dx), dW: await b.read(dw) };
  if (db) out.db = await b.read(db);
  return out;
});

const relu: OpRunner = (b, c, inp) => withTensors(b, async (make) => {
  const x = make('f32', shapeOf(c, 'x'), inp.x);
  const dy = make('f32', shapeOf(c, 'dy'), inp.dy);
  const y = make('f32', shapeOf(c, 'y'));
  const dx = make('f32', shapeOf(c, 'dx'));
  b.reluForward({ x, y });
  b.reluBackward({ x, dy, dx });
  return { y: await b.read(y), dx: await b.read(dx) };
});

const crossEntropy: OpRunner = (b, c, inp) => withTensors(b, async (make) => {
  const logits = make('f32', shapeOf(c, 'logits'), inp.logits);
  const labels = make('i32', shapeOf(c, 'labels'), inp.labels);
  const loss = make('f32', [1]);
  const dlogits = make('f32', shapeOf(c, 'dlogits'));
  b.softmaxCrossEntropy({ logits, labels, loss, dlogits });
  return { loss: await b.read(loss), dlogits: await b.read(dlogits) };
});

const sgdStep: OpRunner = (b, c, inp) => withTensors(b, async (make) => {
  const attrs = c.attrs as { lr: number; weight_decay: number; param_names: string[] };
  const out: Outputs = {};
  for (const name of attrs.param_names) {
    const param = make('f32', shapeOf(c, name), inp[name]);
    const grad = make('f32', shapeOf(c, `grad.${name}`), inp[`grad.${name}`]);
    b.sgdStep({ param, grad, lr: attrs.lr, weightDecay: attrs.weight_decay });
    out[`new.${name}`] = await b.read(param);
  }
  return out;
});

const fedavg: OpRunner = (b, c, inp) => withTensors(b, async (make) => {
  const counts = (c.attrs as { counts: number[] }).counts;
  const total = counts.reduce((s, n) => s + n, 0);
  const mean = make('f32', shapeOf(c, 'mean'));
  b.fill({ y: mean, value: 0 });
  counts.forEach((n, k) => {
    const client = make('f32', shapeOf(c, `client.${k}`), inp[`client.${k}`]);
    b.axpy({ alpha: n / total, x: client, y: mean });
  });
  return { mean: await b.read(mean) };
});

const conv2d: OpRunner = (b, c, inp) => withTensors(b, async (make) => {
  const attrs = c.attrs as { stride: [number, number]; padding: [number, number]; dilation: [number, number]; groups: number };
  if (attrs.dilation.some((v) => v !== 1) || attrs.groups !== 1) {
    throw new Error(`conv2d supports dilation 1 and groups 1 only, the case has dilation ${JSON.stringify(attrs.dilation)}, groups ${attrs.groups}`);
  }
  const geometry = { stride: attrs.stride, padding: attrs.padding };
  const x = make('f32', shapeOf(c, 'x'), inp.x);
  const w = make('f32', shapeOf(c, 'W'), inp.W);
  const bias = inp.b ? make('f32', shapeOf(c, 'b'), inp.b) : undefined;
  const dy = make('f32', shapeOf(c, 'dy'), inp.dy);
  const y = make('f32', shapeOf(c, 'y'));
  const dx = make('f32', shapeOf(c, 'dx'));
  const dw = make('f32', shapeOf(c, 'dW'));
  const db = c.outputs.includes('db') ? make('f32', shapeOf(c, 'db')) : undefined;
  b.conv2dForward({ x, w, b: bias, y, ...geometry });
  b.conv2dBackward({ x, w, dy, dx, dw, db, ...geometry });
  const out: Outputs = { y: await b.read(y), dx: await b.read(dx), dW: await b.read(dw) };
  if (db) out.db = await b.read(db);
  return out;
});

type Pair = [number, number];
const poolWindow = (c: FixtureCase) => {
  const a = c.attrs as { kernel_size: Pair; stride: Pair; padding: Pair; ceil_mode: boolean };
  if (a.ceil_mode) throw new Error(`case ${c.name}: ceil_mode is not supported`);
  return { kernel: a.kernel_size, stride: a.stride, padding: a.padding };
};

const maxPool2d: OpRunner = (b, c, inp) => withTensors(b, async (make) => {
  const x = make('f32', shapeOf(c, 'x'), inp.x);
  const dy = make('f32', shapeOf(c, 'dy'), inp.dy);
  const y = make('f32', shapeOf(c, 'y'));
  const indices = make('i32', shapeOf(c, 'y'));
  const dx = make('f32', shapeOf(c, 'dx'));
  b.maxPool2dForward({ x, y, indices, ...poolWindow(c) });
  b.maxPool2dBackward({ dy, indices, dx });
  return { y: await b.read(y), dx: await b.read(dx) };
});

const avgPool2d: OpRunner = (b, c, inp) => withTensors(b, async (make) => {
  const x = make('f32', shapeOf(c, 'x'), inp.x);
  const dy = make('f32', shapeOf(c, 'dy'), inp.dy);
  const y = make('f32', shapeOf(c, 'y'));
  const dx = make('f32', shapeOf(c, 'dx'));
  b.avgPool2dForward({ x, y, ...poolWindow(c) });
  b.avgPool2dBackward({ dy, dx, ...poolWindow(c) });
  return { y: await b.read(y), dx: await b.read(dx) };
});

const adaptiveAvgPool2d: OpRunner = (b, c, inp) => withTensors(b, async (make) => {
  const outSize = (c.attrs as { output_size: Pair }).output_size;
  const yShape = shapeOf(c, 'y');
  if (yShape[2] !== outSize[0] || yShape[3] !== outSize[1]) throw new Error(`case ${c.name}: y's shape disagrees with output_size`);
  const x = make('f32', shapeOf(c, 'x'), inp.x);
  const dy = make('f32', shapeOf(c, 'dy'), inp.dy);
  const y = make('f32', yShape);
  const dx = make('f32', shapeOf(c, 'dx'));
  b.adaptiveAvgPool2dForward({ x, y });
  b.adaptiveAvgPool2dBackward({ dy, dx });
  return { y: await b.read(y), dx: await b.read(dx) };
});

const batchNorm2d: OpRunner = (b, c, inp) => withTensors(b, async (make) => {
  const a = c.attrs as { eps: number; momentum: number; affine: boolean; training: boolean; num_features: number };
  if (!a.affine) throw new Error(`case ${c.name}: only affine batch norm is supported`);
  const channels = [a.num_features];
  const x = make('f32', shapeOf(c, 'x'), inp.x);
  const gamma = make('f32', channels, inp.gamma);
  const beta = make('f32', channels, inp.beta);
  const runningMean = make('f32', channels, inp.running_mean);
  const runningVar = make('f32', channels, inp.running_var);
  const y = make('f32', shapeOf(c, 'y'));
  const saveMean = make('f32', channels);
  const saveInvStd = make('f32', channels);
  b.batchNorm2dForward({ x, gamma, beta, runningMean, runningVar, y, training: a.training, momentum: a.momentum, eps: a.eps, saveMean, saveInvStd });
  const out: Outputs = { y: await b.read(y) };
  if (a.training) {
    const dy = make('f32', shapeOf(c, 'dy'), inp.dy);
    const dx = make('f32', shapeOf(c, 'dx'));
    const dgamma = make('f32', channels);
    const dbeta = make('f32', channels);
    b.batchNorm2dBackward({ x, gamma, dy, saveMean, saveInvStd, dx, dgamma, dbeta });
    Object.assign(out, {
      dx: await b.read(dx), dgamma: await b.read(dgamma), dbeta: await b.read(dbeta),
      new_running_mean: await b.read(runningMean), new_running_var: await b.read(runningVar),
    });
  }
  return out;
});

const dropout: OpRunner = (b, c, inp) => withTensors(b, async (make) => {
  const p = (c.attrs as { p: number }).p;
  const x = make('f32', shapeOf(c, 'x'), inp.x);
  // Masks are stored as uint8; kernels take them as f32 0/1.
  const mask = make('f32', shapeOf(c, 'mask'), Float32Array.from(inp.mask!));
  const dy = make('f32', shapeOf(c, 'dy'), inp.dy);
  const y = make('f32', shapeOf(c, 'y'));
  const dx = make('f32', shapeOf(c, 'dx'));
  b.dropoutForward({ x, mask, y, p });
  b.dropoutBackward({ dy, mask, dx, p });
  return { y: await b.read(y), dx: await b.read(dx) };
});
// ---- sparse room (host-side; the backend applies the masks) ----

interface MagnitudeMaskAttrs { sparsities: number[]; n_pruned_global: number[]; n_pruned_layerwise: number[][] }
const MASK_KINDS = ['global', 'layerwise'] as const;

/** The case's input tensors laid out back to back as one flat vector, all prunable. */
function flatLayout(lib: FeddipModule, c: FixtureCase) {
  return lib.sparse.layoutSegments(c.inputs.map((name) => ({ name, shape: shapeOf(c, name), prunable: true })));
}

const magnitudeMask: OpRunner = (b, c, inp, lib) => withTensors(b, async (make) => {
  const { sparsities } = c.attrs as unknown as MagnitudeMaskAttrs;
  const { segments, total } = flatLayout(lib, c);
  const w = new Float32Array(total);
  for (const s of segments) w.set(inp[s.name]!, s.offset);
  const wt = make('f32', [total], w);
  const maskT = make('f32', [total]);
  const y = make('f32', [total]);
  const out: Outputs = {};
  const pruned: Record<(typeof MASK_KINDS)[number], number[]> = { global: [], layerwise: [] };
  for (const s of sparsities) {
    for (const kind of MASK_KINDS) {
      const mask = kind === 'global' ? lib.sparse.globalMagnitudeMask(w, segments, s) : lib.sparse.layerwiseMagnitudeMask(w, segments, s);
      for (const seg of segments) out[`${kind}.s${s}.${seg.name}`] = mask.subarray(seg.offset, seg.offset + seg.size);
      // Zero counts as measured: over all segments at once, or per segment (one-segment layouts).
      for (const part of kind === 'global' ? [segments] : segments.map((seg) => [seg])) {
        const r = lib.sparse.maskSparsity(mask, part);
        pruned[kind].push(r.prunable - r.nonzero);
      }
      // The pruned model M ⊙ W on the backend, the way training uses the mask.
      b.write(maskT, Float32Array.from(mask));
      b.applyMask({ w: wt, mask: maskT, y });
      out[`applied.${kind}.s${s}`] = await b.read(y);
    }
  }
  out.n_pruned_global = pruned.global;
  out.n_pruned_layerwise = pruned.layerwise;
  return out;
});

const magnitudeMaskExpected: Expectation = (c, golden) => {
  const a = c.attrs as unknown as MagnitudeMaskAttrs;
  const out: Record<string, ExpectedArray> = {
    n_pruned_global: Int32Array.from(a.n_pruned_global),
    n_pruned_layerwise: Int32Array.from(a.n_pruned_layerwise.flat()),
  };
  for (const s of a.sparsities) {
    for (const kind of MASK_KINDS) {
      const parts = c.inputs.map((name) => {
        const w = golden[name]!;
        const m = golden[`${kind}.s${s}.${name}`];
        if (!m) throw new Error(`no golden mask ${kind}.s${s}.${name}`);
        return Float32Array.from(w, (v, i) => v * m[i]!);
      });
      const applied = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      parts.reduce((offset, p) => (applied.set(p, offset), offset + p.length), 0);
      out[`applied.${kind}.s${s}`] = applied;
    }
  }
  return out;
};

interface ScheduleConfig { T: number; s0: number; sp: number; lambda0: number; lambda_max: number; Q: number }

const schedules: OpRunner = async (_b, c, _inp, lib) => {
  const out: Outputs = {};
  (c.attrs as unknown as { configs: ScheduleConfig[] }).configs.forEach((k, i) => {
    const rounds = Array.from({ length: k.T }, (_, t) => t);
    out[`sparsity.${i}`] = Float64Array.from(rounds, (t) => lib.sparse.cubicSparsity(t, k.T, k.s0, k.sp));
    // The fixture is the reference code's λ schedule (it stops short of λmax).
    out[`lambda.${i}`] = Float64Array.from(rounds, (t) =>
      lib.sparse.incrementalLambda(t, k.T, { lambda0: k.lambda0, lambdaMax: k.lambda_max, Q: k.Q, mode: 'reference' }));
  });
  return out;
};

interface ErkAttrs {
  shapes: number[][];
  erk_power_scale: number;
  results: Array<{ density: number; layer_densities: number[]; layer_sparsities: number[]; dense_layers: number[]; epsilon: number; kept_counts: number[] }>;
}

const erkDensities: OpRunner = async (_b, c, _inp, lib) => {
  const a = c.attrs as unknown as ErkAttrs;
  const out: Outputs = {};
  a.results.forEach((r, i) => {
    const got = lib.sparse.erkDensities(a.shapes, r.density, a.erk_power_scale);
    out[`${i}.layer_densities`] = got.layerDensities;
    out[`${i}.layer_sparsities`] = got.layerSparsities;
    out[`${i}.epsilon`] = [got.epsilon];
    out[`${i}.dense_layers`] = got.denseLayers;
    out[`${i}.kept_counts`] = got.keptCounts;
  });
  return out;
};

const erkExpected: Expectation = (c) => {
  const out: Record<string, ExpectedArray> = {};
  (c.attrs as unknown as ErkAttrs).results.forEach((r, i) => {
    out[`${i}.layer_densities`] = Float64Array.from(r.layer_densities);
    out[`${i}.layer_sparsities`] = Float64Array.from(r.layer_sparsities);
    out[`${i}.epsilon`] = Float64Array.of(r.epsilon);
    out[`${i}.dense_layers`] = Int32Array.from(r.dense_layers);
    out[`${i}.kept_counts`] = Int32Array.from(r.kept_counts);
  });
  return out;
};

/** Every layer on the sparse path whatever its sparsity (crossover 0), or every layer dense. */
const crossoverFor = (sparse: boolean) => (sparse ? { linear: 0, conv: 0 } : false as const);

/** Fails the case unless every prunable layer took the path the variant is about. */
function expectPaths(net: InstanceType<FeddipModule['Network']>, sparse: boolean): void {
  const wrong = net.paths().filter((p) => p.path !== (sparse ? 'sparse' : 'dense'));
  if (wrong.length) throw new Error(`layers on the wrong path: ${wrong.map((p) => `${p.name} (${p.path})`).join(', ')}`);
}

/** The whole LeNet-5: forward, mean cross-entropy, and every parameter gradient. */
const modelLenet5 = (sparse: boolean): OpRunner => async (b, c, inp, feddip) => {
  const model = feddip.lenet5();
  const net = new feddip.Network(model, b, { sparseCrossover: crossoverFor(sparse) });
  try {
    // Unpruned: on the sparse path every weight is stored, and must give the dense golden values.
    net.setMask(null);
    expectPaths(net, sparse);
    const params = new Float32Array(model.layout.size);
    for (const s of model.layout.segments) params.set(inp[s.name] as Float32Array, s.offset);
    net.setParameters(params);
    net.computeGradients(inp.x as Float32Array, inp.labels as Int32Array);
    const flattenIndex = model.layers.findIndex((l) => l instanceof feddip.Flatten);
    const out: Outputs = {
      flat: await net.readActivation(flattenIndex),
      logits: await net.readActivation(model.layers.length - 1),
      loss: [(await net.lastLoss()).ce],
    };
    const grads = await net.getGradients();
    for (const s of model.layout.segments) out[`grad.${s.name}`] = grads.subarray(s.offset, s.offset + s.size);
    return out;
  } finally {
    net.dispose();
  }
};

/**
 * One FedDIP/DPF client step on LeNet-5: global magnitude mask at the case's sparsity, loss and
 * gradients at M⊙W with the incremental penalty, SGD update applied to the dense weights.
 */
const dpfStep = (sparse: boolean): OpRunner => async (b, c, inp, feddip) => {
  const attrs = c.attrs as { sparsity: number; lambda: number; lr: number; weight_decay: number };
  const model = feddip.lenet5();
  const net = new feddip.Network(model, b, { sparseCrossover: crossoverFor(sparse) });
  try {
    const params = new Float32Array(model.layout.size);
    for (const s of model.layout.segments) params.set(inp[s.name] as Float32Array, s.offset);
    net.setParameters(params);
    const mask = feddip.sparse.globalMagnitudeMask(params, model.layout.segments, attrs.sparsity);
    net.setMask(mask);
    expectPaths(net, sparse);
    net.computeGradients(inp.x as Float32Array, inp.labels as Int32Array, attrs.lambda);
    const parts = await net.lastLoss();
    const out: Outputs = {
      logits: await net.readActivation(model.layers.length - 1),
      loss: [parts.loss], ce_loss: [parts.ce], reg: [parts.reg],
    };
    const grads = await net.getGradients();
    net.applyUpdate(attrs.lr, attrs.weight_decay);
    const updated = await net.getParameters();
    for (const s of model.layout.segments) {
      if (s.prunable) out[`mask.${s.name}`] = mask.subarray(s.offset, s.offset + s.size);
      out[`grad.${s.name}`] = grads.subarray(s.offset, s.offset + s.size);
      out[`new.${s.name}`] = updated.subarray(s.offset, s.offset + s.size);
    }
    return out;
  } finally {
    net.dispose();
  }
};

/**
 * One CIFAR ResNet BasicBlock in training mode, as the package builds it: forward, backward for the
 * case's dy, every parameter gradient, and the running statistics after the pass.
 */
const resnetBasicBlock: OpRunner = async (b, c, inp, feddip) => {
  const a = c.attrs as { in_planes: number; planes: number; stride: number; eps: number; momentum: number; param_names: string[] };
  const block = new feddip.BasicBlock('', a.in_planes, a.planes, a.stride);
  for (const bn of [block.bn1, block.bn2, block.shortcut?.bn]) {
    if (bn && (bn.eps !== a.eps || bn.momentum !== a.momentum)) throw new Error(`case ${c.name}: the block's batch norms use eps ${bn.eps}, momentum ${bn.momentum}`);
  }
  const [batch, ...perSample] = shapeOf(c, 'x');
  const harness = new feddip.LayerHarness(block, b, perSample, batch!);
  try {
    const { layout } = harness;
    const trainable = layout.segments.filter((s) => s.trainable).map((s) => s.name);
    if (trainable.join() !== a.param_names.join()) throw new Error(`case ${c.name}: the block's parameters are [${trainable.join(', ')}], the case has [${a.param_names.join(', ')}]`);
    const params = new Float32Array(layout.size);
    // Running statistics are inputs of the case under torch's buffer names, like the parameters.
    for (const s of layout.segments) params.set(inp[s.name] as Float32Array, s.offset);
    harness.setParameters(params);
    harness.forward(inp.x as Float32Array, true);
    harness.backward(inp.dy as Float32Array);
    const out: Outputs = { y: await harness.readOutput(), dx: await harness.readInputGrad() };
    const grads = await harness.getGradients();
    const updated = await harness.getParameters();
    for (const s of layout.segments) {
      if (s.trainable) out[`grad.${s.name}`] = grads.subarray(s.offset, s.offset + s.size);
      else out[`new.${s.name}`] = updated.subarray(s.offset, s.offset + s.size);
    }
    return out;
  } finally {
    harness.dispose();
  }
};

// ---- the sparse path on the same golden cases ----
//
// A layer case has a dense W and golden values for it. Its sparse run splits W into two sparse
// weights with complementary masks — M keeps every 29th entry (a few per cent: the direct conv
// kernels), 1 − M the rest (the im2col + sparse-product kernels) — runs both, and adds the results:
// conv(x, M⊙W) + conv(x, (1−M)⊙W) = conv(x, W), so both sparse code paths meet the golden values.

/** The two complementary CSR weights of a [rows × cols] W, values gathered from it on the device. */
function splitWeight(b: Backend, lib: FeddipModule, w: Tensor, rows: number, cols: number) {
  const halves = [0, 1].map((part) => {
    const mask = Uint8Array.from({ length: rows * cols }, (_, i) => ((i % 29 === 0) === (part === 0) ? 1 : 0));
    const s = lib.sparse.csrFromMask(mask, rows, cols);
    const csr = lib.uploadCsr(b, s);
    const csrT = lib.uploadCsr(b, lib.sparse.csrTranspose(s));
    b.csrGather({ w, a: csr });
    b.csrGather({ w, a: csrT, transposed: true });
    return { csr, csrT };
  });
  return {
    halves,
    release: () => { for (const h of halves) { lib.releaseCsr(b, h.csr); lib.releaseCsr(b, h.csrT); } },
  };
}

const linearSparse: OpRunner = (b, c, inp, lib) => withTensors(b, async (make) => {
  const [O, I] = shapeOf(c, 'W') as [number, number];
  const x = make('f32', shapeOf(c, 'x'), inp.x);
  const w = make('f32', [O, I], inp.W);
  const bias = inp.b ? make('f32', shapeOf(c, 'b'), inp.b) : undefined;
  const dy = make('f32', shapeOf(c, 'dy'), inp.dy);
  const [y0, y1, y] = [0, 1, 2].map(() => make('f32', shapeOf(c, 'y')));
  const [dx0, dx1, dx] = [0, 1, 2].map(() => make('f32', shapeOf(c, 'dx')));
  const dw = make('f32', shapeOf(c, 'dW'));
  const db = c.outputs.includes('db') ? make('f32', shapeOf(c, 'db')) : undefined;
  const { halves: [m, r], release } = splitWeight(b, lib, w, O, I);
  try {
    b.sparseLinearForward({ x, w: m!.csr, b: bias, y: y0! });
    b.sparseLinearForward({ x, w: r!.csr, y: y1! });
    b.add({ a: y0!, b: y1!, y: y! });
    b.sparseLinearBackwardData({ dy, wt: m!.csrT, dx: dx0! });
    b.sparseLinearBackwardData({ dy, wt: r!.csrT, dx: dx1! });
    b.add({ a: dx0!, b: dx1!, y: dx! });
    // The weight gradient is dense on the sparse path too (error feedback).
    b.linearBackward({ x, w, dy, dw, db });
    const out: Outputs = { y: await b.read(y!), dx: await b.read(dx!), dW: await b.read(dw) };
    if (db) out.db = await b.read(db);
    return out;
  } finally {
    release();
  }
});

const conv2dSparse: OpRunner = (b, c, inp, lib) => withTensors(b, async (make) => {
  const attrs = c.attrs as { stride: [number, number]; padding: [number, number]; dilation: [number, number]; groups: number };
  if (attrs.dilation.some((v) => v !== 1) || attrs.groups !== 1) throw new Error('conv2d supports dilation 1 and groups 1 only');
  const geometry = { stride: attrs.stride, padding: attrs.padding };
  const [O, C, kh, kw] = shapeOf(c, 'W') as [number, number, number, number];
  const kernel: [number, number] = [kh, kw];
  const x = make('f32', shapeOf(c, 'x'), inp.x);
  const w = make('f32', [O, C, kh, kw], inp.W);
  const bias = inp.b ? make('f32', shapeOf(c, 'b'), inp.b) : undefined;
  const dy = make('f32', shapeOf(c, 'dy'), inp.dy);
  const [y0, y1, y] = [0, 1, 2].map(() => make('f32', shapeOf(c, 'y')));
  const [dx0, dx1, dx] = [0, 1, 2].map(() => make('f32', shapeOf(c, 'dx')));
  const dw = make('f32', shapeOf(c, 'dW'));
  const db = c.outputs.includes('db') ? make('f32', shapeOf(c, 'db')) : undefined;
  const { halves: [m, r], release } = splitWeight(b, lib, w, O, C * kh * kw);
  try {
    b.sparseConv2dForward({ x, w: m!.csr, kernel, b: bias, y: y0!, ...geometry });
    b.sparseConv2dForward({ x, w: r!.csr, kernel, y: y1!, ...geometry });
    b.add({ a: y0!, b: y1!, y: y! });
    b.sparseConv2dBackwardData({ dy, wt: m!.csrT, kernel, dx: dx0!, ...geometry });
    b.sparseConv2dBackwardData({ dy, wt: r!.csrT, kernel, dx: dx1!, ...geometry });
    b.add({ a: dx0!, b: dx1!, y: dx! });
    b.conv2dBackward({ x, w, dy, dw, db, ...geometry });
    const out: Outputs = { y: await b.read(y!), dx: await b.read(dx!), dW: await b.read(dw) };
    if (db) out.db = await b.read(db);
    return out;
  } finally {
    release();
  }
});

/** Runners of the sparse variant of a case (named "<case> [sparse]" in reports), by op. */
export const SPARSE_OPS: Record<string, OpRunner> = {
  linear: linearSparse,
  conv2d: conv2dSparse,
  model_lenet5: modelLenet5(true),
  dpf_step: dpfStep(true),
};

export const OPS: Record<string, OpRunner> = {
  model_lenet5: modelLenet5(false),
  dpf_step: dpfStep(false),
  linear,
  relu,
  cross_entropy: crossEntropy,
  sgd_step: sgdStep,
  fedavg,
  conv2d,
  maxpool2d: maxPool2d,
  avgpool2d: avgPool2d,
  adaptive_avgpool2d: adaptiveAvgPool2d,
  batchnorm2d: batchNorm2d,
  dropout,
  magnitude_mask: magnitudeMask,
  schedules,
  erk_densities: erkDensities,
  resnet_basic_block: resnetBasicBlock,
};

export const EXPECTATIONS: Record<string, Expectation> = {
  magnitude_mask: magnitudeMaskExpected,
  erk_densities: erkExpected,
};
