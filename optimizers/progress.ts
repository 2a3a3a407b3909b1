/** Options of {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** Where to draw. @default process.stderr */
  stream?: NodeJS.WriteStream;
  /** `true` forces it on, `false` off, `'auto'` draws only when the stream is a TTY. @default 'auto' */
  enabled?: boolean | 'auto';
  /** Label before the bar. @default 'optimizing' */
  label?: string;
  /** Iterations already done when the bar starts (a resumed run): the ETA counts only the new ones. @default 0 */
  startIteration?: number;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.max(0, Math.round(s));
  const m = Math.floor(t / 60);
  const sec = t % 60;
  return m >= 60
    ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
    : `${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}

/**
 * A one-line progress bar with the loss and an ETA, redrawn in place (`\r`) at most ten times a second.
 * Off unless the stream is a TTY or it is forced on, so logs and pipes stay clean.
 */
export class ProgressBar {
  readonly enabled: boolean;
  private readonly stream: NodeJS.WriteStream;
  private readonly label: string;
  private readonly startMs = Date.now();
  private lastDraw = 0;
  private readonly startIteration: number;

  constructor(
    private readonly total: number,
    options: ProgressBarOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    const e = options.enabled ?? 'auto';
    this.enabled = e === 'auto' ? Boolean(this.stream.isTTY) : e;
    this.label = options.label ?? 'optimizing';
    this.startIteration = options.startIteration ?? 0;
  }

  /** The line for `done` of `total` iterations (exposed for tests). */
  line(done: number, loss: number, nowMs = Date.now()): string {
    const width = 24;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const filled = Math.round(frac * width);
    const elapsed = (nowMs - this.startMs) / 1000;
    const doneHere = done - this.startIteration;
    const eta = doneHere > 0 ? (elapsed / doneHere) * (this.total - done) : Number.NaN;
    return (
      `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${this.total} ` +
      `loss ${loss.toExponential(3)} elapsed ${formatSeconds(elapsed)} ETA ${formatSeconds(eta)}`
    );
  }

  update(done: number, loss: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (done < this.total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.stream.write(`\r${this.line(done, loss, now)}`);
  }

  finish(): void {
    if (this.enabled) this.stream.write('\n');
  }
}
