import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApertureDepthError, check } from '../../core/errors.ts';
import { readJsonFile } from '../../core/io/json-file.ts';
import { openSafetensors } from '../../core/io/safetensors.ts';
import { CheckpointSource } from './checkpoint-source.ts';
import type { Param } from './param.ts';
import type { ParamSource } from './param-source.ts';

/** Weight files looked for in a component folder, in order (full precision first). */
export const WEIGHT_FILE_NAMES = Object.freeze([
  'diffusion_pytorch_model.safetensors',
  'model.safetensors',
  'diffusion_pytorch_model.safetensors.index.json',
  'model.safetensors.index.json',
  'diffusion_pytorch_model.fp16.safetensors',
  'model.fp16.safetensors',
  'diffusion_pytorch_model.fp16.safetensors.index.json',
  'model.fp16.safetensors.index.json',
]);

/** The weights file of a diffusers/transformers component folder (e.g. `<ckpt>/unet`). */
export function findWeightsFile(dir: string): string {
  check(fs.existsSync(dir) && fs.statSync(dir).isDirectory(), () => 'component folder not found', { file: dir });
  for (const name of WEIGHT_FILE_NAMES) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  const pickles = fs.readdirSync(dir).filter((f) => f.endsWith('.bin') || f.endsWith('.ckpt') || f.endsWith('.pt'));
  throw new ApertureDepthError(
    pickles.length
      ? `only pickled weights (${pickles.join(', ')}); convert them to safetensors (diffusers save_pretrained(safe_serialization=True))`
      : `no weights file; expected one of ${WEIGHT_FILE_NAMES.join(', ')}`,
    { file: dir },
  );
}

/** The component's config.json as an object, with its path for error messages. */
export function readComponentConfig(dir: string): { raw: Record<string, unknown>; file: string } {
  const file = path.join(dir, 'config.json');
  // Size-capped, regular files only, syntax errors with line and column.
  const raw = readJsonFile(file, 'config');
  check(raw !== null && typeof raw === 'object' && !Array.isArray(raw), () => 'config is not a JSON object', { file });
  return { raw: raw as Record<string, unknown>, file };
}

export interface LoadOptions {
  /** Make every weight trainable (tf.Variable) instead of a frozen constant. @default false */
  trainable?: boolean;
}

/**
 * Builds a component from its folder: reads config.json, opens the weights, lets `build` construct the
 * network (each module takes its weights by name), then rejects unused checkpoint tensors. A missing,
 * misshapen or unexpected weight is an ApertureDepthError naming the weight and the folder.
 */
export function loadComponent<M>(
  dir: string,
  build: (raw: Record<string, unknown>, configFile: string, source: ParamSource) => M,
  options: LoadOptions = {},
): { model: M; params: Param[] } {
  const { raw, file } = readComponentConfig(dir);
  const weights = openSafetensors(findWeightsFile(dir));
  try {
    const source = new CheckpointSource(weights, dir, options.trainable ?? false);
    try {
      const model = build(raw, file, source);
      source.finish();
      return { model, params: source.params() };
    } catch (err) {
      // Free what was already bound (tf tensors) before reporting the bad weight.
      for (const p of source.params()) p.dispose();
      throw err;
    }
  } finally {
    weights.close();
  }
}
