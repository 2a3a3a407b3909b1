import type { Param } from '../../checkpoint/param.ts';
import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';

/** torch `nn.GroupNorm` (affine) on channels-last input. */
export class GroupNorm {
  readonly gamma: Param;
  readonly beta: Param;

  constructor(
    scope: ParamScope,
    readonly groups: number,
    readonly channels: number,
    readonly eps: number,
  ) {
    ({ gamma: this.gamma, beta: this.beta } = scope.normAffine(channels));
  }

  forward<T>(ops: Ops<T>, x: T): T {
    return ops.groupNorm(x, this.groups, ops.param(this.gamma), ops.param(this.beta), this.eps);
  }
}
