/**
 * Writes a trained prior as a diffusers Marigold folder: model_index.json, unet/, vae/, text_encoder/,
 * tokenizer/, scheduler/ (configs as JSON, weights as safetensors with diffusers / transformers names), so
 * that `MarigoldPrior.load(dir)` (and diffusers) read it like any Marigold checkpoint.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/io/atomic.ts';
import type { Param } from '../../diffusion/checkpoint/param.ts';
import { saveSafetensors, type NamedWeight, type SaveDtype } from '../../diffusion/checkpoint/save-weights.ts';
import { tfjsOps } from '../../diffusion/ops/tfjs-ops.ts';
import type { PriorConfigs } from './model-configs.ts';

/** A network's weights for export: its Params (names, shapes, layouts) and current values by name. */
export interface NetworkWeights {
  params: readonly Param[];
  /** Values by parameter name; a Param missing here is read from its executor binding. */
  values?: ReadonlyMap<string, Float32Array>;
}

function namedWeights(net: NetworkWeights): NamedWeight[] {
  return net.params.map((p) => {
    const data = net.values?.get(p.name) ?? (tfjsOps.param(p).dataSync() as Float32Array);
    check(data.length === p.size, () => `weight "${p.name}" has ${data.length} values, expected ${p.size}`, { key: p.name });
    return { name: p.name, shape: p.shape, layout: p.layout, data };
  });
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

export interface ExportOptions {
  /** Weight precision on disk (computation is float32 either way). @default 'F16' */
  dtype?: SaveDtype;
}

/** Writes the folder; returns the files written (relative paths). */
export function exportPriorFolder(
  dir: string,
  configs: PriorConfigs,
  nets: { unet: NetworkWeights; vae: NetworkWeights; textEncoder: NetworkWeights },
  options: ExportOptions = {},
): string[] {
  const dtype = options.dtype ?? 'F16';
  mkdirSync(dir, { recursive: true });
  const files: [string, string | (() => void)][] = [
    ['model_index.json', json(configs.modelIndex)],
    ['scheduler/scheduler_config.json', json(configs.scheduler)],
    ['unet/config.json', json(configs.unet)],
    ['vae/config.json', json(configs.vae)],
    ['text_encoder/config.json', json(configs.textEncoder)],
    ['tokenizer/vocab.json', json(configs.tokenizer.vocab)],
    ['tokenizer/merges.txt', '#version: 0.2\n'],
    ['tokenizer/tokenizer_config.json', json(configs.tokenizer.config)],
    ['tokenizer/special_tokens_map.json', json(configs.tokenizer.specialTokens)],
  ];
  for (const [rel, text] of files) writeFileAtomic(join(dir, rel), text as string);
  saveSafetensors(join(dir, 'unet/diffusion_pytorch_model.safetensors'), namedWeights(nets.unet), dtype);
  saveSafetensors(join(dir, 'vae/diffusion_pytorch_model.safetensors'), namedWeights(nets.vae), dtype);
  // transformers keeps text encoders in float32 unless asked; it is tiny here.
  saveSafetensors(join(dir, 'text_encoder/model.safetensors'), namedWeights(nets.textEncoder), 'F32');
  return [
    ...files.map(([rel]) => rel),
    'unet/diffusion_pytorch_model.safetensors',
    'vae/diffusion_pytorch_model.safetensors',
    'text_encoder/model.safetensors',
  ];
}
