import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { ResnetBlock2D } from '../common/resnet-block.ts';
import { Transformer2D } from './transformer-2d.ts';

export interface MidBlockOptions {
  channels: number;
  tembCh: number;
  groups: number;
  eps: number;
  outputScaleFactor: number;
  heads: number;
  transformerLayers: number;
  crossDim: number;
  linearProjection: boolean;
}

/** diffusers `UNetMidBlock2DCrossAttn`: resnet, (Transformer2D, resnet). */
export class UNetMidBlockCrossAttn {
  readonly resnets: ResnetBlock2D[];
  readonly attentions: Transformer2D[];

  constructor(scope: ParamScope, o: MidBlockOptions) {
    const resnet = (j: number) =>
      new ResnetBlock2D(scope.at(`resnets.${j}`), {
        inCh: o.channels,
        outCh: o.channels,
        tembCh: o.tembCh,
        groups: o.groups,
        eps: o.eps,
        outputScaleFactor: o.outputScaleFactor,
      });
    this.resnets = [resnet(0), resnet(1)];
    this.attentions = [
      new Transformer2D(scope.at('attentions.0'), {
        channels: o.channels,
        heads: o.heads,
        layers: o.transformerLayers,
        crossDim: o.crossDim,
        groups: o.groups,
        linearProjection: o.linearProjection,
      }),
    ];
  }

  forward<T>(ops: Ops<T>, x: T, temb: T, context: T): T {
    let h = this.resnets[0]!.forward(ops, x, temb);
    h = this.attentions[0]!.forward(ops, h, context);
    return this.resnets[1]!.forward(ops, h, temb);
  }
}
