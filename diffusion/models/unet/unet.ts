import { check } from '../../../core/errors.ts';
import { ParamScope } from '../../checkpoint/param-scope.ts';
import type { ParamSource } from '../../checkpoint/param-source.ts';
import type { Ops } from '../../ops/ops.ts';
import { Conv2d } from '../common/conv2d.ts';
import { GroupNorm } from '../common/group-norm.ts';
import { ModelBase } from '../common/model.ts';
import type { UNetConfig } from './config.ts';
import { UNetDownBlock } from './down-block.ts';
import { UNetMidBlockCrossAttn } from './mid-block.ts';
import { TimeEmbedding, timeProjectionSpec, type UNetTimestep } from './time-embedding.ts';
import { UNetUpBlock } from './up-block.ts';

/**
 * diffusers `UNet2DConditionModel` built from its config: conv_in, time embedding, down blocks, mid
 * block, up blocks (skips LIFO, upsampling to each skip's explicit size), GroupNorm, SiLU, conv_out.
 * NHWC in and out.
 */
export class UNet2DConditionModel extends ModelBase {
  readonly convIn: Conv2d;
  readonly timeEmbedding: TimeEmbedding;
  readonly downBlocks: UNetDownBlock[];
  readonly midBlock: UNetMidBlockCrossAttn | null;
  readonly upBlocks: UNetUpBlock[];
  readonly convNormOut: GroupNorm;
  readonly convOut: Conv2d;

  constructor(
    readonly config: UNetConfig,
    source: ParamSource,
  ) {
    const s = new ParamScope(source);
    const c = config;
    const boc = c.block_out_channels;
    const n = boc.length;
    const temb = c.time_embedding_dim;
    const eps = c.norm_eps;
    const groups = c.norm_num_groups;
    const convIn = new Conv2d(s.at('conv_in'), c.in_channels, boc[0]!, c.conv_in_kernel, {
      padding: (c.conv_in_kernel - 1) / 2,
    });
    const tp = timeProjectionSpec(c); // also what a caller feeding the projection as a tensor computes it with
    const timeEmbedding = new TimeEmbedding(s.at('time_embedding'), tp.dim, temb, tp.flipSinToCos, tp.freqShift);
    const attention = (transformerLayers: number, heads: number, crossDim: number) => ({
      heads,
      transformerLayers,
      crossDim,
      linearProjection: c.use_linear_projection,
    });
    const downBlocks: UNetDownBlock[] = [];
    let outCh = boc[0]!;
    c.down_block_types.forEach((type, i) => {
      const inCh = outCh;
      outCh = boc[i]!;
      downBlocks.push(
        new UNetDownBlock(s.at(`down_blocks.${i}`), {
          inCh,
          outCh,
          tembCh: temb,
          layers: c.layers_per_block[i]!,
          groups,
          eps,
          addDownsample: i < n - 1,
          downsamplePadding: c.downsample_padding,
          attention:
            type === 'CrossAttnDownBlock2D'
              ? attention(c.transformer_layers_per_block[i]!, c.num_attention_heads[i]!, c.cross_attention_dim[i]!)
              : undefined,
        }),
      );
    });
    const midBlock =
      c.mid_block_type === null
        ? null
        : new UNetMidBlockCrossAttn(s.at('mid_block'), {
            channels: boc[n - 1]!,
            tembCh: temb,
            groups,
            eps,
            outputScaleFactor: c.mid_block_scale_factor,
            heads: c.num_attention_heads[n - 1]!,
            transformerLayers: c.transformer_layers_per_block[n - 1]!,
            crossDim: c.cross_attention_dim[n - 1]!,
            linearProjection: c.use_linear_projection,
          });
    const rev = <V>(xs: V[]) => [...xs].reverse();
    const rBoc = rev(boc);
    const rHeads = rev(c.num_attention_heads);
    const rLayers = rev(c.layers_per_block);
    const rCross = rev(c.cross_attention_dim);
    const rTransformer = rev(c.transformer_layers_per_block);
    const upBlocks: UNetUpBlock[] = [];
    outCh = rBoc[0]!;
    c.up_block_types.forEach((type, i) => {
      const prevOutCh = outCh;
      outCh = rBoc[i]!;
      const inCh = rBoc[Math.min(i + 1, n - 1)]!;
      upBlocks.push(
        new UNetUpBlock(s.at(`up_blocks.${i}`), {
          inCh,
          outCh,
          prevOutCh,
          tembCh: temb,
          layers: rLayers[i]! + 1,
          groups,
          eps,
          addUpsample: i < n - 1,
          attention: type === 'CrossAttnUpBlock2D' ? attention(rTransformer[i]!, rHeads[i]!, rCross[i]!) : undefined,
        }),
      );
    });
    const convNormOut = new GroupNorm(s.at('conv_norm_out'), groups, boc[0]!, eps);
    const convOut = new Conv2d(s.at('conv_out'), boc[0]!, c.out_channels, c.conv_out_kernel, {
      padding: (c.conv_out_kernel - 1) / 2,
    });
    super(source.params());
    this.convIn = convIn;
    this.timeEmbedding = timeEmbedding;
    this.downBlocks = downBlocks;
    this.midBlock = midBlock;
    this.upBlocks = upBlocks;
    this.convNormOut = convNormOut;
    this.convOut = convOut;
  }

