import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { LayerNorm } from '../common/layer-norm.ts';
import { Linear } from '../common/linear.ts';
import { multiHeadAttention } from '../common/multi-head-attention.ts';
import type { ClipTextConfig } from './config.ts';

/** transformers `CLIPEncoderLayer`: pre-LN causal self-attention and MLP, each with a residual. */
export class ClipEncoderLayer {
  readonly layerNorm1: LayerNorm;
  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly outProj: Linear;
  readonly layerNorm2: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(
    scope: ParamScope,
    private readonly c: ClipTextConfig,
  ) {
    const d = c.hidden_size;
    const attn = scope.at('self_attn');
    this.layerNorm1 = new LayerNorm(scope.at('layer_norm1'), d, c.layer_norm_eps);
    this.qProj = new Linear(attn.at('q_proj'), d, d);
    this.kProj = new Linear(attn.at('k_proj'), d, d);
    this.vProj = new Linear(attn.at('v_proj'), d, d);
    this.outProj = new Linear(attn.at('out_proj'), d, d);
    this.layerNorm2 = new LayerNorm(scope.at('layer_norm2'), d, c.layer_norm_eps);
    this.fc1 = new Linear(scope.at('mlp.fc1'), d, c.intermediate_size);
    this.fc2 = new Linear(scope.at('mlp.fc2'), c.intermediate_size, d);
  }

  /** x `[B, S, D]`, causal mask `[S, S]` (0 / very negative). */
  forward<T>(ops: Ops<T>, x: T, causalMask: T): T {
    const heads = this.c.num_attention_heads;
    const h = this.layerNorm1.forward(ops, x);
    const q = this.qProj.forward(ops, h);
    const k = this.kProj.forward(ops, h);
    const v = this.vProj.forward(ops, h);
    const scale = (this.c.hidden_size / heads) ** -0.5;
    const attn = this.outProj.forward(ops, multiHeadAttention(ops, q, k, v, heads, scale, causalMask));
    const r = ops.add(x, attn);
    let m = this.fc1.forward(ops, this.layerNorm2.forward(ops, r));
    m = this.c.hidden_act === 'gelu' ? ops.gelu(m) : ops.quickGelu(m);
    return ops.add(r, this.fc2.forward(ops, m));
  }
}
