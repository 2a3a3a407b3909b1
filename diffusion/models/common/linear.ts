import type { Param } from '../../checkpoint/param.ts';
import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';

/** torch `nn.Linear` over the last axis; weight `[in, out]`. */
export class Linear {
  readonly weight: Param;
  readonly bias: Param | null;

  constructor(
    scope: ParamScope,
    readonly inDim: number,
    readonly outDim: number,
    bias = true,
  ) {
    this.weight = scope.linearWeight(inDim, outDim);
    this.bias = bias ? scope.bias(outDim, inDim) : null;
  }

  forward<T>(ops: Ops<T>, x: T): T {
    return ops.linear(x, ops.param(this.weight), this.bias ? ops.param(this.bias) : null);
  }
}
