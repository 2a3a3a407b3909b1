import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { ResnetBlock2D } from '../common/resnet-block.ts';
import { VaeAttentionBlock } from './attention-block.ts';

/** diffusers `UNetMidBlock2D` as the VAE uses it: resnet, attention (optional), resnet; no time embedding. */
export class VaeMidBlock {
  readonly resnets: [ResnetBlock2D, ResnetBlock2D];
  readonly attention: VaeAttentionBlock | null;

  constructor(scope: ParamScope, channels: number, groups: number, addAttention: boolean) {
    const resnet = (j: number) =>
      new ResnetBlock2D(scope.at(`resnets.${j}`), { inCh: channels, outCh: channels, tembCh: null, groups, eps: 1e-6 });
    const first = resnet(0);
    this.attention = addAttention ? new VaeAttentionBlock(scope.at('attentions.0'), channels, groups) : null;
    this.resnets = [first, resnet(1)];
  }

  forward<T>(ops: Ops<T>, x: T): T {
    let h = this.resnets[0].forward(ops, x, null);
    if (this.attention) h = this.attention.forward(ops, h);
    return this.resnets[1].forward(ops, h, null);
  }
}
