// Line charts as standalone SVG documents: one line per run, nice axis ticks, a legend. Pure string
// building — no DOM — so reports render the same from Node, Deno or a browser.

export interface Series {
  label: string;
  points: Array<[number, number]>;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Format of y tick labels (e.g. percent). */
  yFormat?: (v: number) => string;
  xFormat?: (v: number) => string;
  /** x counts something (rounds): only whole-number ticks, never "1.2". */
  xInteger?: boolean;
  /** Force the y range (e.g. [0, 1] for accuracy) — by default it fits the data. */
  yRange?: [number, number];
  width?: number;
  height?: number;
}

// A palette that stays distinguishable for colour-blind readers (Okabe–Ito).
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];

// Past the eight colours, lines repeat them dashed, then dotted, so that every line stays distinct.
const DASHES = ['', ' stroke-dasharray="7 4"', ' stroke-dasharray="2 3"'];

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About `count` round-number ticks covering [lo, hi] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

export function lineChart(series: readonly Series[], o: ChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const m = { left: 64, right: 16 + 0, top: 40, bottom: 52 };
  const legendWidth = Math.min(260, 48 + 7.5 * Math.max(0, ...series.map((s) => s.label.length)));
  const plotW = width - m.left - m.right - legendWidth;
  const plotH = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = o.yRange ?? (ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1]);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  // A little headroom so lines do not run along the frame.
  if (!o.yRange) { const pad = 0.04 * (y1 - y0); y0 -= pad; y1 += pad; }
  const xt = o.xInteger ? niceTicks(x0, x1).filter(Number.isInteger) : niceTicks(x0, x1);
  const yt = niceTicks(y0, y1);
  x0 = Math.min(x0, xt[0]!); x1 = Math.max(x1, xt[xt.length - 1]!);
  if (!o.yRange) { y0 = Math.min(y0, yt[0]!); y1 = Math.max(y1, yt[yt.length - 1]!); }
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * plotW;
  const py = (y: number) => m.top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const fx = o.xFormat ?? ((v: number) => String(v));
  const fy = o.yFormat ?? ((v: number) => String(v));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="${m.left}" y="24" font-size="15" font-weight="600">${escape(o.title)}</text>`);
  for (const t of yt) {
    if (t < y0 - 1e-12 || t > y1 + 1e-12) continue;
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end" fill="#444">${escape(fy(t))}</text>`);
  }
  for (const t of xt) {
    parts.push(`<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${m.top + plotH}" y2="${m.top + plotH + 4}" stroke="#444"/>`);
    parts.push(`<text x="${px(t).toFixed(1)}" y="${m.top + plotH + 18}" text-anchor="middle" fill="#444">${escape(fx(t))}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escape(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(o.yLabel)}</text>`);
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const dash = DASHES[Math.floor(i / COLOURS.length) % DASHES.length]!;
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length) {
      const d = pts.map(([x, y], k) => `${k ? 'L' : 'M'}${px(x).toFixed(1)},${py(Math.min(y1, Math.max(y0, y))).toFixed(1)}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.8"${dash}><title>${escape(s.label)}</title></path>`);
    }
    const ly = m.top + 10 + i * 18;
    const lx = m.left + plotW + 14;
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="3"${dash}/>`);
    parts.push(`<text x="${lx + 24}" y="${ly + 4}">${escape(s.label)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
