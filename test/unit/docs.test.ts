// The API reference (docs/api.md) is generated from the types and doc comments; this keeps the
// committed file identical to what the sources say now, and checks that the generator sees them.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript build script
import { generateApiDocs } from '../../scripts/build-docs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'feddip-docs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('API docs', () => {
  const fresh = generateApiDocs(root) as string;

  it('docs/api.md is up to date with the types (npm run docs regenerates it)', () => {
    const committed = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
    if (committed !== fresh) {
      const a = committed.split('\n');
      const b = fresh.split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      expect.fail(`docs/api.md is out of date from line ${line + 1} ('${a[line] ?? ''}' vs '${b[line] ?? ''}'): run npm run docs and commit it`);
    }
  });

  it('covers the public API with signatures, doc comments and members', () => {
    for (const name of ['createBackend', 'Network', 'fl.simulate', 'fl.TrainingProgress', 'data.loadDataset', 'codec.encodeFrame', 'transport.createAggregator', 'report.buildReport', 'sparse.globalMagnitudeMask']) {
      expect(fresh, name).toMatch(new RegExp(`^#### ${name.replace('.', '\\.')}$`, 'm'));
    }
    expect(fresh).toMatch(/function createBackend\(name\?: BackendName \| 'auto', options\?: BackendOptions\): Promise<Backend>\n```\n\nCreates a backend\./);
    expect(fresh).toMatch(/- `samples: number` — Samples processed so far \(each epoch counts a client's samples again\)\./);
    expect(fresh).not.toMatch(/#private|protected |`run(Linear|Conv|Sgd)\w*\(/); // no implementation hooks or private state
  });

  it('follows the sources: a changed doc comment changes the docs', () => {
    cpSync(join(root, 'src'), join(tmp, 'src'), { recursive: true });
    cpSync(join(root, 'tsconfig.json'), join(tmp, 'tsconfig.json'));
    symlinkSync(join(root, 'node_modules'), join(tmp, 'node_modules'), 'dir');
    const file = join(tmp, 'src', 'fl', 'simulation.ts');
    writeFileSync(file, readFileSync(file, 'utf8').replace('/** Samples the exchange processes when every client has finished. */', '/** A changed comment. */'));
    const changed = generateApiDocs(tmp) as string;
    expect(changed).toMatch(/- `total: number` — A changed comment\./);
    expect(changed.replace('A changed comment.', 'Samples the exchange processes when every client has finished.')).toBe(fresh);
  }, 60_000);
});
