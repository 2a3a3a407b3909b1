import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApertureDepthError, check } from '../../core/errors.ts';
import { readJsonFile } from '../../core/io/json-file.ts';

/** Weight precision variants diffusers saves side by side (`model.fp16.safetensors`). */
export type WeightsVariant = 'fp32' | 'fp16';

/** The weights of one component as found on disk. */
export interface ComponentWeights {
  /** The `.safetensors` file, or a sharded checkpoint's `.safetensors.index.json`. */
  file: string;
  variant: WeightsVariant;
  sharded: boolean;
}

/** One entry of `model_index.json` (`"unet": ["diffusers", "UNet2DConditionModel"]`) and its folder. */
export interface ModelComponent {
  name: string;
  library: string;
  className: string;
  dir: string;
  /** `config.json` (or `scheduler_config.json` / `tokenizer_config.json`), when the folder has one. */
  configFile?: string;
  /** Weights, for the network components. */
  weights?: ComponentWeights;
}

/** The keys of `model_index.json` this project reads, diffusers' names kept. */
export interface ModelIndex {
  className: string;
  diffusersVersion?: string;
  predictionType?: string;
  defaultDenoisingSteps?: number;
  defaultProcessingResolution?: number;
  scaleInvariant?: boolean;
  shiftInvariant?: boolean;
  raw: Record<string, unknown>;
}

/**
 * A diffusers model folder opened and checked: `model_index.json`, one sub-folder per component, the config
 * files and the weights file of each network (fp32 preferred, the `.fp16` variant otherwise).
 */
export interface ModelFolder {
  root: string;
  index: ModelIndex;
  unet: ModelComponent;
  vae: ModelComponent;
  textEncoder: ModelComponent;
  /** Present when the folder ships `tokenizer/` (real checkpoints and the test fixtures do). */
  tokenizer?: ModelComponent;
  scheduler: ModelComponent;
  /** Every `scheduler*` sub-folder with a `scheduler_config.json` (e.g. `scheduler`, `scheduler_lcm`). */
  schedulerDirs: string[];
}

export interface OpenModelFolderOptions {
  /** Weights to use; by default fp32 when present, else fp16. */
  variant?: WeightsVariant;
}

const NETWORKS = ['unet', 'vae', 'text_encoder'] as const;
const WEIGHT_STEMS: Record<(typeof NETWORKS)[number], string> = {
  unet: 'diffusion_pytorch_model',
  vae: 'diffusion_pytorch_model',
  text_encoder: 'model',
};

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Finds the weights of a component folder: `<stem>[.fp16].safetensors` or its sharded
 * `<stem>[.fp16].safetensors.index.json`. Pickled `.bin` weights are refused with a way out.
 */
export function findComponentWeights(dir: string, stem: string, variant?: WeightsVariant): ComponentWeights {
  const candidates: ComponentWeights[] = [];
  for (const v of variant ? [variant] : (['fp32', 'fp16'] as const)) {
    const base = v === 'fp32' ? stem : `${stem}.fp16`;
    candidates.push({ file: join(dir, `${base}.safetensors`), variant: v, sharded: false });
    candidates.push({ file: join(dir, `${base}.safetensors.index.json`), variant: v, sharded: true });
  }
  const found = candidates.find((c) => existsSync(c.file));
  if (found) return found;
  const files = isDir(dir) ? readdirSync(dir) : [];
  const pickled = files.filter((f) => f.endsWith('.bin'));
  const wanted = candidates.map((c) => c.file.slice(dir.length + 1)).join(', ');
  if (pickled.length > 0) {
    throw new ApertureDepthError(
      `only PyTorch pickle weights (${pickled.join(', ')}) here; this tool reads safetensors (${wanted}). ` +
        'Download the safetensors files of the checkpoint, or convert once with ' +
        "`python -c \"import torch, safetensors.torch as s; s.save_file(torch.load('<file>.bin'), '<file>.safetensors')\"`",
      { file: dir },
    );
  }
  const other = files.filter((f) => f.endsWith('.safetensors'));
  throw new ApertureDepthError(
    `no weights found: expected one of ${wanted}` + (other.length ? ` (found ${other.join(', ')})` : ''),
    { file: dir },
  );
}

function optionalNumber(raw: Record<string, unknown>, key: string, file: string): number | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  check(
    typeof v === 'number' && Number.isInteger(v) && v >= 0,
    () => `expected an integer >= 0, got ${JSON.stringify(v)}`,
    {
      file,
      key,
    },
  );
  return v;
}

