import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { Conv2d } from '../common/conv2d.ts';
import { Downsample2D } from '../common/downsample.ts';
import { GroupNorm } from '../common/group-norm.ts';
import { ResnetBlock2D } from '../common/resnet-block.ts';
import type { VaeConfig } from './config.ts';
import { VaeMidBlock } from './mid-block.ts';

/** One `DownEncoderBlock2D`: resnets, then (except last) the right/bottom-padded stride-2 conv. */
class DownEncoderBlock {
  readonly resnets: ResnetBlock2D[];
  readonly downsampler: Downsample2D | null;

  constructor(scope: ParamScope, inCh: number, outCh: number, layers: number, groups: number, addDownsample: boolean) {
    this.resnets = Array.from(
      { length: layers },
      (_, j) =>
        new ResnetBlock2D(scope.at(`resnets.${j}`), { inCh: j === 0 ? inCh : outCh, outCh, tembCh: null, groups, eps: 1e-6 }),
    );
    this.downsampler = addDownsample ? new Downsample2D(scope.at('downsamplers.0'), outCh, outCh, 0) : null;
  }

  forward<T>(ops: Ops<T>, x: T): T {
    let h = x;
    for (const r of this.resnets) h = r.forward(ops, h, null);
    return this.downsampler ? this.downsampler.forward(ops, h) : h;
  }
}

/** diffusers VAE `Encoder` (double_z): image NHWC -> `[B, H/2^k, W/2^k, 2·latent]` moments. */
export class VaeEncoder {
  readonly convIn: Conv2d;
  readonly downBlocks: DownEncoderBlock[];
  readonly midBlock: VaeMidBlock;
  readonly convNormOut: GroupNorm;
  readonly convOut: Conv2d;

  constructor(scope: ParamScope, c: VaeConfig) {
    const boc = c.block_out_channels;
    const groups = c.norm_num_groups;
    this.convIn = new Conv2d(scope.at('conv_in'), c.in_channels, boc[0]!, 3, { padding: 1 });
    let outCh = boc[0]!;
    this.downBlocks = boc.map((ch, i) => {
      const inCh = outCh;
      outCh = ch;
      return new DownEncoderBlock(scope.at(`down_blocks.${i}`), inCh, outCh, c.layers_per_block, groups, i < boc.length - 1);
    });
    const last = boc[boc.length - 1]!;
    this.midBlock = new VaeMidBlock(scope.at('mid_block'), last, groups, c.mid_block_add_attention);
    this.convNormOut = new GroupNorm(scope.at('conv_norm_out'), groups, last, 1e-6);
    this.convOut = new Conv2d(scope.at('conv_out'), last, 2 * c.latent_channels, 3, { padding: 1 });
  }

  forward<T>(ops: Ops<T>, x: T): T {
    let h = this.convIn.forward(ops, x);
    for (const b of this.downBlocks) h = b.forward(ops, h);
    h = this.midBlock.forward(ops, h);
    return this.convOut.forward(ops, ops.silu(this.convNormOut.forward(ops, h)));
  }
}
