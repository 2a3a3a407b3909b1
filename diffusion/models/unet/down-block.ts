import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { Downsample2D } from '../common/downsample.ts';
import { ResnetBlock2D } from '../common/resnet-block.ts';
import { Transformer2D } from './transformer-2d.ts';

export interface DownBlockOptions {
  inCh: number;
  outCh: number;
  tembCh: number;
  layers: number;
  groups: number;
  eps: number;
  addDownsample: boolean;
  downsamplePadding: number;
  /** Present for CrossAttnDownBlock2D. */
  attention?: { heads: number; transformerLayers: number; crossDim: number; linearProjection: boolean };
}

/**
 * diffusers `DownBlock2D` and `CrossAttnDownBlock2D` (the latter when `attention` is given): resnets
 * (each followed by a Transformer2D), then an optional stride-2 downsampler. Returns the output and
 * every intermediate state, which the UNet keeps as skips.
 */
export class UNetDownBlock {
  readonly resnets: ResnetBlock2D[];
  readonly attentions: Transformer2D[];
  readonly downsampler: Downsample2D | null;

  constructor(scope: ParamScope, o: DownBlockOptions) {
    this.resnets = [];
    this.attentions = [];
    for (let j = 0; j < o.layers; j++) {
      this.resnets.push(
        new ResnetBlock2D(scope.at(`resnets.${j}`), {
          inCh: j === 0 ? o.inCh : o.outCh,
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
    this.downsampler = o.addDownsample
      ? new Downsample2D(scope.at('downsamplers.0'), o.outCh, o.outCh, o.downsamplePadding)
      : null;
  }

  forward<T>(ops: Ops<T>, x: T, temb: T, context: T): { out: T; skips: T[] } {
    const skips: T[] = [];
    let h = x;
    this.resnets.forEach((resnet, j) => {
      h = resnet.forward(ops, h, temb);
      const attn = this.attentions[j];
      if (attn) h = attn.forward(ops, h, context);
      skips.push(h);
    });
    if (this.downsampler) {
      h = this.downsampler.forward(ops, h);
      skips.push(h);
    }
    return { out: h, skips };
  }
}