function optionalBool(raw: Record<string, unknown>, key: string, file: string): boolean | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  check(typeof v === 'boolean', () => `expected true or false, got ${JSON.stringify(v)}`, { file, key });
  return v;
}

/** Parses `model_index.json` (already read) and checks the keys this project uses. */
export function parseModelIndex(raw: unknown, file: string): ModelIndex {
  check(raw !== null && typeof raw === 'object' && !Array.isArray(raw), () => 'expected a JSON object', {
    file,
  });
  const r = raw as Record<string, unknown>;
  check(typeof r._class_name === 'string', () => 'missing the pipeline class name', {
    file,
    key: '_class_name',
  });
  check(
    /Marigold/.test(r._class_name),
    () =>
      `this is a ${r._class_name} checkpoint; expected a Marigold depth pipeline (MarigoldDepthPipeline or MarigoldPipeline)`,
    { file, key: '_class_name' },
  );
  const predictionType = r.prediction_type;
  check(
    predictionType === undefined || predictionType === 'depth',
    () => `prediction_type is ${JSON.stringify(predictionType)}; this tool needs a depth model`,
    { file, key: 'prediction_type' },
  );
  return {
    className: r._class_name,
    diffusersVersion: typeof r._diffusers_version === 'string' ? r._diffusers_version : undefined,
    predictionType: predictionType as string | undefined,
    defaultDenoisingSteps: optionalNumber(r, 'default_denoising_steps', file),
    defaultProcessingResolution: optionalNumber(r, 'default_processing_resolution', file),
    scaleInvariant: optionalBool(r, 'scale_invariant', file),
    shiftInvariant: optionalBool(r, 'shift_invariant', file),
    raw: r,
  };
}

function component(
  root: string,
  index: ModelIndex,
  indexFile: string,
  name: string,
  configName: string | undefined,
): ModelComponent {
  const entry = index.raw[name];
  check(
    Array.isArray(entry) && entry.length === 2 && entry.every((s) => typeof s === 'string'),
    () =>
      `missing or malformed component entry (expected ["library", "ClassName"], got ${JSON.stringify(entry)})`,
    { file: indexFile, key: name },
  );
  const dir = join(root, name);
  check(isDir(dir), () => `model_index.json lists "${name}" but the folder ${name}/ is missing`, {
    file: dir,
  });
  let configFile: string | undefined;
  if (configName) {
    configFile = join(dir, configName);
    check(existsSync(configFile), () => `${configName} not found`, { file: configFile });
  }
  return { name, library: entry[0] as string, className: entry[1] as string, dir, configFile };
}

/**
 * Opens a diffusers Marigold folder by path and checks what the prior needs, naming the file or key at fault.
 * @example openModelFolder('test/data/diffusers-tiny/sd2-tiny/checkpoint').unet.weights // { file: '.../unet/diffusion_pytorch_model.safetensors', variant: 'fp32', sharded: false }
 */
export function openModelFolder(path: string, options: OpenModelFolderOptions = {}): ModelFolder {
  const root = resolve(path);
  check(isDir(root), () => (existsSync(root) ? 'not a folder' : 'model folder not found'), { file: path });
  const indexFile = join(root, 'model_index.json');
  check(existsSync(indexFile), () => 'not a diffusers model folder: model_index.json is missing', {
    file: path,
  });
  const index = parseModelIndex(readJsonFile(indexFile, 'model index'), indexFile);
  const networks = Object.fromEntries(
    NETWORKS.map((name) => {
      const c = component(root, index, indexFile, name, 'config.json');
      c.weights = findComponentWeights(c.dir, WEIGHT_STEMS[name], options.variant);
      return [name, c];
    }),
  ) as Record<(typeof NETWORKS)[number], ModelComponent>;
  const scheduler = component(root, index, indexFile, 'scheduler', 'scheduler_config.json');
  const tokenizer =
    index.raw.tokenizer !== undefined && isDir(join(root, 'tokenizer'))
      ? component(root, index, indexFile, 'tokenizer', undefined)
      : undefined;
  const schedulerDirs = readdirSync(root)
    .filter((d) => d.startsWith('scheduler') && existsSync(join(root, d, 'scheduler_config.json')))
    .sort()
    .map((d) => join(root, d));
  return {
    root,
    index,
    unet: networks.unet,
    vae: networks.vae,
    textEncoder: networks.text_encoder,
    tokenizer,
    scheduler,
    schedulerDirs,
  };
}
