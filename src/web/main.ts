// The dashboard page: runs a federated simulation here (clients train in web workers, so the page
// stays responsive) or watches a live aggregator through its /v1 API, and draws the same charts
// either way. State lives on <body data-state> (idle, running, done, error) for people and tests.
import type { Backend, BackendName } from '../backend/backend.ts';
import { createBackend } from '../backend/registry.ts';
import type { DataSplits } from '../data/dataset.ts';
import { partition } from '../data/partition.ts';
import { createStrategy } from '../fl/methods.ts';
import { simulate, type RoundMetrics } from '../fl/simulation.ts';
import { initParameters } from '../nn/init.ts';
import { modelByName } from '../nn/models.ts';
import { canShareMemory } from '../platform/worker.ts';
import { lineChart, type Series } from '../report/chart.ts';
import type { RoundRecord, StatusReply } from '../transport/protocol.ts';
import { Rng } from '../util/rng.ts';
import { drawHeatmap, maskDensityRows } from './heatmap.ts';
import { idxFromFiles, idxFromUrl, limit } from './sources.ts';
import { syntheticDataset } from './synthetic.ts';

const HEATMAP_CELLS = 96;

const el = <T extends HTMLElement = HTMLElement>(id: string) => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`dashboard: #${id} is missing from the page`);
  return e as T;
};

const simulateForm = el<HTMLFormElement>('simulate-form');
const watchForm = el<HTMLFormElement>('watch-form');
const progressText = el('progress-text');
const progressBar = el('progress-bar');
const heatmapNote = el('heatmap-note').textContent;

type State = 'idle' | 'running' | 'done' | 'error';
const setState = (s: State) => { document.body.dataset.state = s; };
const say = (line: string, fraction?: number) => {
  progressText.textContent = line;
  if (fraction !== undefined) progressBar.style.width = `${(100 * Math.min(1, Math.max(0, fraction))).toFixed(1)}%`;
};
const fail = (error: unknown) => {
  setState('error');
  say(`Error: ${(error as Error)?.message ?? String(error)}`);
  console.error(error);
};

const pct = (v: number) => `${(100 * v).toFixed(v > 0 && v < 0.1 ? 1 : 0)} %`;
const mb = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);

// ------------------------------------------------------------------ charts and tiles

interface View {
  round: string;
  qualityLabel: string;
  quality: string;
  sparsity: string;
  bytes: string;
  qualityChart: { title: string; yLabel: string; series: Series[]; percent: boolean };
  sparsitySeries: Series[];
  bytesSeries: Series[];
}

function render(v: View): void {
  el('tile-round').textContent = v.round;
  el('tile-quality-label').textContent = v.qualityLabel;
  el('tile-quality').textContent = v.quality;
  el('tile-sparsity').textContent = v.sparsity;
  el('tile-bytes').textContent = v.bytes;
  const size = { width: 520, height: 300 };
  const q = v.qualityChart;
  // lineChart builds the SVG from numbers and escaped labels only, so it is safe as markup.
  el('chart-quality').innerHTML = lineChart(q.series, {
    ...size, title: q.title, xLabel: 'round', xInteger: true, yLabel: q.yLabel, ...(q.percent ? { yFormat: pct, yRange: [0, 1] as [number, number] } : {}),
  });
  el('chart-sparsity').innerHTML = lineChart(v.sparsitySeries, {
    ...size, title: 'Sparsity', xLabel: 'round', xInteger: true, yLabel: 'share of prunable weights at 0', yFormat: pct, yRange: [0, 1],
  });
  el('chart-bytes').innerHTML = lineChart(v.bytesSeries, {
    ...size, title: 'Communication per round', xLabel: 'round', yLabel: 'megabytes (all clients)', xInteger: true,
    // From zero: the drop pruning buys is the point of this chart, and a fitted axis would hide it.
    yRange: [0, 1.08 * Math.max(1e-3, ...v.bytesSeries.flatMap((s) => s.points.map(([, y]) => y)))],
  });
}

const points = <T>(rows: readonly T[], x: (r: T) => number, y: (r: T) => number): Array<[number, number]> => rows.map((r) => [x(r), y(r)]);

