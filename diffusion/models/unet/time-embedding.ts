import { check } from '../../../core/errors.ts';
import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { timestepEmbedding } from '../../ops/timestep-embedding.ts';
import { Linear } from '../common/linear.ts';
import type { UNetConfig } from './config.ts';

/** What fixes diffusers' `time_proj` (the sinusoidal projection) of a UNet. */
export interface TimeProjectionSpec {
  /** Projection width (`block_out_channels[0]`). */
  readonly dim: number;
  readonly flipSinToCos: boolean;
  readonly freqShift: number;
}

/** The `time_proj` settings of a UNet config (what `UNet2DConditionModel` builds its `TimeEmbedding` with). */
export function timeProjectionSpec(config: UNetConfig): TimeProjectionSpec {
  return { dim: config.block_out_channels[0]!, flipSinToCos: config.flip_sin_to_cos, freqShift: config.freq_shift };
}

/**
 * The sinusoidal projection of timestep `t` as host data `[batch, dim]` (one row per batch item, all
 * equal). The one implementation: `TimeEmbedding.projection` turns it into a constant; a graph executor
 * that takes the projection as an input (one graph for every timestep) feeds this.
 */
export function timeProjectionData(t: number, batch: number, spec: TimeProjectionSpec): Float32Array {
  const one = timestepEmbedding(t, spec.dim, { flipSinToCos: spec.flipSinToCos, freqShift: spec.freqShift });
  const data = new Float32Array(batch * spec.dim);
  for (let b = 0; b < batch; b++) data.set(one, b * spec.dim);
  return data;
}

/**
 * The timestep of a UNet call given as its projection tensor `[B, projDim]` (the `time_proj` output,
 * e.g. a graph input fed with {@link timeProjectionData}) instead of a host number.
 */
export interface TimeProjectionInput<T> {
  readonly projection: T;
}

/** A UNet timestep: a host number (a constant of the call) or its projection as a tensor. */
export type UNetTimestep<T> = number | TimeProjectionInput<T>;

export function isTimeProjectionInput<T>(t: unknown): t is TimeProjectionInput<T> {
  return typeof t === 'object' && t !== null && !Array.isArray(t) && 'projection' in t;
}

/** diffusers `Timesteps` (sinusoidal, host) + `TimestepEmbedding` (linear_1, SiLU, linear_2). */
export class TimeEmbedding {
  readonly linear1: Linear;
  readonly linear2: Linear;
  private readonly spec: TimeProjectionSpec;

  constructor(
    scope: ParamScope,
    readonly projDim: number,
    embedDim: number,
    flipSinToCos: boolean,
    freqShift: number,
  ) {
    this.spec = { dim: projDim, flipSinToCos, freqShift };
    this.linear1 = new Linear(scope.at('linear_1'), projDim, embedDim);
    this.linear2 = new Linear(scope.at('linear_2'), embedDim, embedDim);
  }

  /** The sinusoidal projection `[batch, projDim]` for timestep `t` (the `time_proj` output). */
  projection<T>(ops: Ops<T>, t: number, batch = 1): T {
    return ops.constant(timeProjectionData(t, batch, this.spec), [batch, this.projDim]);
  }

  /**
   * `[batch, embedDim]` for timestep `t`: a host number (projected by {@link projection}, a constant), or
   * its projection given as a tensor `[batch, projDim]` (one traced graph then serves every timestep).
   */
  forward<T>(ops: Ops<T>, t: UNetTimestep<T>, batch = 1): T {
    let proj: T;
    if (isTimeProjectionInput<T>(t)) {
      proj = t.projection;
      const shape = ops.shape(proj);
      check(
        shape.length === 2 && shape[0] === batch && shape[1] === this.projDim,
        () => `the time projection must be [${batch}, ${this.projDim}], got [${shape.join(', ')}]`,
        { key: 'UNet2DConditionModel.forward(timestep)' },
      );
    } else {
      proj = this.projection(ops, t, batch);
    }
    return this.linear2.forward(ops, ops.silu(this.linear1.forward(ops, proj)));
  }
}
