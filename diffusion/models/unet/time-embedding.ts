import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { timestepEmbedding } from '../../ops/timestep-embedding.ts';
import { Linear } from '../common/linear.ts';

/** diffusers `Timesteps` (sinusoidal, host) + `TimestepEmbedding` (linear_1, SiLU, linear_2). */
export class TimeEmbedding {
  readonly linear1: Linear;
  readonly linear2: Linear;

  constructor(
    scope: ParamScope,
    readonly projDim: number,
    embedDim: number,
    private readonly flipSinToCos: boolean,
    private readonly freqShift: number,
  ) {
    this.linear1 = new Linear(scope.at('linear_1'), projDim, embedDim);
    this.linear2 = new Linear(scope.at('linear_2'), embedDim, embedDim);
  }

  /** The sinusoidal projection `[batch, projDim]` for timestep `t` (the `time_proj` output). */
  projection<T>(ops: Ops<T>, t: number, batch = 1): T {
    const one = timestepEmbedding(t, this.projDim, { flipSinToCos: this.flipSinToCos, freqShift: this.freqShift });
    const data = new Float32Array(batch * this.projDim);
    for (let b = 0; b < batch; b++) data.set(one, b * this.projDim);
    return ops.constant(data, [batch, this.projDim]);
  }

  /** `[batch, embedDim]` for timestep `t`. */
  forward<T>(ops: Ops<T>, t: number, batch = 1): T {
    return this.linear2.forward(ops, ops.silu(this.linear1.forward(ops, this.projection(ops, t, batch))));
  }
}
