import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { Attention } from '../common/attention.ts';
import { LayerNorm } from '../common/layer-norm.ts';
import { GegluFeedForward } from './feed-forward.ts';

/** diffusers `BasicTransformerBlock`: self-attn, cross-attn, GEGLU, each pre-LayerNorm with a residual. */
export class BasicTransformerBlock {
  readonly norm1: LayerNorm;
  readonly attn1: Attention;
  readonly norm2: LayerNorm;
  readonly attn2: Attention;
  readonly norm3: LayerNorm;
  readonly ff: GegluFeedForward;

  constructor(scope: ParamScope, dim: number, heads: number, headDim: number, crossDim: number) {
    this.norm1 = new LayerNorm(scope.at('norm1'), dim, 1e-5);
    this.attn1 = new Attention(scope.at('attn1'), { queryDim: dim, heads, headDim, qkvBias: false });
    this.norm2 = new LayerNorm(scope.at('norm2'), dim, 1e-5);
    this.attn2 = new Attention(scope.at('attn2'), { queryDim: dim, crossDim, heads, headDim, qkvBias: false });
    this.norm3 = new LayerNorm(scope.at('norm3'), dim, 1e-5);
    this.ff = new GegluFeedForward(scope.at('ff'), dim);
  }

  /** x `[B, S, dim]`, context `[B, S', crossDim]`. */
  forward<T>(ops: Ops<T>, x: T, context: T): T {
    let h = ops.add(x, this.attn1.forward(ops, this.norm1.forward(ops, x)));
    h = ops.add(h, this.attn2.forward(ops, this.norm2.forward(ops, h), context));
    return ops.add(h, this.ff.forward(ops, this.norm3.forward(ops, h)));
  }
}
