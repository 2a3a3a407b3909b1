import { ConfigReader, isUnset } from '../common/config-reader.ts';
import { check } from '../../../core/errors.ts';

export const UNET_DOWN_BLOCKS = Object.freeze(['DownBlock2D', 'CrossAttnDownBlock2D'] as const);
export const UNET_UP_BLOCKS = Object.freeze(['UpBlock2D', 'CrossAttnUpBlock2D'] as const);
export type UNetDownBlockType = (typeof UNET_DOWN_BLOCKS)[number];
export type UNetUpBlockType = (typeof UNET_UP_BLOCKS)[number];

/**
 * The UNet2DConditionModel config.json keys this port reads, diffusers names, defaults resolved and
 * per-block values expanded to lists. `num_attention_heads` is the per-down-block head COUNT, taken from
 * `attention_head_dim` as diffusers does (see PORTING-NOTES 1).
 */
export interface UNetConfig {
  in_channels: number;
  out_channels: number;
  block_out_channels: number[];
  down_block_types: UNetDownBlockType[];
  up_block_types: UNetUpBlockType[];
  mid_block_type: 'UNetMidBlock2DCrossAttn' | null;
  layers_per_block: number[];
  transformer_layers_per_block: number[];
  /** Head counts per down block (up blocks use it reversed, the mid block the last entry). */
  num_attention_heads: number[];
  cross_attention_dim: number[];
  use_linear_projection: boolean;
  upcast_attention: boolean;
  norm_num_groups: number;
  norm_eps: number;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  downsample_padding: number;
  mid_block_scale_factor: number;
  conv_in_kernel: number;
  conv_out_kernel: number;
  /** Time embedding width (`time_embedding_dim` or 4 x block_out_channels[0]). */
  time_embedding_dim: number;
  sample_size?: number;
  /** The config.json as read. */
  raw: Record<string, unknown>;
}

