import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { Linear } from './linear.ts';
import { multiHeadAttention } from './multi-head-attention.ts';

export interface AttentionOptions {
  queryDim: number;
  /** Key/value input size for cross-attention; the query size for self-attention. */
  crossDim?: number;
  heads: number;
  headDim: number;
  /** Bias on to_q/to_k/to_v (VAE: yes; UNet transformer blocks: no). to_out always has one. */
  qkvBias: boolean;
}

/** diffusers `Attention` (AttnProcessor math) on token sequences `[B, S, C]`: to_q/to_k/to_v, to_out.0. */
export class Attention {
  readonly toQ: Linear;
  readonly toK: Linear;
  readonly toV: Linear;
  readonly toOut: Linear;
  readonly heads: number;
  readonly scale: number;

  constructor(scope: ParamScope, o: AttentionOptions) {
    const inner = o.heads * o.headDim;
    const kvDim = o.crossDim ?? o.queryDim;
    this.toQ = new Linear(scope.at('to_q'), o.queryDim, inner, o.qkvBias);
    this.toK = new Linear(scope.at('to_k'), kvDim, inner, o.qkvBias);
    this.toV = new Linear(scope.at('to_v'), kvDim, inner, o.qkvBias);
    this.toOut = new Linear(scope.at('to_out.0'), inner, o.queryDim, true);
    this.heads = o.heads;
    this.scale = o.headDim ** -0.5;
  }

  /** x `[B, S, C]`, context `[B, S', D]` (self-attention when absent) -> `[B, S, C]`. */
  forward<T>(ops: Ops<T>, x: T, context?: T): T {
    const kv = context ?? x;
    const q = this.toQ.forward(ops, x);
    const k = this.toK.forward(ops, kv);
    const v = this.toV.forward(ops, kv);
    return this.toOut.forward(ops, multiHeadAttention(ops, q, k, v, this.heads, this.scale));
  }
}
