import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ApertureDepthError } from '../../core/errors.ts';

/** A public Marigold depth checkpoint this project knows by name. Never downloaded by this tool. */
export interface KnownModel {
  name: string;
  /** Hugging Face Hub repository. */
  repo: string;
  /** The sampler its scheduler config selects, and the steps / resolution it is meant for. */
  scheduler: 'ddim' | 'lcm';
  defaultSteps: number;
  processingResolution: number;
  description: string;
}

/** Known checkpoints, by the name used on the command line (`--model marigold-depth-lcm-v1-0`). */
export const KNOWN_MODELS: Readonly<Record<string, Readonly<KnownModel>>> = Object.freeze({
  'marigold-depth-v1-0': Object.freeze({
    name: 'marigold-depth-v1-0',
    repo: 'prs-eth/marigold-depth-v1-0',
    scheduler: 'ddim',
    defaultSteps: 10,
    processingResolution: 768,
    description: 'Marigold v1.0 (CVPR 2024): DDIM, v-prediction, leading spacing; 10-50 steps',
  }),
  'marigold-depth-v1-1': Object.freeze({
    name: 'marigold-depth-v1-1',
    repo: 'prs-eth/marigold-depth-v1-1',
    scheduler: 'ddim',
    defaultSteps: 4,
    processingResolution: 768,
    description: 'Marigold v1.1: DDIM trailing with zero-SNR rescaling; 1-4 steps',
  }),
  'marigold-depth-lcm-v1-0': Object.freeze({
    name: 'marigold-depth-lcm-v1-0',
    repo: 'prs-eth/marigold-depth-lcm-v1-0',
    scheduler: 'lcm',
    defaultSteps: 1,
    processingResolution: 768,
    description: "Marigold-LCM v1.0: latent consistency distillation, 1-4 steps (the paper's prior)",
  }),
});

/** Where named models live: `$APERTURE_DEPTH_MODELS`, else `~/.cache/aperture-depth/models`. */
export function modelsRoot(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.APERTURE_DEPTH_MODELS;
  return fromEnv && fromEnv.trim() !== ''
    ? resolve(fromEnv)
    : join(homedir(), '.cache', 'aperture-depth', 'models');
}

/** What `resolveModel` found: the folder, and the registry entry when the model was named. */
export interface ResolvedModel {
  path: string;
  known?: Readonly<KnownModel>;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The shell commands that put a known model where `resolveModel` looks for it. */
export function downloadInstructions(model: KnownModel, target: string): string {
  return [
    `  pip install -U "huggingface_hub[cli]"`,
    `  huggingface-cli download ${model.repo} --local-dir ${target}`,
    `(or clone https://huggingface.co/${model.repo} with git-lfs into that folder)`,
  ].join('\n');
}

/**
 * A model folder from a path or a known name. A path that exists is returned as is; a known name is looked
 * up as `<modelsRoot>/<name>`. A missing model is an error that says where to put it and how to get it; this
 * function never downloads.
 * @example resolveModel('marigold-depth-lcm-v1-0') // { path: '/home/me/.cache/aperture-depth/models/marigold-depth-lcm-v1-0', known: {...} }
 */
export function resolveModel(nameOrPath: string, env: NodeJS.ProcessEnv = process.env): ResolvedModel {
  const known = Object.hasOwn(KNOWN_MODELS, nameOrPath) ? KNOWN_MODELS[nameOrPath] : undefined;
  if (!known) {
    if (isDir(nameOrPath)) return { path: resolve(nameOrPath) };
    const looksLikePath = /[\\/.~]/.test(nameOrPath);
    throw new ApertureDepthError(
      looksLikePath
        ? 'model folder not found (give a diffusers folder with model_index.json, or a known model name: ' +
            `${Object.keys(KNOWN_MODELS).join(', ')})`
        : `unknown model name; known names: ${Object.keys(KNOWN_MODELS).join(', ')}; or give the path of a diffusers folder`,
      { key: '--model', file: nameOrPath },
    );
  }
  // A folder of that name in the working directory wins over the cache, like any explicit path.
  if (isDir(nameOrPath) && existsSync(join(nameOrPath, 'model_index.json')))
    return { path: resolve(nameOrPath), known };
  const root = modelsRoot(env);
  const target = join(root, known.name);
  if (existsSync(join(target, 'model_index.json'))) return { path: target, known };
  const why = isDir(target)
    ? `${target} exists but has no model_index.json (incomplete download?)`
    : `${target} does not exist`;
  throw new ApertureDepthError(
    `model "${known.name}" (${known.repo}) is not installed: ${why}.\n` +
      `This tool never downloads. Put the diffusers folder there (model_index.json, unet/, vae/, text_encoder/, ` +
      `tokenizer/, scheduler/ with *.safetensors weights), e.g.:\n${downloadInstructions(known, target)}\n` +
      `Set APERTURE_DEPTH_MODELS to use another models folder (now: ${root}), or pass --model <path>.`,
    { key: '--model' },
  );
}
