// One federation client, the same code in Deno and in a browser page: a tiny MLP on a synthetic
// share (noise plus one bright row per label), trained with transport.runClient over fetch.
// Used by test/unit/transport-runtimes.test.ts and transport-e2e.test.ts; `feddip` is the built
// package of the runtime; `extra` goes to runClient as it is (onTask, maxRounds, …).
export async function runFederationClient(feddip, { url, token, seed, ...extra }) {
  const rng = new feddip.Rng(seed);
  const n = 64;
  const labels = Int32Array.from({ length: n }, () => rng.int(4));
  const images = Float32Array.from({ length: n * 25 }, () => 0.2 * rng.uniform());
  labels.forEach((label, i) => images.fill(1, i * 25 + label * 5, i * 25 + label * 5 + 5));
  const backend = await feddip.createBackend('wasm');
  try {
    return await feddip.transport.runClient(url, {
      token, seed, model: feddip.mlp(4, [1, 5, 5], 12), backend, backoffMs: 20, maxBackoffMs: 200, giveUpAfterMs: 30_000,
      data: { images, labels, sampleSize: 25, indices: Int32Array.from({ length: n }, (_, i) => i) },
      ...extra,
    });
  } finally {
    backend.dispose();
  }
}
