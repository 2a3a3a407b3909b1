import { check } from '../../../core/errors.ts';
import type { Param } from '../../checkpoint/param.ts';
import { ParamScope } from '../../checkpoint/param-scope.ts';
import type { ParamSource } from '../../checkpoint/param-source.ts';
import type { Ops } from '../../ops/ops.ts';
import { LayerNorm } from '../common/layer-norm.ts';
import { ModelBase } from '../common/model.ts';
import type { ClipTextConfig } from './config.ts';
import { ClipEncoderLayer } from './encoder-layer.ts';

/** torch.finfo(float32).min, what transformers puts above the diagonal of the causal mask. */
const MASKED = -3.4028234663852886e38;

/**
 * transformers `CLIPTextModel` (weights under `text_model.`): token + position embeddings, causal
 * encoder layers, final LayerNorm. `forward` returns the last hidden state, what Marigold conditions on.
 */
export class ClipTextModel extends ModelBase {
  readonly tokenEmbedding: Param;
  readonly positionEmbedding: Param;
  readonly layers: ClipEncoderLayer[];
  readonly finalLayerNorm: LayerNorm;

  constructor(
    readonly config: ClipTextConfig,
    source: ParamSource,
  ) {
    const s = new ParamScope(source, 'text_model');
    const d = config.hidden_size;
    const tokenEmbedding = s.at('embeddings.token_embedding').table(config.vocab_size, d);
    const positionEmbedding = s.at('embeddings.position_embedding').table(config.max_position_embeddings, d);
    const layers = Array.from({ length: config.num_hidden_layers }, (_, i) => new ClipEncoderLayer(s.at(`encoder.layers.${i}`), config));
    const finalLayerNorm = new LayerNorm(s.at('final_layer_norm'), d, config.layer_norm_eps);
    super(source.params());
    this.tokenEmbedding = tokenEmbedding;
    this.positionEmbedding = positionEmbedding;
    this.layers = layers;
    this.finalLayerNorm = finalLayerNorm;
  }

  /** Token ids (e.g. the empty prompt `[BOS, EOS]`) -> last hidden state `[1, S, hidden_size]`. */
  forward<T>(ops: Ops<T>, inputIds: readonly number[]): T {
    const n = inputIds.length;
    const c = this.config;
    check(n >= 1 && n <= c.max_position_embeddings, () => `${n} tokens; expected 1..${c.max_position_embeddings}`, {
      key: 'ClipTextModel.forward(inputIds)',
    });
    for (const id of inputIds) {
      check(Number.isInteger(id) && id >= 0 && id < c.vocab_size, () => `token id ${id} outside the vocabulary (${c.vocab_size})`, {
        key: 'ClipTextModel.forward(inputIds)',
      });
    }
    const positions = Array.from({ length: n }, (_, i) => i);
    const tok = ops.gatherRows(ops.param(this.tokenEmbedding), inputIds); // [S, D]
    const pos = ops.gatherRows(ops.param(this.positionEmbedding), positions); // [S, D]
    let h = ops.reshape(ops.add(tok, pos), [1, n, c.hidden_size]);
    const maskData = new Float32Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) maskData[i * n + j] = MASKED;
    const mask = ops.constant(maskData, [n, n]);
    for (const layer of this.layers) h = layer.forward(ops, h, mask);
    return this.finalLayerNorm.forward(ops, h);
  }
}
