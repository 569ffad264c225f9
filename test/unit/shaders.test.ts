// The WGSL sources as the WebGPU backend registers them: each shader file behind the includes it
// uses (shaders/include/), each include once, and every composed source compiling on its own into
// a pipeline — so a shader that loses an include, or gets one twice, fails here by name rather
// than deep inside a kernel test.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '../../src/index.ts';
import { openDevice } from '../../src/backend/webgpu/device.ts';
import { SHADERS, WORKGROUP_1D } from '../../src/backend/webgpu/shaders.ts';

const includeDir = join(import.meta.dirname, '..', '..', 'shaders', 'include');
const includes = Object.fromEntries(readdirSync(includeDir).map((f) => [f, readFileSync(join(includeDir, f), 'utf8')]));
/** Whether a source (a shader body, with the includes it needs so far) uses what an include declares. */
const ownParams = (code: string) => /\bstruct Params\b/.test(code);
// First the include that declares a Params of its own: the uniform-block includes then see it.
const USES: Record<string, (code: string) => boolean> = {
  // The fused shaders are bindings only: the include declares their Params and the entry point.
  'conv2d_pooled.wgsl': (code) => !/\bfn main\(/.test(code),
  // One convolution output (conv_at), for the shader's dense or CSR weight bindings.
  'conv2d_at.wgsl': (code) => /\bconv_at\(/.test(code) && /var<storage, read> w:/.test(code),
  'sparse_conv2d_at.wgsl': (code) => /\bconv_at\(/.test(code) && /var<storage, read> row_ptr:/.test(code),
  'grid1d.wgsl': (code) => /\bindex_1d\(|\bWORKGROUP_1D\b/.test(code),
  'float_bits.wgsl': (code) => /\b(is_nan|relu)\(/.test(code),
  'conv2d_params.wgsl': (code) => /\bu\.(in_c|k_h|out_c)\b/.test(code) && !ownParams(code),
  'pool2d_params.wgsl': (code) => /\bu\.(kernel_h|kernel_w)\b/.test(code) && !ownParams(code),
};
const withoutIncludes = (code: string) => Object.values(includes).reduce((c, inc) => c.split(inc).join(''), code);
/** The includes a body needs: those it uses, and those the needed includes use in turn. */
function neededIncludes(body: string): Set<string> {
  const needed = new Set<string>();
  let text = body;
  for (let grew = true; grew;) {
    grew = false;
    for (const [file, uses] of Object.entries(USES)) {
      if (needed.has(file) || !uses(text)) continue;
      needed.add(file);
      text += `\n${includes[file]!}`;
      grew = true;
    }
  }
  return needed;
}

describe('shader sources', () => {
  it('knows what every include declares', () => {
    expect(Object.keys(includes).sort()).toEqual(Object.keys(USES).sort());
  });

  it('give every shader the includes it uses, each once, and no others', () => {
    for (const [name, code] of Object.entries(SHADERS)) {
      const needed = neededIncludes(withoutIncludes(code));
      for (const [file, text] of Object.entries(includes)) {
        const copies = code.split(text).length - 1;
        expect(copies, `${name}: copies of include/${file}`).toBe(needed.has(file) ? 1 : 0);
      }
    }
  });

  it('index 1-D workloads in one place, with the workgroup size the host dispatches for', () => {
    expect(includes['grid1d.wgsl']).toContain(`const WORKGROUP_1D: u32 = ${WORKGROUP_1D}u;`);
    for (const [name, code] of Object.entries(SHADERS)) {
      expect(withoutIncludes(code), name).not.toMatch(/gid\.y \* groups\.x/);
    }
  });

  it('each compile into a compute pipeline', async (ctx) => {
    let opened;
    try {
      opened = await openDevice();
    } catch (error) {
      if (!(error instanceof BackendUnavailableError) || process.env.FEDDIP_REQUIRE_WEBGPU === '1') throw error;
      return ctx.skip(`webgpu unavailable: ${error.reason}`);
    }
    const { device } = opened;
    try {
      const failures: string[] = [];
      for (const [name, code] of Object.entries(SHADERS)) {
        device.pushErrorScope('validation');
        const module = device.createShaderModule({ code, label: name });
        device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name });
        const error = await device.popErrorScope();
        if (error) failures.push(`${name}: ${error.message}`);
      }
      expect(failures).toEqual([]);
    } finally {
      device.destroy();
    }
  });
});
