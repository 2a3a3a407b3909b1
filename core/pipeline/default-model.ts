import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The prior `estimate` uses when no `--model` is given: the embedded default model folder (issue 6), the
 * one place that names it. `APERTURE_DEPTH_DEFAULT_MODEL` points it elsewhere (a folder in diffusers layout).
 */
export const DEFAULT_MODEL_DIR = 'models/aperture-depth-tiny';
export const DEFAULT_MODEL_ENV = 'APERTURE_DEPTH_DEFAULT_MODEL';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The default model's absolute path, or undefined while it does not exist (the caller falls back). */
export function defaultModelPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const p = env[DEFAULT_MODEL_ENV] ? resolve(env[DEFAULT_MODEL_ENV]!) : join(repoRoot, DEFAULT_MODEL_DIR);
  return existsSync(join(p, 'model_index.json')) ? p : undefined;
}

/** The model a command was asked for: `model`, unless absent or `default` (then the default model applies). */
export function requestedModel(model: string | undefined): string | undefined {
  return model && model !== 'default' ? model : undefined;
}
