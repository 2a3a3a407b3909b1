import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { ResnetBlock2D } from '../common/resnet-block.ts';
import { Upsample2D } from '../common/upsample.ts';
import { Transformer2D } from './transformer-2d.ts';

export interface UpBlockOptions {
  /** Channels of the skip coming from the matching down block's input. */
  inCh: number;
  outCh: number;
  prevOutCh: number;
  tembCh: number;
  layers: number;
  groups: number;
  eps: number;
  addUpsample: boolean;
  /** Present for CrossAttnUpBlock2D. */
  attention?: { heads: number; transformerLayers: number; crossDim: number; linearProjection: boolean };
}

/**
 * diffusers `UpBlock2D` and `CrossAttnUpBlock2D`: each resnet takes `cat([h, skip])` with skips popped
 * last-in first-out, then an optional upsampler to the next skip's explicit size (odd latent sizes).
 */
export class UNetUpBlock {
  readonly resnets: ResnetBlock2D[];
  readonly attentions: Transformer2D[];
  readonly upsampler: Upsample2D | null;

  constructor(scope: ParamScope, o: UpBlockOptions) {
    this.resnets = [];
    this.attentions = [];
    for (let j = 0; j < o.layers; j++) {
      const skipCh = j === o.layers - 1 ? o.inCh : o.outCh;
      const resIn = j === 0 ? o.prevOutCh : o.outCh;
      this.resnets.push(
        new ResnetBlock2D(scope.at(`resnets.${j}`), {
          inCh: resIn + skipCh,
          outCh: o.outCh,
          tembCh: o.tembCh,
          groups: o.groups,
          eps: o.eps,
        }),
      );
      if (o.attention) {
        this.attentions.push(
          new Transformer2D(scope.at(`attentions.${j}`), {
            channels: o.outCh,
            heads: o.attention.heads,
            layers: o.attention.transformerLayers,
            crossDim: o.attention.crossDim,
            groups: o.groups,
            linearProjection: o.attention.linearProjection,
          }),
        );
      }
    }
    this.upsampler = o.addUpsample ? new Upsample2D(scope.at('upsamplers.0'), o.outCh, o.outCh) : null;
  }

  /** `skips` are this block's skips in push order; the last is consumed first. */
  forward<T>(ops: Ops<T>, x: T, skips: T[], temb: T, context: T, upsampleSize?: readonly [number, number]): T {
    const stack = [...skips];
    let h = x;
    this.resnets.forEach((resnet, j) => {
      const skip = stack.pop()!;
      h = resnet.forward(ops, ops.concat([h, skip], 3), temb);
      const attn = this.attentions[j];
      if (attn) h = attn.forward(ops, h, context);
    });
    if (this.upsampler) h = this.upsampler.forward(ops, h, upsampleSize);
    return h;
  }
}
