// `feddip data …`: list the known data sets and where they are, show where one is found (or why
// not), and download one into the user cache.
import { DatasetNotFoundError } from '../data/errors.ts';
import { fetchDataset, type FetchProgress } from '../data/fetch.ts';
import { datasetSpec, defaultCacheDir, listDatasets, locateDataset } from '../data/registry.ts';
import { FeddipError, InvalidArgumentError } from '../errors.ts';
import { EXIT_CODES_HELP, parseCommandLine, type Schema } from './args.ts';
import type { RunFiles } from './io.ts';

interface Io { out(line: string): void; err(line: string): void; files?: RunFiles }

export const DATA_HELP = `Usage: feddip data <list | where NAME | fetch NAME> [options]

  list                      the known data sets and where each is found here
  where NAME                the folder NAME is loaded from, or every place looked in
  fetch NAME                download NAME into the user cache (resumable; verified)

Options:
  --data-dir DIR            list/where: look in DIR/NAME/ and DIR first
  --cache-dir DIR           fetch: cache root (default $XDG_CACHE_HOME/feddip or ~/.cache/feddip)
  --base-url URL            fetch: download every file from URL/<file> (a mirror)
  --force                   fetch: download again even if the files are there
  --config FILE             JSON file of these options (flags win)

Data sets: ${listDatasets().join(', ')}

Examples:
  feddip data list
  feddip data where fashion-mnist --data-dir ~/datasets
  feddip data fetch cifar10
  feddip data fetch mnist --base-url https://mirror.example.org/mnist --cache-dir /srv/feddip

${EXIT_CODES_HELP} (where: 1 when the data set is not found)`;

const DATA_OPTIONS: Schema = {
  'data-dir': { type: 'string', help: 'list/where: look in DIR/NAME/ and DIR first' },
  'cache-dir': { type: 'string', help: 'fetch: cache root' },
  'base-url': { type: 'string', help: 'fetch: download every file from URL/<file> (a mirror)' },
  force: { type: 'boolean', default: false, help: 'fetch: download again even if the files are there' },
  config: { type: 'string', help: 'JSON file of these options (flags win)' },
};

/** Download progress on stderr: one line per tenth of a file. */
export function progressPrinter(io: Io): (p: FetchProgress) => void {
  let file = '';
  let lastStep = -1;
  return (p) => {
    if (p.file !== file) { file = p.file; lastStep = -1; }
    // One line per tenth of a file (or per 10 MB when the size is unknown) keeps logs readable.
    const step = p.total ? Math.floor((10 * p.bytes) / p.total) : Math.floor(p.bytes / 10_000_000);
    if (step === lastStep) return;
    lastStep = step;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    io.err(`  ${p.file}: ${mb(p.bytes)}${p.total ? ` / ${mb(p.total)} MB (${Math.round((100 * p.bytes) / p.total)}%)` : ' MB'}`);
  };
}

export async function cmdData(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h' || rest.includes('--help') || rest.includes('-h')) {
    io.out(DATA_HELP);
    return 0;
  }
  let parsed: Awaited<ReturnType<typeof parseCommandLine>>;
  try {
    parsed = await parseCommandLine(DATA_OPTIONS, rest, io.files?.readText);
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    io.err(`feddip data ${sub}: ${error.message} (try 'feddip data help')`);
    return 2;
  }
  const { positional, options } = parsed;
  const str = (k: 'dataDir' | 'cacheDir' | 'baseUrl') => (typeof options[k] === 'string' ? options[k] as string : undefined);
  const needName = () => {
    if (positional.length !== 1) {
      io.err(`feddip data ${sub}: give one data set name (${listDatasets().join(', ')})`);
      return undefined;
    }
    try {
      return datasetSpec(positional[0]!).name;
    } catch (error) {
      io.err(`feddip data ${sub}: ${(error as Error).message}`);
      return undefined;
    }
  };
  try {
    switch (sub) {
      case 'list': {
        if (positional.length) { io.err('feddip data list: takes no data set name'); return 2; }
        for (const name of listDatasets()) {
          try {
            const found = await locateDataset(name, { dataDir: str('dataDir') });
            io.out(`${name.padEnd(14)} ${found.dir} (${found.source})`);
          } catch (error) {
            if (!(error instanceof DatasetNotFoundError)) throw error;
            io.out(`${name.padEnd(14)} not found (feddip data where ${name} says where it looked)`);
          }
        }
        return 0;
      }
      case 'where': {
        const name = needName();
        if (!name) return 2;
        try {
          const found = await locateDataset(name, { dataDir: str('dataDir') });
          io.out(found.dir);
          return 0;
        } catch (error) {
          if (!(error instanceof DatasetNotFoundError)) throw error;
          io.err(error.message);
          return 1;
        }
      }
      case 'fetch': {
        const name = needName();
        if (!name) return 2;
        const cacheDir = str('cacheDir') ?? defaultCacheDir();
        if (cacheDir) io.err(`fetching ${name} into ${cacheDir}/${name}`);
        const result = await fetchDataset(name, {
          cacheDir, baseUrl: str('baseUrl'), force: options.force === true, onProgress: progressPrinter(io),
        });
        io.err(result.downloaded.length
          ? `done: ${result.downloaded.length} file(s), ${(result.bytesReceived / 1e6).toFixed(1)} MB received`
          : 'already there: nothing to download');
        io.out(result.dir);
        return 0;
      }
      default:
        io.err(`feddip data: unknown subcommand '${sub}' (try 'feddip data help')`);
        return 2;
    }
  } catch (error) {
    if (error instanceof FeddipError) {
      io.err(`feddip data ${sub}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
