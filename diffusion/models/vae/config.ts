import { check } from '../../../core/errors.ts';
import { ConfigReader, isUnset } from '../common/config-reader.ts';

/** The AutoencoderKL config.json keys this port reads (diffusers names, defaults resolved). */
export interface VaeConfig {
  in_channels: number;
  out_channels: number;
  latent_channels: number;
  block_out_channels: number[];
  layers_per_block: number;
  norm_num_groups: number;
  /** Marigold encodes with `mean * scaling_factor` and decodes `z / scaling_factor`. */
  scaling_factor: number;
  shift_factor: number | null;
  use_quant_conv: boolean;
  use_post_quant_conv: boolean;
  mid_block_add_attention: boolean;
  sample_size?: number;
  raw: Record<string, unknown>;
}

export function parseVaeConfig(raw: Record<string, unknown>, file = '<vae config>'): VaeConfig {
  const r = new ConfigReader(raw, file);
  const cls = raw._class_name;
  check(cls === undefined || cls === 'AutoencoderKL', () => `expected AutoencoderKL, got ${String(cls)}`, {
    file,
    key: '_class_name',
  });
  const boc = r.intList('block_out_channels', [64]);
  const down = r.strList('down_block_types', boc.map(() => 'DownEncoderBlock2D'));
  const up = r.strList('up_block_types', boc.map(() => 'UpDecoderBlock2D'));
  check(down.length === boc.length && down.every((t) => t === 'DownEncoderBlock2D'), () => `expected ${boc.length} x "DownEncoderBlock2D", got ${JSON.stringify(down)}`, {
    file,
    key: 'down_block_types',
  });
  check(up.length === boc.length && up.every((t) => t === 'UpDecoderBlock2D'), () => `expected ${boc.length} x "UpDecoderBlock2D", got ${JSON.stringify(up)}`, {
    file,
    key: 'up_block_types',
  });
  r.unsupportedUnless('act_fn', isUnset('silu'), 'only silu');
  const groups = r.int('norm_num_groups', 32);
  boc.forEach((c, i) =>
    check(c % groups === 0, () => `${c} channels not divisible by norm_num_groups ${groups}`, {
      file,
      key: `block_out_channels[${i}]`,
    }),
  );
  const cfg: VaeConfig = {
    in_channels: r.int('in_channels', 3),
    out_channels: r.int('out_channels', 3),
    latent_channels: r.int('latent_channels', 4),
    block_out_channels: boc,
    layers_per_block: r.int('layers_per_block', 1),
    norm_num_groups: groups,
    scaling_factor: r.num('scaling_factor', 0.18215),
    shift_factor: raw.shift_factor === undefined || raw.shift_factor === null ? null : r.num('shift_factor'),
    use_quant_conv: r.bool('use_quant_conv', true),
    use_post_quant_conv: r.bool('use_post_quant_conv', true),
    mid_block_add_attention: r.bool('mid_block_add_attention', true),
    raw,
  };
  if (typeof raw.sample_size === 'number') cfg.sample_size = raw.sample_size;
  return cfg;
}
