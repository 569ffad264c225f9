// The CIFAR configurations of the paper (CIFAR-10 / AlexNet-CIFAR, CIFAR-100 / ResNet-18-CIFAR)
// end to end through `feddip simulate`, on small files in the CIFAR binary format written here:
// the loaders, normalisation, augmentation in the clients, both models and the outputs.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { nodeFiles } from '../../src/cli/io.ts';
import { augmentBatch, makeDataset, prepareForTraining } from '../../src/data/index.ts';
import { Rng } from '../../src/util/rng.ts';
import { cifarBytes } from './data-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'feddip-cifar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), files: await nodeFiles(), stopRequested: () => false });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const records = (n: number, classes: number, seed: number) =>
  Array.from({ length: n }, (_, i) => ({ label: (i * 7 + seed) % classes, coarse: i % 20, seed: seed * 1000 + i }));

function writeCifar10(root: string) {
  const d = join(root, 'cifar10', 'cifar-10-batches-bin');
  mkdirSync(d, { recursive: true });
  for (let b = 1; b <= 5; b++) writeFileSync(join(d, `data_batch_${b}.bin`), cifarBytes('cifar10', records(8, 10, b)));
  writeFileSync(join(d, 'test_batch.bin'), cifarBytes('cifar10', records(12, 10, 9)));
}

function writeCifar100(root: string) {
  const d = join(root, 'cifar100', 'cifar-100-binary');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'train.bin'), cifarBytes('cifar100', records(24, 100, 3)));
  writeFileSync(join(d, 'test.bin'), cifarBytes('cifar100', records(10, 100, 4)));
}

const small = ['--clients', '2', '--fraction', '1', '--local-epochs', '1', '--batch', '8', '--rounds', '1', '--threads', '1', '--quiet', '--sparsity', '0.95', '--allow-subset'];

describe('CIFAR configurations', () => {
  it('prepares CIFAR as the paper does: normalised with training statistics, augmented; Fashion-MNIST left alone', () => {
    const images = Float32Array.from({ length: 4 * 3 * 4 * 4 }, (_, i) => ((i * 37) % 101) / 100);
    const train = makeDataset({ name: 't', images, labels: new Int32Array(4), shape: [3, 4, 4], classes: 10 });
    const test = makeDataset({ name: 'u', images: images.slice(0, 3 * 16), labels: new Int32Array(1), shape: [3, 4, 4], classes: 10 });
    const p = prepareForTraining({ train, test });
    expect(p.augmentation).toMatchObject({ padding: 4, flip: true, shape: [3, 4, 4] });
    // Every training channel now has mean 0 and std 1; the test split used the same constants.
    for (let c = 0; c < 3; c++) {
      const v: number[] = [];
      for (let n = 0; n < 4; n++) for (let k = 0; k < 16; k++) v.push(train.images[(n * 3 + c) * 16 + k]!);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      expect(mean).toBeCloseTo(0, 5);
      expect(Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length)).toBeCloseTo(1, 4);
    }
    expect(Array.from(test.images.subarray(0, 16))).toEqual(Array.from(train.images.subarray(0, 16)));
    // The padded pixels are black pixels of the original image, normalised.
    expect(p.augmentation!.fill[0]).toBeCloseTo(-p.normalization!.mean[0]! / p.normalization!.std[0]!, 6);
    const grey = makeDataset({ name: 'g', images: new Float32Array(2 * 4), labels: new Int32Array(2), shape: [1, 2, 2], classes: 10 });
    const q = prepareForTraining({ train: grey, test: grey });
    expect(q.normalization).toBeNull();
    expect(q.augmentation).toBeNull();
    expect(prepareForTraining({ train: grey, test: grey }, 'on').augmentation).not.toBeNull();
  });

  it('augmentation changes the batch the client trains on, reproducibly', () => {
    const img = Float32Array.from({ length: 2 * 3 * 8 * 8 }, (_, i) => i);
    const a = img.slice();
    const b = img.slice();
    augmentBatch(a, [3, 8, 8], new Rng(5), { padding: 4 });
    augmentBatch(b, [3, 8, 8], new Rng(5), { padding: 4 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(img);
  });

  it('CIFAR-10 with AlexNet-CIFAR runs a FedDIP round from user files and writes its outputs', async () => {
    writeCifar10(dir);
    const out = join(dir, 'alexnet');
    const r = await run(['simulate', '--dataset', 'cifar10', '--model', 'alexnet-cifar', '--data-dir', dir, '--out', out, ...small]);
    expect(r.code, r.err).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ dataset: 'cifar10', model: 'alexnet-cifar', parameters: 23_272_266, augment: 'auto' });
    const [m] = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(m).toMatchObject({ round: 0, clients_ok: 2, clients_failed: 0 });
    expect(Number.isFinite(m.train_loss) && m.seconds > 0).toBe(true);
  }, 180_000);

  it('CIFAR-100 with ResNet-18-CIFAR runs a FedDIP round from user files (top-5 reported)', async () => {
    writeCifar100(dir);
    const out = join(dir, 'resnet');
    const r = await run(['simulate', '--dataset', 'cifar100', '--model', 'resnet18-cifar', '--data-dir', dir, '--out', out, ...small]);
    expect(r.code, r.err).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ dataset: 'cifar100', model: 'resnet18-cifar', parameters: 11_220_132 });
    const [m] = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(m).toMatchObject({ round: 0, clients_ok: 2 });
    expect(m.test_top5).toBeGreaterThanOrEqual(m.test_acc);
  }, 300_000);

  it('refuses a model that does not take the data set\'s images', async () => {
    writeCifar10(dir);
    const r = await run(['simulate', '--dataset', 'cifar10', '--model', 'lenet5', '--data-dir', dir, ...small]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/lenet5 takes 1×28×28 inputs but cifar10 images are 3×32×32/);
  });
});
