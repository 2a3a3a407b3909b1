import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { Conv2d } from '../common/conv2d.ts';
import { GroupNorm } from '../common/group-norm.ts';
import { ResnetBlock2D } from '../common/resnet-block.ts';
import { Upsample2D } from '../common/upsample.ts';
import type { VaeConfig } from './config.ts';
import { VaeMidBlock } from './mid-block.ts';

/** One `UpDecoderBlock2D`: layers+1 resnets, then (except last) nearest 2x + conv. */
class UpDecoderBlock {
  readonly resnets: ResnetBlock2D[];
  readonly upsampler: Upsample2D | null;

  constructor(scope: ParamScope, inCh: number, outCh: number, layers: number, groups: number, addUpsample: boolean) {
    this.resnets = Array.from(
      { length: layers },
      (_, j) =>
        new ResnetBlock2D(scope.at(`resnets.${j}`), { inCh: j === 0 ? inCh : outCh, outCh, tembCh: null, groups, eps: 1e-6 }),
    );
    this.upsampler = addUpsample ? new Upsample2D(scope.at('upsamplers.0'), outCh, outCh) : null;
  }

  forward<T>(ops: Ops<T>, x: T): T {
    let h = x;
    for (const r of this.resnets) h = r.forward(ops, h, null);
    return this.upsampler ? this.upsampler.forward(ops, h) : h;
  }
}

/** diffusers VAE `Decoder`: latent NHWC -> image `[B, h·2^k, w·2^k, out_channels]`. */
export class VaeDecoder {
  readonly convIn: Conv2d;
  readonly midBlock: VaeMidBlock;
  readonly upBlocks: UpDecoderBlock[];
  readonly convNormOut: GroupNorm;
  readonly convOut: Conv2d;

  constructor(scope: ParamScope, c: VaeConfig) {
    const rBoc = [...c.block_out_channels].reverse();
    const groups = c.norm_num_groups;
    this.convIn = new Conv2d(scope.at('conv_in'), c.latent_channels, rBoc[0]!, 3, { padding: 1 });
    this.midBlock = new VaeMidBlock(scope.at('mid_block'), rBoc[0]!, groups, c.mid_block_add_attention);
    let outCh = rBoc[0]!;
    this.upBlocks = rBoc.map((ch, i) => {
      const prev = outCh;
      outCh = ch;
      return new UpDecoderBlock(scope.at(`up_blocks.${i}`), prev, outCh, c.layers_per_block + 1, groups, i < rBoc.length - 1);
    });
    const first = c.block_out_channels[0]!;
    this.convNormOut = new GroupNorm(scope.at('conv_norm_out'), groups, first, 1e-6);
    this.convOut = new Conv2d(scope.at('conv_out'), first, c.out_channels, 3, { padding: 1 });
  }

  forward<T>(ops: Ops<T>, z: T): T {
    let h = this.convIn.forward(ops, z);
    h = this.midBlock.forward(ops, h);
    for (const b of this.upBlocks) h = b.forward(ops, h);
    return this.convOut.forward(ops, ops.silu(this.convNormOut.forward(ops, h)));
  }
}
