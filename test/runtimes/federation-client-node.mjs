// Node entry, a client in a process of its own (so a test can SIGKILL it):
//   node federation-client-node.mjs <url> <token> <seed> [--hang-on-task] [--max-rounds N]
// Prints {"task": R} when a task arrives and the summary as the last line. --hang-on-task stops
// there for good, like a client whose machine froze in the middle of training.
import * as feddip from '../../dist/feddip.js';
import { runFederationClient } from './federation-client.js';

const [url, token, seed, ...flags] = process.argv.slice(2);
const at = flags.indexOf('--max-rounds');
const summary = await runFederationClient(feddip, {
  url, token, seed: Number(seed),
  ...(at >= 0 ? { maxRounds: Number(flags[at + 1]) } : {}),
  onTask: async (info) => {
    console.log(JSON.stringify({ task: info.round }));
    if (flags.includes('--hang-on-task')) await new Promise(() => setInterval(() => undefined, 1000));
  },
});
console.log(JSON.stringify(summary));
