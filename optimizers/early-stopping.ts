import { check } from '../core/errors.ts';

/** Options of {@link PlateauStopper}. */
export interface PlateauOptions {
  /** Iterations without a relative improvement of `minRelDelta` before stopping. @default 25 */
  patience?: number;
  /** Smallest relative decrease of the best loss that counts as progress. @default 1e-4 */
  minRelDelta?: number;
  /** Never stop before this many iterations. @default 0 */
  minIterations?: number;
}

/** Serializable state of a {@link PlateauStopper}. */
export interface PlateauState {
  best: number;
  since: number;
  seen: number;
}

/** Stops a run once the loss stops improving (a plateau), checked once per iteration. */
export class PlateauStopper {
  readonly patience: number;
  readonly minRelDelta: number;
  readonly minIterations: number;
  private best = Infinity;
  private since = 0;
  private seen = 0;

  constructor(options: PlateauOptions = {}) {
    this.patience = options.patience ?? 25;
    this.minRelDelta = options.minRelDelta ?? 1e-4;
    this.minIterations = options.minIterations ?? 0;
    check(Number.isInteger(this.patience) && this.patience > 0, () => `patience must be a positive integer`, {
      key: 'earlyStopping.patience',
    });
    check(this.minRelDelta >= 0, () => `minRelDelta must be >= 0`, { key: 'earlyStopping.minRelDelta' });
  }

  /** Records one loss; true when the run should stop. */
  update(loss: number): boolean {
    this.seen += 1;
    if (loss < this.best * (1 - this.minRelDelta) || !Number.isFinite(this.best)) {
      this.best = loss;
      this.since = 0;
    } else {
      this.since += 1;
    }
    return this.seen >= this.minIterations && this.since >= this.patience;
  }

  state(): PlateauState {
    return { best: this.best, since: this.since, seen: this.seen };
  }

  setState(state: PlateauState): void {
    this.best = state.best ?? Infinity;
    this.since = state.since;
    this.seen = state.seen;
  }
}