function simulationView(h: readonly RoundMetrics[], rounds: number): View {
  const last = h[h.length - 1];
  const x = (m: RoundMetrics) => m.round + 1;
  return {
    round: last ? `${last.round + 1} / ${rounds}` : '—',
    qualityLabel: 'Test accuracy',
    quality: last ? `${(100 * last.test_acc).toFixed(2)} %` : '—',
    sparsity: last ? `${(100 * last.sparsity).toFixed(1)} %` : '—',
    bytes: last ? mb(last.bytes_down_total + last.bytes_up_total) : '—',
    qualityChart: {
      title: 'Test accuracy of the deployed model', yLabel: 'top-1 accuracy', percent: true,
      series: [{ label: 'top-1', points: points(h, x, (m) => m.test_acc) }, { label: 'top-5', points: points(h, x, (m) => m.test_top5) }],
    },
    sparsitySeries: [
      { label: 'measured', points: points(h, x, (m) => m.sparsity) },
      { label: 'target', points: points(h, x, (m) => m.target_sparsity) },
    ],
    bytesSeries: [
      { label: 'down', points: points(h, x, (m) => m.bytes_down / 1e6) },
      { label: 'up', points: points(h, x, (m) => m.bytes_up / 1e6) },
    ],
  };
}

function watchView(status: StatusReply, h: readonly RoundRecord[]): View {
  const last = h[h.length - 1];
  const x = (r: RoundRecord) => r.round + 1;
  const total = h.reduce((s, r) => s + r.bytesDown + r.bytesUp, 0);
  const losses = h.filter((r) => r.trainLoss !== null);
  return {
    round: `${Math.min(status.round + (status.phase === 'finished' ? 0 : 1), status.rounds)} / ${status.rounds}`,
    qualityLabel: 'Training loss',
    quality: last?.trainLoss != null ? last.trainLoss.toFixed(4) : '—',
    sparsity: last ? `${(100 * last.targetSparsity).toFixed(1)} % (target)` : '—',
    bytes: mb(total),
    qualityChart: {
      // The aggregator holds no test set: clients report their mean local loss instead.
      title: 'Mean local training loss', yLabel: 'cross-entropy + penalty', percent: false,
      series: [{ label: 'train loss', points: points(losses, x, (r) => r.trainLoss!) }],
    },
    sparsitySeries: [{ label: 'target', points: points(h, x, (r) => r.targetSparsity) }],
    bytesSeries: [
      { label: 'down', points: points(h, x, (r) => r.bytesDown / 1e6) },
      { label: 'up', points: points(h, x, (r) => r.bytesUp / 1e6) },
    ],
  };
}

// ------------------------------------------------------------------ simulate here

let stopSimulation = false;

function numberField(form: HTMLFormElement, name: string, { integer = false, min = -Infinity, max = Infinity } = {}): number {
  const input = form.elements.namedItem(name) as HTMLInputElement;
  const v = Number(input.value);
  if (input.value.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    input.focus();
    throw new Error(`${input.parentElement?.querySelector('span')?.textContent?.trim() ?? name} must be ${integer ? 'a whole number' : 'a number'}${min > -Infinity ? ` ≥ ${min}` : ''}${max < Infinity ? ` and ≤ ${max}` : ''}; got '${input.value}'`);
  }
  return v;
}

