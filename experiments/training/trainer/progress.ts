/** Progress lines with an exponential moving average of the loss, seconds per step and an ETA. */

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

export class ProgressMeter {
  private ema: number | undefined;
  private readonly started = performance.now();
  private stepsThisSession = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly startStep: number,
    private readonly write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
    private readonly emaBeta = 0.95,
  ) {}

  /** Records step `step` (1-based count of completed steps); prints every `every` steps and at the end. */
  update(step: number, loss: number, every: number, extra = ''): void {
    this.ema = this.ema === undefined ? loss : this.emaBeta * this.ema + (1 - this.emaBeta) * loss;
    this.stepsThisSession = step - this.startStep;
    if (step % every !== 0 && step !== this.total) return;
    const elapsed = (performance.now() - this.started) / 1000;
    const perStep = elapsed / Math.max(1, this.stepsThisSession);
    const eta = perStep * (this.total - step);
    this.write(
      `[${this.label}] step ${step}/${this.total}  loss ${loss.toFixed(4)} (ema ${this.ema.toFixed(4)})${extra ? `  ${extra}` : ''}` +
        `  ${perStep.toFixed(2)} s/step  elapsed ${formatDuration(elapsed)}  eta ${formatDuration(eta)}`,
    );
  }

  get smoothedLoss(): number | undefined {
    return this.ema;
  }
}
