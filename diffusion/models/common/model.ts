import type { Param } from '../../checkpoint/param.ts';

/** What every loaded or created network offers besides its forward pass. */
export interface Model {
  /** Every weight, in construction order. */
  parameters(): Param[];
  /** Total number of weight values. */
  parameterCount(): number;
  /** Disposes every executor binding of every weight (tf tensors / variables). */
  dispose(): void;
}

/** Shared implementation of `Model` over the Params a source handed out. */
export abstract class ModelBase implements Model {
  protected constructor(private readonly params: Param[]) {}

  parameters(): Param[] {
    return [...this.params];
  }

  parameterCount(): number {
    return this.params.reduce((n, p) => n + p.size, 0);
  }

  dispose(): void {
    for (const p of this.params) p.dispose();
  }
}