const field = (form: HTMLFormElement, name: string) => (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value;

async function loadData(form: HTMLFormElement, train: number, test: number, seed: number): Promise<DataSplits> {
  const source = field(form, 'source');
  if (source === 'synthetic') return syntheticDataset({ train, test, seed });
  const splits = source === 'url'
    ? await idxFromUrl(field(form, 'url').trim() || '/data/', location.href)
    : await idxFromFiles((form.elements.namedItem('files') as HTMLInputElement).files ?? []);
  return limit(splits, train, test, new Rng(seed).fork('limit'));
}

async function runSimulation(): Promise<void> {
  const f = simulateForm;
  const o = {
    train: numberField(f, 'train', { integer: true, min: 10 }), test: numberField(f, 'test', { integer: true, min: 10 }),
    clients: numberField(f, 'clients', { integer: true, min: 1 }), fraction: numberField(f, 'fraction', { min: 0.001, max: 1 }),
    rounds: numberField(f, 'rounds', { integer: true, min: 1 }), localEpochs: numberField(f, 'epochs', { integer: true, min: 1 }),
    batch: numberField(f, 'batch', { integer: true, min: 1 }), lr: numberField(f, 'lr', { min: 0 }),
    reconfig: numberField(f, 'reconfig', { integer: true, min: 1 }), sparsity: numberField(f, 'sparsity', { min: 0, max: 0.999 }),
    initSparsity: numberField(f, 'initSparsity', { min: 0, max: 0.999 }), threads: numberField(f, 'threads', { integer: true, min: 1 }),
    seed: numberField(f, 'seed', { integer: true, min: 0 }),
  };
  const rng = new Rng(o.seed);
  say('Loading the data…', 0);
  const data = await loadData(f, o.train, o.test, o.seed);
  const model = modelByName(field(f, 'model'), data.train.classes);
  if (data.train.shape.join('×') !== model.inputShape.join('×')) {
    throw new Error(`${model.name} takes ${model.inputShape.join('×')} inputs; these images are ${data.train.shape.join('×')}`);
  }
  const method = field(f, 'method');
  const strategy = createStrategy(method, {
    rounds: o.rounds, fraction: o.fraction, lr: o.lr, lrDecay: 0.998, localEpochs: o.localEpochs, batch: o.batch,
    sparsity: o.sparsity, initSparsity: Math.min(o.initSparsity, o.sparsity), reconfig: o.reconfig,
  });
  const parts = partition(data.train.labels, o.clients, field(f, 'partition').trim() || 'iid', rng.fork('partition'));
  const perRound = Math.max(1, Math.min(o.clients, Math.round(o.fraction * o.clients)));
  const threads = Math.min(o.threads, perRound);
  let backend: Backend | undefined;
  try {
    backend = await createBackend(field(f, 'backend') as BackendName);
    say(`Starting ${threads} training worker${threads > 1 ? 's' : ''} (${backend.description})…`, 0);
    const init = rng.fork('init');
    const history: RoundMetrics[] = [];
    let done = 0;
    const started = performance.now();
    const progress = () => {
      const r = history.length;
      say(`Round ${r + 1} of ${o.rounds}: ${done} of ${perRound} client${perRound > 1 ? 's' : ''} trained`, (r + done / (perRound + 1)) / o.rounds);
    };
    progress();
    for await (const m of simulate({
      model, backend, strategy, rounds: o.rounds, rng, threads, workers: true,
      initial: initParameters(model.layout, () => init.uniform()),
      train: data.train,
      test: { images: data.test.images, labels: data.test.labels, sampleSize: data.test.images.length / data.test.size },
      partitions: parts,
      onStep: () => { done++; progress(); },
    })) {
      history.push(m);
      done = 0;
      render(simulationView(history, o.rounds));
      const rows = maskDensityRows(model.layout, strategy.deployed().mask, HEATMAP_CELLS);
      drawHeatmap(el<HTMLCanvasElement>('heatmap'), rows, HEATMAP_CELLS);
      const seconds = (performance.now() - started) / 1000;
      const eta = (seconds / history.length) * (o.rounds - history.length);
      if (history.length < o.rounds && !stopSimulation) progress();
      progressText.textContent += ` · last round: accuracy ${(100 * m.test_acc).toFixed(2)} %, ${m.seconds.toFixed(1)} s${history.length < o.rounds ? ` · about ${eta.toFixed(0)} s left` : ''}`;
      if (stopSimulation) break;
    }
    const last = history[history.length - 1];
    say(`${stopSimulation ? 'Stopped' : 'Done'} after ${history.length} of ${o.rounds} rounds: accuracy ${last ? (100 * last.test_acc).toFixed(2) : '—'} %, sparsity ${last ? (100 * last.sparsity).toFixed(1) : '—'} %, ${last ? mb(last.bytes_down_total + last.bytes_up_total) : '—'} on the wire, ${((performance.now() - started) / 1000).toFixed(1)} s.`, history.length / o.rounds);
  } finally {
    backend?.dispose();
  }
}

// ------------------------------------------------------------------ watch an aggregator

let watching: { stop(): void } | undefined;

async function getJson<T>(url: URL, token: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  } catch (error) {
    throw new Error(`could not reach ${url.origin} (${(error as Error).message}): the aggregator must be up, and on this page's origin — open the dashboard it serves at ${url.origin}/`);
  }
  if (response.status === 401) throw new Error('the aggregator refused the token (401): use one from its tokens file');
  if (!response.ok) {
    const body = await response.text().catch(() => '');
    throw new Error(`${url.pathname}: HTTP ${response.status} ${body.slice(0, 200)}`);
  }
  return (await response.json()) as T;
}

