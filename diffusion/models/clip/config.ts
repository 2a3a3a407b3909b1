import { check } from '../../../core/errors.ts';
import { ConfigReader } from '../common/config-reader.ts';

export const CLIP_ACTIVATIONS = Object.freeze(['quick_gelu', 'gelu'] as const);
export type ClipActivation = (typeof CLIP_ACTIVATIONS)[number];

/** The CLIPTextModel config.json keys this port reads (transformers names). */
export interface ClipTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  hidden_act: ClipActivation;
  layer_norm_eps: number;
  raw: Record<string, unknown>;
}

export function parseClipTextConfig(raw: Record<string, unknown>, file = '<text_encoder config>'): ClipTextConfig {
  const r = new ConfigReader(raw, file);
  const act = r.str('hidden_act', 'quick_gelu');
  check((CLIP_ACTIVATIONS as readonly string[]).includes(act), () => `unsupported activation "${act}"; supported: ${CLIP_ACTIVATIONS.join(', ')}`, {
    file,
    key: 'hidden_act',
  });
  const cfg: ClipTextConfig = {
    vocab_size: r.int('vocab_size', 49408),
    hidden_size: r.int('hidden_size', 512),
    intermediate_size: r.int('intermediate_size', 2048),
    num_hidden_layers: r.int('num_hidden_layers', 12),
    num_attention_heads: r.int('num_attention_heads', 8),
    max_position_embeddings: r.int('max_position_embeddings', 77),
    hidden_act: act as ClipActivation,
    layer_norm_eps: r.num('layer_norm_eps', 1e-5),
    raw,
  };
  check(cfg.hidden_size % cfg.num_attention_heads === 0, () => `hidden_size ${cfg.hidden_size} not divisible by ${cfg.num_attention_heads} heads`, {
    file,
    key: 'num_attention_heads',
  });
  return cfg;
}
