import type { Param } from '../../checkpoint/param.ts';
import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Conv2dOptions, Ops } from '../../ops/ops.ts';

/** torch `nn.Conv2d` (square kernel, with bias) on NHWC; weight `[k, k, in, out]`. */
export class Conv2d {
  readonly weight: Param;
  readonly bias: Param;

  constructor(
    scope: ParamScope,
    readonly inCh: number,
    readonly outCh: number,
    readonly kernel: number,
    readonly options: Conv2dOptions = {},
  ) {
    this.weight = scope.convWeight(inCh, outCh, kernel);
    this.bias = scope.bias(outCh, inCh * kernel * kernel);
  }

  forward<T>(ops: Ops<T>, x: T): T {
    return ops.conv2d(x, ops.param(this.weight), ops.param(this.bias), this.options);
  }
}
