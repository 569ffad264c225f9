// Reading ../shared/fixtures/torch: the manifest and its raw little-endian tensors. File access is
// injected (`FixtureReader`) so the same code runs in Node, Deno and the browser.

export interface TensorSpec {
  file: string;
  dtype: 'float32' | 'int32' | 'uint8';
  shape: number[];
  rtol?: number;
  atol?: number;
}

export interface FixtureCase {
  name: string;
  op: string;
  attrs?: Record<string, unknown>;
  tensors: Record<string, TensorSpec>;
  inputs: string[];
  outputs: string[];
  rtol: number;
  atol: number;
  notes?: string;
}

export interface Manifest {
  format: string;
  generator?: string;
  cases: FixtureCase[];
}

export type FixtureArray = Float32Array | Int32Array | Uint8Array;

/** Reads a file given its path relative to the fixture folder. */
export type FixtureReader = (relativePath: string) => Promise<Uint8Array>;

export async function loadManifest(read: FixtureReader): Promise<Manifest> {
  const text = new TextDecoder().decode(await read('manifest.json'));
  const manifest = JSON.parse(text) as Manifest;
  if (!String(manifest.format).startsWith('feddip-fixtures/')) {
    throw new Error(`manifest.json has format '${manifest.format}', expected feddip-fixtures/…`);
  }
  return manifest;
}

export async function loadTensor(read: FixtureReader, spec: TensorSpec): Promise<FixtureArray> {
  const bytes = await read(spec.file);
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const width = spec.dtype === 'uint8' ? 1 : 4;
  if (bytes.byteLength !== count * width) {
    throw new Error(`${spec.file}: ${bytes.byteLength} bytes, expected ${count * width} for ${spec.dtype}[${spec.shape.join(', ')}]`);
  }
  // Copy into a fresh, aligned buffer (the file's bytes may sit at any offset).
  const copy = bytes.slice().buffer;
  if (spec.dtype === 'float32') return new Float32Array(copy);
  if (spec.dtype === 'int32') return new Int32Array(copy);
  return new Uint8Array(copy);
}

export async function loadTensors(read: FixtureReader, c: FixtureCase, names: string[]): Promise<Record<string, FixtureArray>> {
  const out: Record<string, FixtureArray> = {};
  await Promise.all(names.map(async (n) => {
    const spec = c.tensors[n];
    if (!spec) throw new Error(`case ${c.name}: tensor '${n}' is not in the manifest`);
    out[n] = await loadTensor(read, spec);
  }));
  return out;
}
