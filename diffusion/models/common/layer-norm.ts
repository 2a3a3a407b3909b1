import type { Param } from '../../checkpoint/param.ts';
import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';

/** torch `nn.LayerNorm` (affine) over the last axis. */
export class LayerNorm {
  readonly gamma: Param;
  readonly beta: Param;

  constructor(
    scope: ParamScope,
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    ({ gamma: this.gamma, beta: this.beta } = scope.normAffine(dim));
  }

  forward<T>(ops: Ops<T>, x: T): T {
    return ops.layerNorm(x, ops.param(this.gamma), ops.param(this.beta), this.eps);
  }
}
