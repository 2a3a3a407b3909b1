import type { Param } from './param.ts';
import type { ParamSource } from './param-source.ts';

/** A dotted name prefix over a `ParamSource`, with helpers for the usual layer shapes. */
export class ParamScope {
  constructor(
    readonly source: ParamSource,
    readonly prefix = '',
  ) {}

  /** The scope `prefix.sub` (`sub` may itself be dotted or a number). */
  at(sub: string | number): ParamScope {
    return new ParamScope(this.source, this.name(String(sub)));
  }

  name(leaf: string): string {
    return this.prefix ? `${this.prefix}.${leaf}` : leaf;
  }

  /** Conv weight `[k, k, in, out]` at `<scope>.weight`. */
  convWeight(inCh: number, outCh: number, k: number): Param {
    return this.source.take({
      name: this.name('weight'),
      shape: [k, k, inCh, outCh],
      layout: 'conv',
      role: 'weight',
      fanIn: inCh * k * k,
    });
  }

  /** Linear weight `[in, out]` at `<scope>.weight`. */
  linearWeight(inDim: number, outDim: number): Param {
    return this.source.take({ name: this.name('weight'), shape: [inDim, outDim], layout: 'linear', role: 'weight', fanIn: inDim });
  }

  bias(n: number, fanIn: number): Param {
    return this.source.take({ name: this.name('bias'), shape: [n], layout: 'vector', role: 'bias', fanIn });
  }

  /** Norm scale and shift at `<scope>.weight` / `<scope>.bias`. */
  normAffine(n: number): { gamma: Param; beta: Param } {
    return {
      gamma: this.source.take({ name: this.name('weight'), shape: [n], layout: 'vector', role: 'gamma' }),
      beta: this.source.take({ name: this.name('bias'), shape: [n], layout: 'vector', role: 'beta' }),
    };
  }

  /** Embedding table `[rows, dim]` at `<scope>.weight`. */
  table(rows: number, dim: number): Param {
    return this.source.take({ name: this.name('weight'), shape: [rows, dim], layout: 'table', role: 'embedding' });
  }
}
