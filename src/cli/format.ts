// Terminal output for commands: where output goes (injectable, so commands run in-process in tests),
// aligned table rows, and a progress line on stderr.

/** Where a command writes, and how the user can stop it. */
export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** stderr is a terminal: progress is drawn in place and shown by default. */
  stderrIsTTY: boolean;
  /** Width of the stderr terminal, to keep the progress line on one row. */
  stderrColumns?: number;
  /** Aborted when the user asks to stop (Ctrl-C); a command finishes the item in flight first. */
  interrupt?: AbortSignal;
}

/**
 * Runs `body` with the process's streams. The first Ctrl-C aborts `interrupt` (with a note on
 * stderr); a second one, with the handler gone, ends the process at once as usual.
 */
export async function withProcessIo(body: (io: CommandIo) => Promise<number>): Promise<number> {
  const controller = new AbortController();
  const onInterrupt = () => {
    process.stderr.write('\nmetatpt: stopping after the current image (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.once('SIGINT', onInterrupt);
  try {
    return await body({
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      stderrIsTTY: process.stderr.isTTY === true,
      stderrColumns: process.stderr.columns,
      interrupt: controller.signal,
    });
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

export interface Column {
  width: number;
  align?: 'left' | 'right';
}

/** One table row: cells padded to their column's width, two spaces apart, no trailing spaces. */
export function tableRow(cells: readonly string[], columns: readonly Column[]): string {
  return cells
    .map((cell, i) => {
      const { width, align = 'left' } = columns[i];
      return align === 'right' ? cell.padStart(width) : cell.padEnd(width);
    })
    .join('  ')
    .trimEnd();
}

/** A short duration like "45s", "1m10s" or "2h03m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Items per second with two significant digits or so: "0.42", "4.1", "37". */
function formatRate(rate: number): string {
  return rate >= 10 ? rate.toFixed(0) : rate >= 1 ? rate.toFixed(1) : rate.toFixed(2);
}

export interface ProgressOptions {
  /** Redraw one line in place (a terminal) rather than append lines (a log file). */
  inPlace: boolean;
  /** Line width to stay within when drawing in place. */
  columns?: number;
  /** Minimum time between two lines, so fast items do not flood the output. */
  intervalMs?: number;
  now?: () => number;
  unit?: string;
}

/**
 * "[12/300] 4.1 img/s ETA 1m10s path": the item being worked on, the rate of those finished and the
 * time left at that rate.
 */
export class ProgressLine {
  private readonly startedAt: number;
  private lastDrawnAt = -Infinity;
  private drawn = false;

  constructor(
    private readonly total: number,
    private readonly write: (text: string) => void,
    private readonly options: ProgressOptions,
  ) {
    this.startedAt = this.now();
  }

  private now(): number {
    return (this.options.now ?? performance.now.bind(performance))();
  }

  /** Item `index` (0-based) is starting; `index` items are done. */
  update(index: number, label: string): void {
    const now = this.now();
    const { intervalMs = this.options.inPlace ? 100 : 1000, inPlace, columns, unit = 'img' } = this.options;
    if (index > 0 && index < this.total - 1 && now - this.lastDrawnAt < intervalMs) return;
    this.lastDrawnAt = now;
    const elapsed = (now - this.startedAt) / 1000;
    const rate = index > 0 && elapsed > 0 ? index / elapsed : undefined;
    const speed =
      rate === undefined
        ? ''
        : ` ${formatRate(rate)} ${unit}/s ETA ${formatDuration((this.total - index) / rate)}`;
    let line = `[${index + 1}/${this.total}]${speed} ${label}`;
    if (inPlace && columns && line.length >= columns) line = `${line.slice(0, columns - 2)}…`;
    this.write(inPlace ? `\r\x1b[2K${line}` : `${line}\n`);
    this.drawn = inPlace;
  }

  /** Erases the in-place line so that other output starts on a clean row (it is redrawn on the next update). */
  clear(): void {
    if (!this.drawn) return;
    this.write('\r\x1b[2K');
    this.drawn = false;
    this.lastDrawnAt = -Infinity;
  }
}
