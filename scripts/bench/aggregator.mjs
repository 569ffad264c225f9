// The federation's wire and its aggregator, LeNet-5 (61,706 parameters):
//  • bytes one client costs per round (model down + update up) at 90/95/98/99 % sparsity, fp32 and
//    fp16, against dense fp32 FedAvg (both directions dense);
//  • encode and decode throughput of one 95 % frame;
//  • the aggregator's fold: update frames POSTed to the real handler (token check, body read,
//    decode, finite and norm checks, weighted accumulation, and the round's aggregation when the
//    last one arrives), in updates/s, and the memory (JS heap and typed arrays) it retains while a round is open, at two
//    client counts — it must not grow with the number of clients.
// No PyTorch peer: there is no counterpart to compare with.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const name = 'aggregator';

// A collectable heap gives retained sizes, not whatever garbage happens to be lying around.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
// Typed arrays live outside the JS heap (`external`): count both.
const heapMb = () => { gc(); gc(); const m = process.memoryUsage(); return (m.heapUsed + m.external) / 2 ** 20; };

export async function run({ feddip, quick, timed, add, note }) {
  const { codec, sparse, transport, fl } = feddip;
  const model = feddip.lenet5();
  const layout = model.layout;
  const n = layout.size;
  const hash = layout.hash();
  const segmentSizes = layout.segments.map((s) => s.size);
  const rng = new feddip.Rng(5);
  const normal = (scale = 1) => Float32Array.from({ length: n }, () => scale * rng.normal());
  const all = new Uint8Array(n).fill(1);

  // Random magnitudes put the kept entries at random positions: the index lists cost what they
  // would for an unstructured mask, the worst case for the encoder.
  const weights = normal(0.1);
  const delta = normal(0.01);
  const dense = codec.encodeFrame(weights, { kind: 'model', round: 1, layoutHash: hash, segmentSizes, sent: all }).length
    + codec.encodeFrame(delta, { kind: 'update', round: 1, layoutHash: hash, segmentSizes, sent: all }).length;
  add({ name: 'codec_client_round_bytes_lenet5_dense_fp32', kind: 'codec_bytes', peer: false, threads: 1 }, { value: dense, unit: 'bytes', lowerIsBetter: true });
  for (const s of [0.9, 0.95, 0.98, 0.99]) {
    const mask = sparse.globalMagnitudeMask(weights, layout.segments, s);
    const topk = sparse.globalMagnitudeMask(delta, layout.segments, s);
    for (const fp16 of [false, true]) {
      const bytes = codec.encodeFrame(weights, { kind: 'model', round: 1, layoutHash: hash, segmentSizes, sent: mask, fp16 }).length
        + codec.encodeFrame(delta, { kind: 'update', round: 1, layoutHash: hash, segmentSizes, sent: topk, fp16 }).length;
      const tag = `s${Math.round(s * 100)}_${fp16 ? 'fp16' : 'fp32'}`;
      add({ name: `codec_client_round_bytes_lenet5_${tag}`, kind: 'codec_bytes', peer: false, threads: 1 }, { value: bytes, unit: 'bytes', lowerIsBetter: true });
      add({ name: `codec_dense_over_sparse_lenet5_${tag}`, kind: 'codec_bytes', peer: false, threads: 1 }, { value: dense / bytes, unit: '× smaller' });
    }
  }

  const topk95 = sparse.globalMagnitudeMask(delta, layout.segments, 0.95);
  const frame95 = codec.encodeFrame(delta, { kind: 'update', round: 1, layoutHash: hash, segmentSizes, sent: topk95 });
  const sEncode = timed(() => codec.encodeFrame(delta, { kind: 'update', round: 1, layoutHash: hash, segmentSizes, sent: topk95 }));
  const sDecode = timed(() => codec.decodeFrame(frame95));
  add({ name: 'codec_encode_lenet5_s95', kind: 'codec_speed', peer: false, threads: 1 }, { value: 1 / sEncode, unit: 'frames/s' });
  add({ name: 'codec_decode_lenet5_s95', kind: 'codec_speed', peer: false, threads: 1 }, { value: 1 / sDecode, unit: 'frames/s' });
  note(`codec: a 95 % LeNet-5 update frame is ${frame95.length} bytes (dense fp32 vector: ${4 * n}); codec_*_bytes count one client's model download plus its update upload`);

  // The fold. Every client of the round is selected (fraction 1) and minClients is all of them, so
  // the round closes — aggregates — exactly when the last update arrives.
  const rounds = quick ? 2 : 4;
  for (const clients of quick ? [200, 1000] : [500, 2000]) {
    const tokens = Array.from({ length: clients }, (_, i) => `bench-token-${String(i).padStart(8, '0')}`);
    const agg = await transport.createAggregator({
      layout, initial: normal(0.1), tokens: transport.parseTokens(tokens.join('\n')), rounds: rounds + 1, minClients: clients,
      roundTimeoutMs: 3_600_000, log: () => undefined,
      strategy: fl.createStrategy('feddip', { rounds: rounds + 1, fraction: 1, sparsity: 0.95, initSparsity: 0.95 }),
    });
    const request = (path, token, init = {}) => new Request(`http://aggregator/v1/${path}`, { ...init, headers: { authorization: `Bearer ${token}` } });
    for (const token of tokens) await agg.handle(request('join', token, { method: 'POST' }));
    // A few distinct updates of similar norm (one per client would cost GBs for the bench itself).
    const distinct = 16;
    const rates = [];
    let retained = 0;
    for (let round = 0; round < rounds; round++) {
      const bodies = Array.from({ length: distinct }, () => {
        const u = normal(0.01);
        return codec.encodeFrame(u, { kind: 'update', round, layoutHash: hash, segmentSizes, sent: sparse.globalMagnitudeMask(u, layout.segments, 0.95) });
      });
      while (agg.round !== round || agg.phase !== 'open') await new Promise((r) => setTimeout(r, 1));
      const before = heapMb();
      let paused = 0;
      const t = performance.now();
      for (let c = 0; c < clients; c++) {
        if (c === clients - 1) {
          // What the open round holds with all but one update in: the fold's working memory
          // (measured outside the timing).
          const p = performance.now();
          retained = Math.max(retained, heapMb() - before);
          paused += performance.now() - p;
        }
        const response = await agg.handle(request(`update?client=${c}&round=${round}&samples=${600 + (c % 7)}`, tokens[c], { method: 'POST', body: bodies[c % distinct] }));
        if (response.status !== 202) throw new Error(`bench: update refused: ${response.status} ${await response.text()}`);
      }
      const seconds = (performance.now() - t - paused) / 1000;
      if (agg.round !== round + 1) throw new Error('bench: the round did not close after its last update');
      rates.push(clients / seconds);
    }
    await agg.dispose();
    rates.sort((a, b) => a - b);
    add({ name: `aggregator_fold_lenet5_s95_n${clients}`, kind: 'aggregator_fold', peer: false, threads: 1, clients }, { value: rates[rates.length >> 1], unit: 'updates/s' });
    add({ name: `aggregator_round_heap_lenet5_s95_n${clients}`, kind: 'aggregator_memory', peer: false, threads: 1, clients }, { value: retained, unit: 'MiB', lowerIsBetter: true });
  }
  note('aggregator_fold: updates POSTed in-process to the aggregator handler (Request objects, no sockets), median over rounds; aggregator_round_heap: heap retained by an open round holding all but one of its updates (after GC)');
}
