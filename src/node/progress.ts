// A small progress bar for long loops (the cache build, training epochs).
// On a terminal it redraws one line in place with `\r`; when the output is a file or a CI log,
// where `\r` would pile up thousands of fragments, it prints a plain line every few seconds.
import { formatDuration } from '../util/duration.ts';

interface ProgressBarOptions {
  total: number;
  label: string;
  /** What one step is, for the rate: 'img' gives "312 img/s". */
  unit?: string;
  /** Defaults to stderr, so the bar never mixes into output meant for a pipe. */
  stream?: NodeJS.WriteStream;
  /** Steps already done before this bar started (a resumed epoch): counted as done, not in the rate. */
  start?: number;
  /** Seconds between lines when not on a terminal. */
  lineIntervalSeconds?: number;
}

const barWidth = 24;
/** Terminal redraws at most this often: faster is invisible and costs a syscall per step. */
const redrawIntervalMs = 100;

export class ProgressBar {
  private readonly total: number;
  private readonly label: string;
  private readonly unit: string;
  private readonly stream: NodeJS.WriteStream;
  private readonly interactive: boolean;
  private readonly lineIntervalMs: number;
  private readonly started = performance.now();
  private lastDrawn: number;
  private done = 0;
  private readonly start: number;
  private extra = '';
  private finished = false;

  constructor({ total, label, unit = 'it', stream = process.stderr, lineIntervalSeconds = 5, start = 0 }: ProgressBarOptions) {
    this.start = start;
    this.done = start;
    this.total = Math.max(0, total);
    this.label = label;
    this.unit = unit;
    this.stream = stream;
    this.interactive = Boolean(stream.isTTY);
    this.lineIntervalMs = lineIntervalSeconds * 1000;
    // A log gets its first line after one interval, when the rate (and so the ETA) means something.
    this.lastDrawn = this.interactive ? -Infinity : this.started;
  }

  /** Records that `done` of `total` steps are complete; `extraText` is appended (e.g. "3 skipped"). */
  update(done: number, extraText = ''): void {
    if (this.finished) return;
    this.done = done;
    this.extra = extraText;
    const now = performance.now();
    if (now - this.lastDrawn < (this.interactive ? redrawIntervalMs : this.lineIntervalMs)) return;
    this.lastDrawn = now;
    this.draw(false);
  }

  /** Draws the final state (total time instead of ETA) and ends the line. */
  finish(extraText?: string): void {
    if (this.finished) return;
    if (extraText !== undefined) this.extra = extraText;
    this.finished = true;
    this.draw(true);
  }

  /** The status text without bar or colours, e.g. for a log file. */
  describe(final = false): string {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? (this.done - this.start) / seconds : 0;
    const percent = this.total > 0 ? Math.floor((100 * this.done) / this.total) : 100;
    const timing = final
      ? `in ${formatDuration(seconds)}`
      : `ETA ${rate > 0 ? formatDuration((this.total - this.done) / rate) : '?'}`;
    const parts = [`${this.done}/${this.total}`, `${percent}%`, `${formatRate(rate)} ${this.unit}/s`, timing];
    if (this.extra) parts.push(this.extra);
    return parts.join('  ');
  }

  private draw(final: boolean): void {
    if (this.interactive) {
      const filled = this.total > 0 ? Math.round((barWidth * Math.min(this.done, this.total)) / this.total) : barWidth;
      const bar = '█'.repeat(filled) + '░'.repeat(barWidth - filled);
      // Clear to the end of the line: a shorter redraw must not leave the tail of a longer one.
      this.stream.write(`\r${this.label} ${bar} ${this.describe(final)}\x1b[K${final ? '\n' : ''}`);
    } else {
      this.stream.write(`${this.label}: ${this.describe(final)}\n`);
    }
  }
}

function formatRate(rate: number): string {
  return rate >= 100 ? rate.toFixed(0) : rate >= 10 ? rate.toFixed(1) : rate.toFixed(2);
}
