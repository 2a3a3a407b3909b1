import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { Conv2d } from '../common/conv2d.ts';
import { GroupNorm } from '../common/group-norm.ts';
import { Linear } from '../common/linear.ts';
import { BasicTransformerBlock } from './basic-transformer-block.ts';

export interface Transformer2DOptions {
  channels: number;
  heads: number;
  layers: number;
  crossDim: number;
  groups: number;
  linearProjection: boolean;
}

/**
 * diffusers `Transformer2DModel` (continuous input): GroupNorm (eps 1e-6), proj_in (Linear on tokens, or
 * a 1x1 conv before flattening), transformer blocks, proj_out, residual. NHWC in and out.
 */
export class Transformer2D {
  readonly norm: GroupNorm;
  readonly projIn: Linear | Conv2d;
  readonly blocks: BasicTransformerBlock[];
  readonly projOut: Linear | Conv2d;
  readonly linearProjection: boolean;

  constructor(scope: ParamScope, o: Transformer2DOptions) {
    const headDim = Math.floor(o.channels / o.heads);
    const inner = o.heads * headDim;
    this.linearProjection = o.linearProjection;
    this.norm = new GroupNorm(scope.at('norm'), o.groups, o.channels, 1e-6);
    this.projIn = o.linearProjection
      ? new Linear(scope.at('proj_in'), o.channels, inner)
      : new Conv2d(scope.at('proj_in'), o.channels, inner, 1);
    this.blocks = Array.from(
      { length: o.layers },
      (_, i) => new BasicTransformerBlock(scope.at(`transformer_blocks.${i}`), inner, o.heads, headDim, o.crossDim),
    );
    this.projOut = o.linearProjection
      ? new Linear(scope.at('proj_out'), inner, o.channels)
      : new Conv2d(scope.at('proj_out'), inner, o.channels, 1);
  }

  /** x `[B, H, W, C]`, context `[B, S, crossDim]` -> `[B, H, W, C]`. */
  forward<T>(ops: Ops<T>, x: T, context: T): T {
    const [b, h, w, c] = ops.shape(x) as [number, number, number, number];
    let t = this.norm.forward(ops, x);
    if (this.linearProjection) {
      t = this.projIn.forward(ops, ops.reshape(t, [b, h * w, c])); // [B, HW, inner]
    } else {
      t = this.projIn.forward(ops, t);
      t = ops.reshape(t, [b, h * w, ops.shape(t)[3]!]);
    }
    for (const block of this.blocks) t = block.forward(ops, t, context);
    const inner = ops.shape(t)[2]!;
    const out = this.linearProjection
      ? ops.reshape(this.projOut.forward(ops, t), [b, h, w, c])
      : this.projOut.forward(ops, ops.reshape(t, [b, h, w, inner]));
    return ops.add(out, x);
  }
}
