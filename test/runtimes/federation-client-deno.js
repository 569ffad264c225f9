// Deno entry: deno run --allow-net --allow-read --allow-env federation-client-deno.js <url> <token> <seed>
import * as feddip from '../../dist/feddip.js';
import { runFederationClient } from './federation-client.js';

const [url, token, seed] = Deno.args;
const summary = await runFederationClient(feddip, { url, token, seed: Number(seed) });
console.log(JSON.stringify(summary));
