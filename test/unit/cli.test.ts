import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { nodeFiles } from '../../src/cli/io.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe('feddip CLI', () => {
  it('prints help with examples and exits 0', async () => {
    const c = capture();
    expect(await main(['--help'], c.io)).toBe(0);
    expect(c.out.join('\n')).toMatch(/Usage: feddip <command>/);
    expect(c.out.join('\n')).toMatch(/Examples:/);
  });

  it('exits 2 on an unknown command and says what to do', async () => {
    const c = capture();
    expect(await main(['frobnicate'], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/unknown command 'frobnicate' \(commands: .*; try 'feddip help'\)/);
  });

  it('reports every backend as JSON, with a reason for each unavailable one', async () => {
    const c = capture();
    expect(await main(['backends', '--json'], c.io)).toBe(0);
    const report = JSON.parse(c.out.join('\n'));
    expect(report.runtime).toMatch(/^node /);
    expect(report.backends.map((b: { name: string }) => b.name)).toEqual(['wasm', 'webgpu', 'reference']);
    for (const b of report.backends) {
      expect(b.available ? b.description : b.reason).toEqual(expect.any(String));
    }
    expect(report.backends[0].available).toBe(true);
  });

  it('rejects unknown options', async () => {
    const c = capture();
    expect(await main(['backends', '--fast'], c.io)).toBe(2);
  });
});

// ------------------------------------------------------------------ every command: help, usage errors, --config

describe('every feddip command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'feddip-cli-all-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), files: await nodeFiles(), stopRequested: () => true });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };

  const COMMANDS = ['simulate', 'serve', 'join', 'dashboard', 'backends', 'report', 'data', 'bench'];

  it('each has --help with examples and the exit codes, and is listed in the main help', async () => {
    const main = await run('help');
    for (const command of COMMANDS) {
      expect(main.out).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
      const r = await run(command, '--help');
      expect(r.code, command).toBe(0);
      expect(r.out, command).toMatch(/Examples:\n {2}(\w+=\S+ )?feddip /);
      expect(r.out, command).toMatch(new RegExp(`Examples:[^]*feddip ${command}`));
      expect(r.out, command).toMatch(/Exit codes:[^]*0 +done[^]*1 +the work failed[^]*2 +bad command line[^]*130 +interrupted/);
    }
    expect(main.out).toMatch(/Exit codes:/);
  });

  it('each exits 2 on a bad command line, with a message that says what was wrong', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['simulate', '--rounds', 'many'], /--rounds expects a number, got 'many'/],
      // Only options that mean "no limit" by it take Infinity.
      [['simulate', '--lr', 'Infinity'], /--lr expects a number, got 'Infinity'/],
      [['simulate', '--regrowth', '-1'], /regrowth must be a number ≥ 0 \(Infinity: no cap\), got -1/],
      [['simulate', '--reentry', 'zero'], /--reentry must be one of cut, memory; got 'zero'/],
      [['serve', '--bogus'], /unknown option --bogus \(try 'feddip serve --help'\)/],
      [['join'], /give exactly one aggregator URL/],
      [['dashboard', '--port', 'x'], /--port expects a number/],
      [['backends', 'wasm'], /unknown argument wasm \(it takes only --json/],
      [['report'], /give at least one run folder/],
      [['data', 'fetch'], /give one data set name/],
      [['bench', 'kernels'], /unexpected argument 'kernels'/],
      [['frobnicate'], /unknown command 'frobnicate' \(commands: simulate, serve, join, dashboard, backends, report, data, bench/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(message);
    }
  });

  it('each command with options takes --config and names an unknown key and the valid ones', async () => {
    const bad = file('bad.json', { rounds: 3, colour: 'blue' });
    const valid: Record<string, RegExp> = {
      simulate: /valid options: dataset, model, method, clients, fraction,.* quiet \(try/,
      serve: /valid options: port, host, dir, tokens, resume,/,
      join: /valid options: token, client-index, clients, dataset,/,
      dashboard: /valid options: port, host, data-dir, quiet \(try/,
      report: /valid options: out, targets, names \(try/,
      bench: /valid options: only, quick, out, list, python \(try/,
    };
    for (const [command, options] of Object.entries(valid)) {
      const r = await run(command, ...(command === 'join' ? ['http://127.0.0.1:1'] : []), '--config', bad);
      expect(r.code, command).toBe(2);
      expect(r.err, command).toMatch(new RegExp(`config file '.*bad\\.json': unknown option '(rounds|colour)'`));
      expect(r.err, command).toMatch(options);
    }
    const data = await run('data', 'where', 'mnist', '--config', file('data.json', { 'cache-dir': '/x', mirror: 'y' }));
    expect(data.code).toBe(2);
    expect(data.err).toMatch(/unknown option 'mirror'; valid options: data-dir, cache-dir, base-url, force \(try/);
  });

  it('explains a config file that is missing, not JSON, not an object, or holds a wrong value', async () => {
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'missing.json'), /cannot read the config file '.*missing\.json' \(.*\); give the path of a JSON file of options/],
      [file('broken.json', '{"rounds": 3,'), /config file '.*broken\.json' is not valid JSON/],
      [file('list.json', [1, 2]), /must hold one JSON object of options, e\.g\. \{"rounds": 50\}/],
      [file('type.json', { rounds: 'many' }), /config file '.*type\.json': --rounds expects a number, got 'many'/],
      [file('null.json', { rounds: null }), /config file '.*null\.json': 'rounds' must be a integer, got null/],
      [file('nested.json', { config: 'other.json' }), /unknown option 'config'/],
    ];
    for (const [path, message] of cases) {
      const r = await run('simulate', '--config', path);
      expect(r.code, path).toBe(2);
      expect(r.err, path).toMatch(message);
    }
    expect((await run('simulate', '--config')).err).toMatch(/--config needs the path of a JSON file/);
  });

  it('takes values from the config file, and flags win over it', async () => {
    const runDir = join(dir, 'run');
    mkdirSync(runDir);
    writeFileSync(join(runDir, 'metrics.jsonl'), [0.5, 0.7, 0.9].map((acc, round) => JSON.stringify({ round, test_acc: acc, sparsity: 0.5, bytes_down_total: 1e6 * (round + 1), bytes_up_total: 0 })).join('\n'));
    const config = file('report.json', { out: join(dir, 'from-config'), targets: '0.6', names: 'A' });
    expect((await run('report', runDir, '--config', config)).code).toBe(0);
    expect(readFileSync(join(dir, 'from-config', 'report.md'), 'utf8')).toMatch(/\| A \| 3 \|.*\| 2 \| 2\.0 \|/);
    const r = await run('report', runDir, '--config', config, '--out', join(dir, 'from-flag'), '--targets', '0.8');
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(dir, 'from-flag', 'report.md'))).toBe(true);
    expect(readFileSync(join(dir, 'from-flag', 'report.md'), 'utf8')).toMatch(/\| A \| 3 \|.*\| 3 \| 3\.0 \|/);
  });
});