function startWatch(): void {
  const base = new URL(field(watchForm, 'url').trim() || '/', location.href);
  const token = field(watchForm, 'token');
  const interval = 1000 * numberField(watchForm, 'interval', { min: 0.2 });
  if (!token) throw new Error('enter a client token: the aggregator answers only authenticated requests');
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => { stopped = true; clearTimeout(timer); el<HTMLButtonElement>('unwatch').disabled = true; el<HTMLButtonElement>('watch').disabled = false; };
  watching = { stop };
  el<HTMLButtonElement>('unwatch').disabled = false;
  el<HTMLButtonElement>('watch').disabled = true;
  el('heatmap-note').textContent = 'The aggregator\'s API does not publish the mask; the heat-map is drawn in "Simulate here" mode.';
  el<HTMLCanvasElement>('heatmap').hidden = true;
  setState('running');
  say(`Connecting to ${base.origin}…`, 0);
  const tick = async () => {
    try {
      const [status, metrics] = await Promise.all([
        getJson<StatusReply>(new URL('/v1/status', base), token),
        getJson<RoundRecord[]>(new URL('/v1/metrics', base), token),
      ]);
      if (stopped) return;
      render(watchView(status, metrics));
      const deadline = status.deadline ? ` · closes in ${Math.max(0, Math.round((status.deadline - Date.now()) / 1000))} s${status.deadlineExtended ? ' (extended)' : ''}` : '';
      const phase = status.phase === 'finished' ? `finished after ${status.rounds} rounds`
        : status.phase === 'waiting' ? `waiting for clients (${status.joined} joined, ${status.minClients} needed)`
          : `round ${status.round + 1} of ${status.rounds} ${status.phase}: ${status.received} update${status.received === 1 ? '' : 's'} from ${status.selected.length} selected${deadline}`;
      say(`${base.origin} · ${status.method} · ${phase} · ${metrics.length} round${metrics.length === 1 ? '' : 's'} closed`, metrics.length / status.rounds);
      if (status.phase === 'finished') { stop(); setState('done'); return; }
    } catch (error) {
      stop();
      fail(error);
      return;
    }
    if (!stopped) timer = setTimeout(() => void tick(), interval);
  };
  void tick();
}

// ------------------------------------------------------------------ wiring

function selectTab(which: 'simulate' | 'watch'): void {
  el('tab-simulate').setAttribute('aria-selected', String(which === 'simulate'));
  el('tab-watch').setAttribute('aria-selected', String(which === 'watch'));
  simulateForm.hidden = which !== 'simulate';
  watchForm.hidden = which !== 'watch';
}

function showSourceFields(): void {
  const source = field(simulateForm, 'source');
  for (const e of simulateForm.querySelectorAll<HTMLElement>('[data-source]')) e.hidden = e.dataset.source !== source;
}

el('tab-simulate').addEventListener('click', () => selectTab('simulate'));
el('tab-watch').addEventListener('click', () => selectTab('watch'));
(simulateForm.elements.namedItem('source') as HTMLSelectElement).addEventListener('change', showSourceFields);
showSourceFields();

simulateForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (document.body.dataset.state === 'running') return;
  watching?.stop();
  stopSimulation = false;
  setState('running');
  el<HTMLCanvasElement>('heatmap').hidden = false;
  el('heatmap-note').textContent = heatmapNote;
  el<HTMLButtonElement>('start').disabled = true;
  el<HTMLButtonElement>('stop').disabled = false;
  runSimulation().then(() => setState('done'), fail).finally(() => {
    el<HTMLButtonElement>('start').disabled = false;
    el<HTMLButtonElement>('stop').disabled = true;
  });
});
el('stop').addEventListener('click', () => {
  stopSimulation = true;
  say(`${progressText.textContent ?? ''} · stopping after this round…`);
});

watchForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (document.body.dataset.state === 'running') return;
  try { startWatch(); } catch (error) { fail(error); }
});
el('unwatch').addEventListener('click', () => { watching?.stop(); setState('idle'); say('Stopped watching.'); });

// ?watch=<url> opens the watch tab on that aggregator (what `feddip serve` links to); ?data=<url>
// preselects IDX files at a URL (what `feddip dashboard --data-dir` links to).
const params = new URLSearchParams(location.search);
const watchParam = params.get('watch');
if (watchParam !== null) {
  selectTab('watch');
  (watchForm.elements.namedItem('url') as HTMLInputElement).value = watchParam || '/';
  say('Enter a client token of this aggregator and press Watch.');
}
const dataParam = params.get('data');
if (dataParam !== null) {
  (simulateForm.elements.namedItem('source') as HTMLSelectElement).value = 'url';
  (simulateForm.elements.namedItem('url') as HTMLInputElement).value = dataParam;
  showSourceFields();
}
const cores = navigator.hardwareConcurrency || 1;
(simulateForm.elements.namedItem('threads') as HTMLInputElement).value = String(Math.max(1, Math.min(4, cores)));
el('env').textContent = `${cores} logical core${cores > 1 ? 's' : ''} · ${canShareMemory() ? 'cross-origin isolated: workers share the data' : 'not cross-origin isolated: each worker gets a copy of the data'} · WebGPU ${'gpu' in navigator ? 'present' : 'absent'}`;
render(simulationView([], 0));
