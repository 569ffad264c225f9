// Training memory of a Network. Activation gradients and the activations a residual block only
// passes from one kernel to the next come from a pool shared by the whole binding, so the bytes per
// image stay far below one buffer per layer (ResNet-18-CIFAR trains at batch 128 within wasm32's
// 4 GiB). Sharing buffers must not change a single bit of any result: the fingerprints below were
// recorded with the code from before the sharing (commit ce9090f, one tensor per layer output and
// per input gradient) and every later run must reproduce them exactly.
import { describe, expect, it } from 'vitest';
import { createBackend, initParameters, type ModelDef, modelByName, Network, Rng, sparse } from '../../src/index.ts';

/** FNV-1a over the float bits: equal fingerprints mean equal bits (to a 2⁻³² chance). */
function fingerprint(xs: Float32Array): string {
  const bits = new Uint32Array(xs.buffer, xs.byteOffset, xs.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < bits.length; i++) {
    h = Math.imul(h ^ bits[i]!, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * Two training steps (the second one runs in buffers the first left holding other layers' data),
 * then an evaluation pass; optionally under a 95 % layer-wise mask, which puts the big layers on the
 * sparse path.
 */
async function run(model: ModelDef, batch: number, masked: boolean) {
  const b = await createBackend('wasm', { threads: 1 });
  const net = new Network(model, b, { rng: new Rng(3) });
  try {
    const r = new Rng(1);
    const w = initParameters(model.layout, () => r.uniform());
    net.setParameters(w);
    if (masked) net.setMask(sparse.layerwiseMagnitudeMask(w, model.layout.segments, 0.95));
    const per = model.inputShape.reduce((a, c) => a * c, 1);
    const x = Float32Array.from({ length: batch * per }, () => r.uniform() * 2 - 1);
    const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % model.classes);
    const evalBefore = await net.predict(x, batch);
    const losses: number[] = [];
    for (let step = 0; step < 2; step++) {
      net.trainStep(x, labels, { lr: 0.05, weightDecay: 5e-4, lambda: 1e-3 });
      losses.push((await net.lastLoss()).loss);
    }
    return {
      losses,
      gradients: fingerprint(await net.getGradients()),
      parameters: fingerprint(await net.getParameters()),
      logits: fingerprint(await net.readActivation(model.layers.length - 1)),
      evalBefore: fingerprint(evalBefore),
      evalAfter: fingerprint(await net.predict(x, batch)),
    };
  } finally {
    net.dispose();
    b.dispose();
  }
}

/** Recorded before the sharing (see the top of the file): wasm, one thread, seeds as in `run`. */
const RECORDED = [
  ['lenet5', 3, false, { losses: [2.3017246417670303, 2.2787273849641583], gradients: '98032fc4', parameters: 'b8814798', logits: '3e25d5e0', evalBefore: '994fe6da', evalAfter: 'cd7ec97d' }],
  ['lenet5', 3, true, { losses: [2.287128354416136, 2.275458119490082], gradients: '9d4d31ea', parameters: 'e3328566', logits: 'cb78bd07', evalBefore: 'e15f8844', evalAfter: '1d2bb714' }],
  ['alexnet-cifar', 2, false, { losses: [2.4302804399288607, 2.3967776412795345], gradients: '5e4fb885', parameters: 'e346f41e', logits: 'f53f69db', evalBefore: 'd16ad5b9', evalAfter: 'b84c8b7f' }],
  ['resnet18-cifar', 2, false, { losses: [4.834922416004354, 0.2679938019980359], gradients: 'a63c5789', parameters: '97ec682d', logits: '38168880', evalBefore: '5a2c8e50', evalAfter: '59617db5' }],
  ['resnet18-cifar', 2, true, { losses: [4.648367490400241, 3.6473652635117095], gradients: 'a2fd7f62', parameters: 'b43977d6', logits: 'b34cfc97', evalBefore: 'b20d452c', evalAfter: 'd6e041c8' }],
] as const;

describe('sharing buffers leaves every result bit-identical', () => {
  it.each(RECORDED)('%s, batch %i, masked: %s', async (name, batch, masked, recorded) => {
    expect(await run(modelByName(name), batch, masked)).toEqual(recorded);
  }, 120_000);
});
