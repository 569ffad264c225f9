// Progress bars for the terminal: a block of lines at the bottom of the screen, redrawn in place,
// with the log lines of a command printed above them. Drawn only on a terminal (a log file or a
// pipe gets the plain lines and not one control character) and at most every `intervalMs`, so a
// training loop may report every step without the terminal becoming the bottleneck.

/** Where bars are drawn: process.stderr, or anything that writes text and says if it is a TTY. */
export interface TerminalStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** No bars at all (`--quiet`). */
  quiet?: boolean;
  /** Least time between two redraws, in ms (default 100: smooth enough, and cheap). */
  intervalMs?: number;
  /** Clock in ms (tests pass their own). */
  now?: () => number;
}

export interface BarUpdate {
  label: string;
  done: number;
  total: number;
  /** Singular unit of `done`, e.g. 'round' or 'sample'. */
  unit: string;
  /** Start the bar's clock again (a new round's training): rate and ETA count from here. */
  restart?: boolean;
  /** Text after the ETA, e.g. '3/5 clients'. */
  note?: string;
}

interface Bar extends BarUpdate {
  started: number;
  /** When the bar reached its total: the rate stays that of the work, not of the wait after it. */
  finished?: number;
}

const ESC = '\x1b[';

/** 75 → '75.0s', 600 → '10m00s', 7300 → '2h01m'. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 90) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * A rate that reads well whether things are fast or slow: '2,310 samples/s', '1.5 rounds/s', or
 * '42.0 s/round' below one per second (a FedDIP round takes seconds to minutes).
 */
export function formatRate(perSecond: number, unit: string): string {
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) return `— ${unit}s/s`;
  if (perSecond >= 100) return `${Math.round(perSecond).toLocaleString('en')} ${unit}s/s`;
  if (perSecond >= 1) return `${perSecond.toFixed(1)} ${unit}s/s`;
  return `${(1 / perSecond).toFixed(1)} s/${unit}`;
}

/**
 * One bar line: label, bar, percentage, count, rate, ETA and note in `width` characters. The bar
 * takes what the text leaves (10 to 30 cells); a line still too long is cut, because a line that
 * wraps would break the cursor arithmetic of the redraw.
 */
export function formatBar(bar: BarUpdate, elapsedSeconds: number, width = 80): string {
  const fraction = bar.total > 0 ? Math.min(1, Math.max(0, bar.done / bar.total)) : 0;
  const rate = elapsedSeconds > 0 ? bar.done / elapsedSeconds : 0;
  const left = bar.total - bar.done;
  const eta = left <= 0 ? 'done' : rate > 0 ? `ETA ${formatDuration(left / rate)}` : 'ETA —';
  const count = `${bar.done.toLocaleString('en')}/${bar.total.toLocaleString('en')}`;
  const tail = `] ${String(Math.floor(100 * fraction)).padStart(3)}% ${count} ${formatRate(rate, bar.unit)} ${eta}${bar.note ? `  ${bar.note}` : ''}`;
  const head = `${bar.label} [`;
  const cells = Math.min(30, Math.max(10, width - head.length - tail.length));
  const filled = Math.round(fraction * cells);
  const line = `${head}${'█'.repeat(filled)}${'░'.repeat(cells - filled)}${tail}`;
  return line.length > width ? line.slice(0, Math.max(0, width)) : line;
}

export class ProgressDisplay {
  /** Whether bars are drawn: a TTY, not quiet, not a dumb terminal. */
  readonly enabled: boolean;
  readonly #stream: TerminalStream | undefined;
  readonly #interval: number;
  readonly #now: () => number;
  readonly #bars = new Map<string, Bar>();
  /** Lines of bars on the screen now (the cursor sits at the end of the last one). */
  #drawn = 0;
  #lastDraw = -Infinity;

  constructor(stream: TerminalStream | undefined, options: ProgressOptions = {}) {
    const term = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.TERM;
    this.enabled = !options.quiet && stream?.isTTY === true && term !== 'dumb';
    this.#stream = stream;
    this.#interval = options.intervalMs ?? 100;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Moves a bar (adding it below the others the first time); redraws when due. */
  set(key: string, update: BarUpdate): void {
    if (!this.enabled) return;
    const old = this.#bars.get(key);
    const now = this.#now();
    const started = !old || update.restart ? now : old.started;
    const finished = update.done < update.total ? undefined : old?.finished !== undefined && !update.restart && old.done >= old.total ? old.finished : now;
    this.#bars.set(key, { ...update, started, finished });
    // A new bar and a finished one are drawn at once; anything else waits for the interval.
    this.#render(!old || update.done >= update.total);
  }

  /** Takes a bar off the screen. */
  remove(key: string): void {
    if (this.#bars.delete(key)) this.#render(true);
  }

  /** Prints through `write` (one or more whole lines) above the bars, then redraws them as they now stand. */
  log(write: () => void): void {
    if (!this.enabled || this.#drawn === 0) { write(); return; }
    this.#stream!.write(this.#clearSequence());
    this.#drawn = 0;
    write();
    this.#render(true);
  }

  /** Clears the bars and forgets them: call before the command's last lines, and on errors. */
  close(): void {
    if (this.enabled && this.#drawn) this.#stream!.write(this.#clearSequence());
    this.#drawn = 0;
    this.#bars.clear();
  }

  #clearSequence(): string {
    return `\r${this.#drawn > 1 ? `${ESC}${this.#drawn - 1}A` : ''}${ESC}J`;
  }

  #render(force: boolean): void {
    const now = this.#now();
    if (!force && now - this.#lastDraw < this.#interval) return;
    this.#lastDraw = now;
    // A pseudo-terminal without a size reports 0 columns.
    const width = Math.max(20, (this.#stream!.columns || 80) - 1);
    const lines = [...this.#bars.values()].map((b) => formatBar(b, ((b.finished ?? now) - b.started) / 1000, width));
    // One write per frame: the terminal never shows a half-drawn block.
    this.#stream!.write(`${this.#drawn ? this.#clearSequence() : ''}${lines.join('\n')}`);
    this.#drawn = lines.length;
  }
}
