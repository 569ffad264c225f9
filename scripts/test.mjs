// `npm test`: builds, then runs the one test suite in every runtime — Node (vitest: unit tests and
// conformance), Deno and headless Chromium — and ends with one tally line for all of them.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npmCli = process.env.npm_execpath;

/** Runs a command, echoing its output; resolves with the exit code and the captured stdout. */
function run(cmd, args, env = {}) {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
    child.on('close', (code) => resolvePromise({ code: code ?? 1, out }));
  });
}

const legs = [];
const section = (title) => console.log(`\n=== ${title} ===`);

section('build');
const build = npmCli
  ? await run(process.execPath, [npmCli, 'run', 'build'])
  : await run('npm', ['run', 'build']);
if (build.code !== 0) {
  console.log('build failed: nothing was tested');
  console.log('total: 0 passed, 1 failed');
  process.exit(1);
}

section('typecheck (src and tests)');
const typecheck = await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.test.json', '--noEmit']);
legs.push({ name: 'types', code: typecheck.code, pass: typecheck.code === 0 ? 1 : 0, fail: typecheck.code === 0 ? 0 : 1, skip: 0 });

section('node (vitest)');
mkdirSync(join(root, 'build', 'test'), { recursive: true });
const vitestReport = join(root, 'build', 'test', 'vitest.json');
const vitest = await run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run',
  '--reporter=default', '--reporter=json', `--outputFile.json=${vitestReport}`]);
try {
  const r = JSON.parse(readFileSync(vitestReport, 'utf8'));
  legs.push({ name: 'node', code: vitest.code, pass: r.numPassedTests, fail: r.numFailedTests + (vitest.code !== 0 && r.numFailedTests === 0 ? 1 : 0), skip: r.numPendingTests + r.numTodoTests });
} catch {
  legs.push({ name: 'node', code: vitest.code, pass: 0, fail: 1, skip: 0 });
}

for (const [name, script] of [['deno', 'scripts/test-deno.mjs'], ['chromium', 'scripts/test-chromium.mjs']]) {
  section(name);
  const leg = await run(process.execPath, [join(root, script)]);
  const line = leg.out.split('\n').find((l) => l.startsWith('FEDDIP_TALLY '));
  const t = line ? JSON.parse(line.slice('FEDDIP_TALLY '.length)) : undefined;
  legs.push(t
    ? { name, code: leg.code, pass: t.pass, fail: t.fail + (leg.code !== 0 && t.fail === 0 ? 1 : 0), skip: t.skip + t['not-implemented'] }
    : { name, code: leg.code, pass: 0, fail: 1, skip: 0 });
}

section('summary');
for (const l of legs) console.log(`${l.name.padEnd(9)} ${l.pass} passed, ${l.fail} failed, ${l.skip} skipped or not implemented${l.code ? ` (exit ${l.code})` : ''}`);
const sum = (k) => legs.reduce((s, l) => s + l[k], 0);
console.log(`total: ${sum('pass')} passed, ${sum('fail')} failed, ${sum('skip')} skipped`);
process.exit(legs.some((l) => l.code !== 0 || l.fail > 0) ? 1 : 0);
