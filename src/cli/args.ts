// A small, strict command-line parser driven by a schema: every option has a type, a default and
// a help line; unknown options, missing values and bad numbers are errors that name the option.
// `--config file.json` values sit under the flags (flags win).
import { InvalidArgumentError } from '../errors.ts';

/**
 * Exit statuses of every `feddip` command. Scripts branch on them, so they never change meaning:
 * 130 is what shells report for a process ended by SIGINT (128 + 2).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** The exit-code paragraph every command's --help ends with. */
export const EXIT_CODES_HELP = `Exit codes:
  0    done
  1    the work failed (data, network, a backend, a file that could not be written)
  2    bad command line or config file (the message names the option)
  130  interrupted by Ctrl-C (what was done is written; a second Ctrl-C aborts at once)`;

export type OptionType = 'string' | 'number' | 'integer' | 'boolean';

export interface OptionSpec {
  type: OptionType;
  default?: string | number | boolean;
  help: string;
  /** Allowed values for strings. */
  choices?: readonly string[];
  /** Numbers: also accept 'Infinity' (e.g. "no limit"). */
  infinite?: boolean;
}

export type Schema = Record<string, OptionSpec>;
export type Parsed = Record<string, string | number | boolean | undefined>;

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function convert(flag: string, spec: OptionSpec, raw: unknown): string | number | boolean {
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new InvalidArgumentError(`--${flag} expects true or false, got '${String(raw)}'`);
  }
  if (spec.type === 'number' || spec.type === 'integer') {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (spec.infinite && n === Infinity) return n;
    if (typeof raw === 'string' && raw.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`--${flag} expects a number, got '${String(raw)}'`);
    if (spec.type === 'integer' && !Number.isInteger(n)) throw new InvalidArgumentError(`--${flag} expects a whole number, got '${String(raw)}'`);
    return n;
  }
  const s = String(raw);
  if (spec.choices && !spec.choices.includes(s)) throw new InvalidArgumentError(`--${flag} must be one of ${spec.choices.join(', ')}; got '${s}'`);
  return s;
}

/**
 * Parses `argv` against `schema`. Keys of the result are camelCase (`--local-epochs` → localEpochs).
 * `config` holds values from a config file (kebab- or camelCase keys), applied before the flags.
 */
export function parseOptions(schema: Schema, argv: readonly string[], config: Record<string, unknown> = {}, configName = 'config file'): { options: Parsed; positional: string[] } {
  const options: Parsed = {};
  for (const [flag, spec] of Object.entries(schema)) options[camel(flag)] = spec.default;
  // A config file naming another config file would make the order of precedence a puzzle.
  const valid = Object.keys(schema).filter((f) => f !== 'config');
  for (const [key, value] of Object.entries(config)) {
    const flag = valid.find((f) => f === key || camel(f) === key);
    if (!flag) throw new InvalidArgumentError(`${configName}: unknown option '${key}'; valid options: ${valid.join(', ')}`);
    if (value === null || typeof value === 'object') throw new InvalidArgumentError(`${configName}: '${key}' must be a ${schema[flag]!.type}, got ${JSON.stringify(value)}`);
    try {
      options[camel(flag)] = convert(flag, schema[flag]!, value);
    } catch (error) {
      throw new InvalidArgumentError(`${configName}: ${(error as Error).message}`);
    }
  }
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) { positional.push(arg); continue; }
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = schema[flag];
    if (!spec) throw new InvalidArgumentError(`unknown option --${flag}`);
    let raw: string | boolean;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else if (spec.type === 'boolean') raw = true;
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new InvalidArgumentError(`--${flag} needs a value`);
      raw = next;
      i++;
    }
    options[camel(flag)] = convert(flag, spec, raw);
  }
  return { options, positional };
}

/** The value of `--config` on a command line (`--config f` or `--config=f`), if there is one. */
export function configPath(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
    if (arg === '--config') {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new InvalidArgumentError('--config needs the path of a JSON file of options');
      return next;
    }
  }
  return undefined;
}

/**
 * Parses a command line whose options may also come from `--config file.json` (an object of
 * options by their flag or camelCase name). Flags win over the file, the file over the defaults.
 * Every problem with the file — unreadable, not JSON, not an object, an unknown key, a value of
 * the wrong type — is a usage error naming the file and the key.
 */
export async function parseCommandLine(schema: Schema, argv: readonly string[], readText?: (path: string) => Promise<string>): Promise<{ options: Parsed; positional: string[] }> {
  const path = configPath(argv);
  if (path === undefined) return parseOptions(schema, argv);
  if (!schema.config) throw new InvalidArgumentError('unknown option --config (this command takes none)');
  if (!readText) throw new InvalidArgumentError('--config cannot be read here: this context has no file access');
  let text: string;
  try {
    text = await readText(path);
  } catch (error) {
    throw new InvalidArgumentError(`cannot read the config file '${path}' (${(error as Error).message}); give the path of a JSON file of options`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`config file '${path}' is not valid JSON: ${(error as Error).message}`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new InvalidArgumentError(`config file '${path}' must hold one JSON object of options, e.g. {"rounds": 50}`);
  }
  return parseOptions(schema, argv, config as Record<string, unknown>, `config file '${path}'`);
}

/** Help text for a schema: one aligned line per option with its default. */
export function formatOptions(schema: Schema): string {
  const rows = Object.entries(schema).map(([flag, spec]) => {
    const left = `--${flag}${spec.type === 'boolean' ? '' : ` <${spec.choices ? spec.choices.join('|') : spec.type === 'string' ? 'value' : 'n'}>`}`;
    const def = spec.default === undefined ? '' : ` (default ${String(spec.default)})`;
    return [left, `${spec.help}${def}`] as const;
  });
  const width = Math.min(40, Math.max(...rows.map(([l]) => l.length)));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`).join('\n');
}
