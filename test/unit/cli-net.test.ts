// `feddip serve` / `feddip join` on the command line: usage errors exit 2 naming the problem; a
// server started on a free port checkpoints nothing before a round, stops on request, writes the model.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { nodeFiles } from '../../src/cli/io.ts';

const dir = mkdtempSync(join(tmpdir(), 'feddip-cli-net-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tokens = join(dir, 'tokens.txt');
writeFileSync(tokens, 'aaaaaaaaaaaaaaaa-1\nbbbbbbbbbbbbbbbb-2\n');

async function run(args: string[], stop = () => false) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), files: await nodeFiles(), stopRequested: stop });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('feddip serve / join', () => {
  it('explain bad usage with exit code 2', async () => {
    expect(await run(['serve', '--tokens', tokens])).toMatchObject({ code: 2, err: expect.stringMatching(/--dir is required/) });
    expect(await run(['serve', '--dir', dir, '--tokens', tokens, '--min-clients', '3'])).toMatchObject({ code: 2, err: expect.stringMatching(/names only 2/) });
    expect(await run(['join'])).toMatchObject({ code: 2, err: expect.stringMatching(/exactly one aggregator URL/) });
    expect(await run(['join', 'http://127.0.0.1:1', '--token', 'x'.repeat(16), '--client-index', '4', '--clients', '2'])).toMatchObject({ code: 2, err: expect.stringMatching(/client-index must be in 0 … 1/) });
    expect((await run(['serve', '--help'])).out).toMatch(/--round-timeout <n>/);
    expect((await run(['join', '--help'])).out).toMatch(/FEDDIP_TOKEN/);
  });

  it('serves on a free port until asked to stop, then writes the model', async () => {
    const out = join(dir, 'serve');
    let stop = false;
    const running = run(['serve', '--dir', out, '--tokens', tokens, '--port', '0', '--model', 'mlp', '--rounds', '5'], () => stop);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    const r = await running;
    expect(r.code, r.err).toBe(130);
    expect(r.out).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(readFileSync(join(out, 'model.fdip')).subarray(0, 4).toString()).toBe('FDIP');
    expect(existsSync(join(out, 'aggregator.ckpt'))).toBe(false); // no round closed
  });
});
