// The data room under Deno, run by test/unit/data-fetch.test.ts: fetch from the test's local
// server (which cuts the first image download short), load, partition and augment, then print one
// JSON line that the test compares with the same work done in Node.
// Usage: deno run --allow-read --allow-write --allow-net=127.0.0.1 deno-data.mjs WORKDIR BASEURL
import * as data from '../../src/data/index.ts';
import { Rng } from '../../src/util/rng.ts';

const [work, baseUrl] = Deno.args;
const spec = JSON.parse(await Deno.readTextFile(`${work}/spec.json`));
const fetched = await data.fetchDataset(spec, { cacheDir: `${work}/cache`, baseUrl, retryDelayMs: 5 });
const { train, test } = await data.loadDataset(spec, { dataDir: `${work}/cache`, env: {}, systemDirs: [] });
const parts = data.partition(train.labels, 7, 'dirichlet:0.5', new Rng(11));
const batch = train.images.slice(0, 4 * 784);
data.augmentBatch(batch, train.shape, new Rng(5), { padding: 2 });
let notFound = '';
try {
  await data.locateDataset('cifar10', { env: {}, systemDirs: [] });
} catch (error) {
  notFound = `${error.name} ${error.code}`;
}
console.log(JSON.stringify({
  downloaded: fetched.downloaded.length,
  sizes: [train.size, test.size],
  testLabels: Array.from(test.labels),
  parts: parts.map((p) => Array.from(p)),
  augmented: await data.sha256Hex(new Uint8Array(batch.buffer)),
  notFound,
}));
