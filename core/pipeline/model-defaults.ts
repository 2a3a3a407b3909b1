import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../errors.ts';
import { readJsonFile } from '../io/json-file.ts';
import type { OptimizerConfigInput } from '../../optimizers/config.ts';

/**
 * A prior's own settings for the defocus optimization, in its model folder beside `model_index.json`:
 *
 *   { "optimizer": { "lr": { "latent": 0.005 } }, "about": "why, and where it was chosen" }
 *
 * The paper's latent learning rate (1.5e-3, the library default) was set for Marigold's 865M-parameter UNet;
 * a much smaller prior moves its depth less per unit of latent and wants larger steps. The file applies only
 * where neither the config nor the caller sets the value, so a config stays the whole story when it names
 * it, and a Marigold folder (no such file) gets the paper's rate. `run.json` records which applied.
 */
export const MODEL_DEFAULTS_FILE = 'defocus_defaults.json';

/** What a model folder's {@link MODEL_DEFAULTS_FILE} holds. */
export interface ModelDefocusDefaults {
  /** The file it came from. */
  file: string;
  /** Adam learning rate of the noise latent. */
  lrLatent?: number;
}

/** Reads `modelDir/defocus_defaults.json`; undefined when the folder has none. Unknown keys are errors. */
export function readModelDefaults(modelDir: string): ModelDefocusDefaults | undefined {
  const file = join(modelDir, MODEL_DEFAULTS_FILE);
  if (!existsSync(file)) return undefined;
  const json = readJsonFile(file, 'model defaults');
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const known = (obj: Record<string, unknown>, keys: readonly string[], path: string) => {
    for (const k of Object.keys(obj)) {
      check(keys.includes(k), () => `unknown key (expected ${keys.join(' or ')})`, {
        file,
        key: path ? `${path}.${k}` : k,
      });
    }
  };
  check(isObject(json), () => 'expected a JSON object', { file });
  known(json, ['optimizer', 'about'], '');
  const out: ModelDefocusDefaults = { file };
  if (json.optimizer === undefined) return out;
  check(isObject(json.optimizer), () => 'expected an object', { file, key: 'optimizer' });
  known(json.optimizer, ['lr'], 'optimizer');
  const lr = json.optimizer.lr;
  if (lr === undefined) return out;
  check(isObject(lr), () => 'expected an object', { file, key: 'optimizer.lr' });
  known(lr, ['latent'], 'optimizer.lr');
  if (lr.latent !== undefined) {
    check(
      typeof lr.latent === 'number' && Number.isFinite(lr.latent) && lr.latent > 0,
      () => `expected a positive number, got ${JSON.stringify(lr.latent)}`,
      { file, key: 'optimizer.lr.latent' },
    );
    out.lrLatent = lr.latent;
  }
  return out;
}

/**
 * The optimizer input with the model's defaults filled in where it leaves them unset, and what came from
 * where (`lr.latent`: `config` when the input set it, `model` from the folder's file, `library` otherwise).
 */
export function withModelDefaults(
  input: OptimizerConfigInput,
  defaults: ModelDefocusDefaults | undefined,
): {
  input: OptimizerConfigInput;
  source: { lr_latent: 'config' | 'model' | 'library'; file: string | null };
} {
  if (input.lr?.latent !== undefined) return { input, source: { lr_latent: 'config', file: null } };
  if (defaults?.lrLatent === undefined) return { input, source: { lr_latent: 'library', file: null } };
  return {
    input: { ...input, lr: { ...input.lr, latent: defaults.lrLatent } },
    source: { lr_latent: 'model', file: defaults.file },
  };
}