  /**
   * One denoiser evaluation. sample `[B, h, w, in_channels]` (Marigold: [rgb latent | depth latent]),
   * timestep (scalar, shared by the batch), encoderHiddenStates `[B, S, cross_attention_dim]` ->
   * `[B, h, w, out_channels]`. Any h, w >= 1 (odd sizes upsample to the skip's size).
   *
   * The timestep is a host number (a constant of the call: tfjs, or a graph traced for that timestep),
   * or `{ projection }`, its sinusoidal projection `[B, block_out_channels[0]]` as a tensor (a graph
   * input fed with `timeProjectionData(t, B, timeProjectionSpec(config))`, the values a number gives):
   * one traced graph then serves every timestep.
   */
  forward<T>(ops: Ops<T>, sample: T, timestep: UNetTimestep<T>, encoderHiddenStates: T): T {
    const shape = ops.shape(sample);
    check(
      shape.length === 4 && shape[3] === this.config.in_channels,
      () => `sample must be NHWC [B, h, w, ${this.config.in_channels}], got [${shape.join(', ')}]`,
      { key: 'UNet2DConditionModel.forward(sample)' },
    );
    const ctx = ops.shape(encoderHiddenStates);
    const crossDim = this.config.cross_attention_dim[0]!;
    check(
      ctx.length === 3 && ctx[0] === shape[0] && ctx[2] === crossDim,
      () => `encoderHiddenStates must be [${shape[0]}, S, ${crossDim}], got [${ctx.join(', ')}]`,
      { key: 'UNet2DConditionModel.forward(encoderHiddenStates)' },
    );
    // 1. time embedding                                    [B, temb]
    const temb = this.timeEmbedding.forward(ops, timestep, shape[0]!);
    // 2. conv_in                                           [B, h, w, C0]
    let h = this.convIn.forward(ops, sample);
    // 3. down: keep every intermediate state as a skip
    const skips: T[] = [h];
    for (const block of this.downBlocks) {
      const r = block.forward(ops, h, temb, encoderHiddenStates);
      h = r.out;
      skips.push(...r.skips);
    }
    // 4. mid                                               [B, h/2^k, w/2^k, C_last]
    if (this.midBlock) h = this.midBlock.forward(ops, h, temb, encoderHiddenStates);
    // 5. up: each block consumes its skips; upsample to the next skip's size
    for (const block of this.upBlocks) {
      const mine = skips.splice(skips.length - block.resnets.length, block.resnets.length);
      const next = skips[skips.length - 1];
      const size = block.upsampler && next ? (ops.shape(next).slice(1, 3) as [number, number]) : undefined;
      h = block.forward(ops, h, mine, temb, encoderHiddenStates, size);
    }
    // 6. out                                               [B, h, w, out_channels]
    return this.convOut.forward(ops, ops.silu(this.convNormOut.forward(ops, h)));
  }
}