/** Parses and checks a UNet config.json object; errors name `file` and the key. */
export function parseUNetConfig(raw: Record<string, unknown>, file = '<unet config>'): UNetConfig {
  const r = new ConfigReader(raw, file);
  const cls = raw._class_name;
  check(cls === undefined || cls === 'UNet2DConditionModel', () => `expected UNet2DConditionModel, got ${String(cls)}`, {
    file,
    key: '_class_name',
  });
  const boc = r.intList('block_out_channels', [320, 640, 1280, 1280]);
  const n = boc.length;
  const down = r.strList('down_block_types', ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D']);
  const up = r.strList('up_block_types', ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D']);
  check(down.length === n, () => `${down.length} down blocks for ${n} block_out_channels`, { file, key: 'down_block_types' });
  check(up.length === n, () => `${up.length} up blocks for ${n} block_out_channels`, { file, key: 'up_block_types' });
  down.forEach((t, i) =>
    check((UNET_DOWN_BLOCKS as readonly string[]).includes(t), () => `unsupported block "${t}"; supported: ${UNET_DOWN_BLOCKS.join(', ')}`, {
      file,
      key: `down_block_types[${i}]`,
    }),
  );
  up.forEach((t, i) =>
    check((UNET_UP_BLOCKS as readonly string[]).includes(t), () => `unsupported block "${t}"; supported: ${UNET_UP_BLOCKS.join(', ')}`, {
      file,
      key: `up_block_types[${i}]`,
    }),
  );
  const mid = raw.mid_block_type === undefined ? 'UNetMidBlock2DCrossAttn' : raw.mid_block_type;
  check(mid === null || mid === 'UNetMidBlock2DCrossAttn', () => `unsupported mid block ${JSON.stringify(mid)}`, {
    file,
    key: 'mid_block_type',
  });
  // Options that would change the math and are not implemented here.
  r.unsupportedUnless('class_embed_type', isUnset(), 'class embeddings');
  r.unsupportedUnless('addition_embed_type', isUnset(), 'addition embeddings');
  r.unsupportedUnless('encoder_hid_dim', isUnset(), 'encoder_hid_proj');
  r.unsupportedUnless('time_cond_proj_dim', isUnset(), 'timestep conditioning projection');
  r.unsupportedUnless('time_embedding_type', isUnset('positional'), 'only positional time embedding');
  r.unsupportedUnless('time_embedding_act_fn', isUnset(), 'time embedding activation');
  r.unsupportedUnless('timestep_post_act', isUnset(), 'timestep post activation');
  r.unsupportedUnless('resnet_time_scale_shift', isUnset('default'), 'only "default" time scale-shift');
  r.unsupportedUnless('act_fn', isUnset('silu'), 'only silu');
  r.unsupportedUnless('center_input_sample', isUnset(false), 'input centring');
  r.unsupportedUnless('dual_cross_attention', isUnset(false), 'dual cross-attention');
  r.unsupportedUnless('only_cross_attention', isUnset(false), 'only_cross_attention');
  r.unsupportedUnless('cross_attention_norm', isUnset(), 'cross-attention norm');
  r.unsupportedUnless('attention_type', isUnset('default'), 'only default attention');
  r.unsupportedUnless('reverse_transformer_layers_per_block', isUnset(), 'reverse_transformer_layers_per_block');
  const headsKey = raw.num_attention_heads === undefined || raw.num_attention_heads === null ? 'attention_head_dim' : 'num_attention_heads';
  const heads = r.intPerBlock(headsKey, n, 8);
  const convIn = r.int('conv_in_kernel', 3);
  const convOut = r.int('conv_out_kernel', 3);
  check(convIn % 2 === 1, () => 'must be odd', { file, key: 'conv_in_kernel' });
  check(convOut % 2 === 1, () => 'must be odd', { file, key: 'conv_out_kernel' });
  const cfg: UNetConfig = {
    in_channels: r.int('in_channels', 4),
    out_channels: r.int('out_channels', 4),
    block_out_channels: boc,
    down_block_types: down as UNetDownBlockType[],
    up_block_types: up as UNetUpBlockType[],
    mid_block_type: mid as 'UNetMidBlock2DCrossAttn' | null,
    layers_per_block: r.intPerBlock('layers_per_block', n, 2),
    transformer_layers_per_block: r.intPerBlock('transformer_layers_per_block', n, 1),
    num_attention_heads: heads,
    cross_attention_dim: r.intPerBlock('cross_attention_dim', n, 1280),
    use_linear_projection: r.bool('use_linear_projection', false),
    upcast_attention: r.bool('upcast_attention', false),
    norm_num_groups: r.int('norm_num_groups', 32),
    norm_eps: r.num('norm_eps', 1e-5),
    flip_sin_to_cos: r.bool('flip_sin_to_cos', true),
    freq_shift: r.num('freq_shift', 0),
    downsample_padding: r.int('downsample_padding', 1),
    mid_block_scale_factor: r.num('mid_block_scale_factor', 1),
    conv_in_kernel: convIn,
    conv_out_kernel: convOut,
    time_embedding_dim: r.int('time_embedding_dim', boc[0]! * 4),
    raw,
  };
  if (typeof raw.sample_size === 'number') cfg.sample_size = raw.sample_size;
  boc.forEach((c, i) => {
    check(c % cfg.norm_num_groups === 0, () => `${c} channels not divisible by norm_num_groups ${cfg.norm_num_groups}`, {
      file,
      key: `block_out_channels[${i}]`,
    });
    const attn = down[i] === 'CrossAttnDownBlock2D' || up[n - 1 - i] === 'CrossAttnUpBlock2D';
    check(!attn || c % heads[i]! === 0, () => `${c} channels not divisible by ${heads[i]} heads`, {
      file,
      key: `${headsKey}[${i}]`,
    });
  });
  return cfg;
}
