import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The prior `estimate` uses when no `--model` is given: the embedded default model folder (issue 6), the
 * one place that names it.
 */
export const DEFAULT_MODEL_DIR = 'models/aperture-depth-tiny';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The default model's absolute path, or undefined while it does not exist (the caller falls back). */
export function defaultModelPath(): string | undefined {
  const p = join(repoRoot, DEFAULT_MODEL_DIR);
  return existsSync(join(p, 'model_index.json')) ? p : undefined;
}
