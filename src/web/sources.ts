// Where the page gets its data: the built-in synthetic set, the four IDX files of (Fashion-)MNIST
// from a URL folder, or the same files picked from disk. Names are MNIST's, gzipped or not.
import { type DataSplits, idxDataset, subset } from '../data/index.ts';
import { DataError } from '../data/errors.ts';
import type { Rng } from '../util/rng.ts';

export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

type Key = keyof typeof IDX_FILES;

async function build(bytes: Record<Key, Uint8Array>, name: string, where: Record<Key, string>): Promise<DataSplits> {
  const train = await idxDataset(bytes.trainImages, bytes.trainLabels, { name, classes: 10, imagesSource: where.trainImages, labelsSource: where.trainLabels });
  const test = await idxDataset(bytes.testImages, bytes.testLabels, { name: `${name}[test]`, classes: 10, imagesSource: where.testImages, labelsSource: where.testLabels });
  return { train, test };
}

/** Fetches `<folder>/<name>.gz`, falling back to `<folder>/<name>`; the error names both URLs. */
async function fetchOne(folder: URL, name: string, fetchFn: typeof fetch): Promise<[Uint8Array, string]> {
  const tried: string[] = [];
  for (const file of [`${name}.gz`, name]) {
    const url = new URL(file, folder);
    let response: Response;
    try {
      response = await fetchFn(url);
    } catch (error) {
      throw new DataError(url.href, `could not fetch it (${(error as Error).message}); a server on another origin must allow it (CORS)`);
    }
    if (response.ok) return [new Uint8Array(await response.arrayBuffer()), url.href];
    tried.push(`${url.href} (HTTP ${response.status})`);
  }
  throw new DataError(name, `not found: tried ${tried.join(' and ')}`);
}

/** The four IDX files from a folder URL (relative URLs resolve against the page). */
export async function idxFromUrl(folder: string, base: string, fetchFn: typeof fetch = fetch): Promise<DataSplits> {
  const dir = new URL(folder.endsWith('/') ? folder : `${folder}/`, base);
  const keys = Object.keys(IDX_FILES) as Key[];
  const got = await Promise.all(keys.map((k) => fetchOne(dir, IDX_FILES[k], fetchFn)));
  const bytes = Object.fromEntries(keys.map((k, i) => [k, got[i]![0]])) as Record<Key, Uint8Array>;
  const where = Object.fromEntries(keys.map((k, i) => [k, got[i]![1]])) as Record<Key, string>;
  return build(bytes, dir.pathname.split('/').filter(Boolean).pop() ?? 'idx', where);
}

/** The four IDX files among picked files, recognised by name (any folder, .gz or not). */
export async function idxFromFiles(files: ArrayLike<File>): Promise<DataSplits> {
  const list = Array.from(files);
  const pick = (k: Key) => {
    const f = list.find((file) => file.name === IDX_FILES[k] || file.name === `${IDX_FILES[k]}.gz`);
    if (!f) throw new DataError(IDX_FILES[k], `missing: pick the four files ${Object.values(IDX_FILES).join(', ')} (gzipped or not); got ${list.map((x) => x.name).join(', ') || 'none'}`);
    return f;
  };
  const keys = Object.keys(IDX_FILES) as Key[];
  const chosen = keys.map(pick);
  const bytes = await Promise.all(chosen.map(async (f) => new Uint8Array(await f.arrayBuffer())));
  return build(
    Object.fromEntries(keys.map((k, i) => [k, bytes[i]!])) as Record<Key, Uint8Array>,
    'idx',
    Object.fromEntries(keys.map((k, i) => [k, chosen[i]!.name])) as Record<Key, string>,
  );
}

/** At most `n` images, drawn at random (a page need not train on 60,000). */
export function limit(splits: DataSplits, train: number, test: number, rng: Rng): DataSplits {
  const cut = (ds: DataSplits['train'], n: number, label: string) => {
    if (ds.size <= n) return ds;
    return subset(ds, rng.fork(label).sample(ds.size, n).sort((a, b) => a - b), ds.name);
  };
  return { train: cut(splits.train, train, 'train'), test: cut(splits.test, test, 'test') };
}
