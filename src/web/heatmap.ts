// The mask heat-map: one row per prunable layer, each row the layer's flattened weight cut into
// equal blocks, each cell the fraction of weights the mask keeps in its block. The numbers are a
// pure function (tested in Node); drawing goes to a 2-D canvas.
import { InvalidArgumentError } from '../errors.ts';
import type { ParamLayout } from '../nn/layout.ts';

export interface MaskRow {
  name: string;
  /** Weights in the layer. */
  size: number;
  /** Fraction kept over the whole layer. */
  density: number;
  /** Fraction kept per block; the last block may hold fewer weights than the others. */
  cells: Float32Array;
}

/**
 * Densities of `mask` (1 = kept; null = dense) in `cells` blocks of every prunable segment. Layers
 * smaller than `cells` get one cell per weight, so no cell is ever empty.
 */
export function maskDensityRows(layout: ParamLayout, mask: Uint8Array | null, cells: number): MaskRow[] {
  if (!Number.isSafeInteger(cells) || cells < 1) throw new InvalidArgumentError(`maskDensityRows: cells must be a positive integer, got ${cells}`);
  if (mask && mask.length !== layout.size) throw new InvalidArgumentError(`maskDensityRows: the mask has ${mask.length} entries, the layout ${layout.size}`);
  return layout.segments.filter((s) => s.prunable && s.size > 0).map((seg) => {
    const count = Math.min(cells, seg.size);
    const block = Math.ceil(seg.size / count);
    const n = Math.ceil(seg.size / block);
    const out = new Float32Array(n);
    let kept = 0;
    for (let c = 0; c < n; c++) {
      const a = seg.offset + c * block;
      const b = Math.min(seg.offset + seg.size, a + block);
      let k = b - a;
      if (mask) { k = 0; for (let i = a; i < b; i++) k += mask[i]!; }
      kept += k;
      out[c] = k / (b - a);
    }
    return { name: seg.name, size: seg.size, density: kept / seg.size, cells: out };
  });
}

/** Sequential blue scale: 0 (all pruned) pale, 1 (all kept) dark. Interpolated in sRGB. */
const STOPS: Array<[number, number, number]> = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]];

export function densityColour(d: number): string {
  const t = Math.min(1, Math.max(0, Number.isFinite(d) ? d : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(t));
  const f = t - i;
  const [a, b] = [STOPS[i]!, STOPS[i + 1]!];
  return `rgb(${a.map((v, k) => Math.round(v + f * (b[k]! - v))).join(',')})`;
}

export interface HeatmapStyle {
  labelWidth: number;
  rowHeight: number;
  cellWidth: number;
}

const STYLE: HeatmapStyle = { labelWidth: 150, rowHeight: 22, cellWidth: 8 };
const FONT = '12px system-ui, sans-serif';

/** Draws the rows (labels, cells, kept %) and a colour legend, sizing the canvas for the screen. */
export function drawHeatmap(canvas: HTMLCanvasElement, rows: readonly MaskRow[], cells: number, style: HeatmapStyle = STYLE): void {
  const { labelWidth, rowHeight, cellWidth } = style;
  const right = 64;
  const legend = 34;
  const width = labelWidth + cells * cellWidth + right;
  const height = Math.max(1, rows.length) * rowHeight + legend + 6;
  const ratio = Math.max(1, (globalThis as { devicePixelRatio?: number }).devicePixelRatio ?? 1);
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.font = FONT;
  ctx.textBaseline = 'middle';
  rows.forEach((row, r) => {
    const y = r * rowHeight;
    ctx.fillStyle = '#222';
    ctx.textAlign = 'left';
    ctx.fillText(row.name, 4, y + rowHeight / 2, labelWidth - 8);
    // A small layer gets few, wide cells: each spans its share of the row.
    const w = (cells * cellWidth) / row.cells.length;
    row.cells.forEach((d, c) => {
      ctx.fillStyle = densityColour(d);
      ctx.fillRect(labelWidth + c * w, y + 2, Math.ceil(w), rowHeight - 4);
    });
    ctx.fillStyle = '#222';
    ctx.textAlign = 'right';
    ctx.fillText(`${(100 * row.density).toFixed(1)} %`, width - 6, y + rowHeight / 2);
  });
  const ly = rows.length * rowHeight + 10;
  const lw = Math.min(200, cells * cellWidth);
  for (let x = 0; x < lw; x++) {
    ctx.fillStyle = densityColour(x / (lw - 1));
    ctx.fillRect(labelWidth + x, ly, 1, 10);
  }
  ctx.fillStyle = '#444';
  ctx.textAlign = 'right';
  ctx.fillText('kept: 0 %', labelWidth - 6, ly + 5);
  ctx.textAlign = 'left';
  ctx.fillText('100 %', labelWidth + lw + 6, ly + 5);
  ctx.fillText('(each cell: one block of the flattened weight)', labelWidth + lw + 50, ly + 5);
}
