// The trained model the FedDIP-round bench starts its 95 % round from (scripts/bench/fl-round.mjs):
// it must ship, decode to LeNet-5's parameters, and really be a 95 % FedDIP model with every layer
// alive — the bench's figure depends on it (a model pruned from initial weights has an empty fc1).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { codec, lenet5 } from '../../src/index.ts';
// @ts-expect-error: a plain .mjs script without types
import { TRAINED_95 } from '../../scripts/bench/fl-round.mjs';

const root = new URL('../../', import.meta.url);

describe('the FedDIP-round bench model', () => {
  it('ships with the package', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { files: string[] };
    expect(pkg.files.some((f) => TRAINED_95 === f || (TRAINED_95 as string).startsWith(`${f}/`))).toBe(true);
  });

  it('is LeNet-5 at 95 % with weights kept in every prunable layer', () => {
    const values = codec.decodeFrame(new Uint8Array(readFileSync(new URL(TRAINED_95, root)))).values;
    const model = lenet5();
    expect(values.length).toBe(model.layout.size);
    let kept = 0, total = 0;
    for (const s of model.layout.segments.filter((seg) => seg.prunable)) {
      let nz = 0;
      for (let i = s.offset; i < s.offset + s.size; i++) if (values[i] !== 0) nz++;
      expect(nz, `${s.name} keeps weights`).toBeGreaterThan(0);
      kept += nz; total += s.size;
    }
    expect(1 - kept / total).toBeCloseTo(0.95, 3);
  });
});
