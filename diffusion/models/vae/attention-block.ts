import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { Attention } from '../common/attention.ts';
import { GroupNorm } from '../common/group-norm.ts';

/**
 * The VAE mid-block attention (diffusers `Attention` with `group_norm`, residual, one head of size C,
 * biased q/k/v) on NHWC feature maps.
 */
export class VaeAttentionBlock {
  readonly groupNorm: GroupNorm;
  readonly attention: Attention;

  constructor(scope: ParamScope, channels: number, groups: number) {
    this.groupNorm = new GroupNorm(scope.at('group_norm'), groups, channels, 1e-6);
    this.attention = new Attention(scope, { queryDim: channels, heads: 1, headDim: channels, qkvBias: true });
  }

  forward<T>(ops: Ops<T>, x: T): T {
    const [b, h, w, c] = ops.shape(x) as [number, number, number, number];
    const tokens = ops.reshape(this.groupNorm.forward(ops, x), [b, h * w, c]); // [B, HW, C]
    const out = ops.reshape(this.attention.forward(ops, tokens), [b, h, w, c]);
    return ops.add(out, x);
  }
}
