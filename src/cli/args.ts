// A small, strict command-line parser driven by a schema: every option has a type, a default and
// a help line; unknown options, missing values and bad numbers are errors that name the option.
// `--config file.json` values sit under the flags (flags win).
import { InvalidArgumentError } from '../errors.ts';

export type OptionType = 'string' | 'number' | 'integer' | 'boolean';

export interface OptionSpec {
  type: OptionType;
  default?: string | number | boolean;
  help: string;
  /** Allowed values for strings. */
  choices?: readonly string[];
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
export function parseOptions(schema: Schema, argv: readonly string[], config: Record<string, unknown> = {}): { options: Parsed; positional: string[] } {
  const options: Parsed = {};
  for (const [flag, spec] of Object.entries(schema)) options[camel(flag)] = spec.default;
  for (const [key, value] of Object.entries(config)) {
    const flag = Object.keys(schema).find((f) => f === key || camel(f) === key);
    if (!flag) throw new InvalidArgumentError(`config file: unknown option '${key}' (known: ${Object.keys(schema).join(', ')})`);
    options[camel(flag)] = convert(flag, schema[flag]!, value);
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
