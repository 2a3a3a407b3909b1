import { openModelFolder, type ModelComponent } from '../../diffusion/checkpoint/model-folder.ts';
import { resolveModel } from '../../diffusion/checkpoint/registry.ts';
import { emptyPromptTokenIds } from '../../diffusion/marigold/empty-prompt.ts';
import { parseClipTextConfig, parseUNetConfig, parseVaeConfig } from '../../diffusion/models/index.ts';
import { readSchedulerConfig, schedulerFromConfig } from '../../diffusion/schedulers/index.ts';
import { readJsonFile } from '../io/json-file.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { MODEL_DEFAULTS_FILE, readModelDefaults, type ModelDefocusDefaults } from './model-defaults.ts';

/** Weights of one network as stored: tensor and value counts per stored dtype. */
export interface WeightsReport {
  file: string;
  variant: string;
  tensors: number;
  parameters: number;
  dtypes: Record<string, { tensors: number; parameters: number }>;
}

export interface ComponentReport {
  name: string;
  className: string;
  library: string;
  weights?: WeightsReport;
  /** The config values this port uses, resolved with their defaults. */
  config: Record<string, unknown>;
}

/** One scheduler folder. */
export interface SchedulerReport {
  dir: string;
  className: string;
  /** Every value the scheduler uses, defaults resolved, under diffusers' key names. */
  config: Record<string, unknown>;
  /** Timesteps for 1 and 4 steps (and the default when it differs). */
  timesteps: Record<string, number[]>;
}

/** Everything `aperture-depth inspect` prints. */
export interface ModelReport {
  root: string;
  knownAs?: string;
  pipeline: string;
  defaults: { steps?: number; processingResolution?: number };
  /** The folder's `defocus_defaults.json` (the prior's own latent learning rate), if it has one. */
  defocusDefaults?: ModelDefocusDefaults;
  components: ComponentReport[];
  schedulers: SchedulerReport[];
  emptyPrompt: { ids: number[]; source: string; warning?: string };
  totalParameters: number;
}

function weightsReport(c: ModelComponent): WeightsReport | undefined {
  if (!c.weights) return undefined;
  const file = openSafetensors(c.weights.file);
  try {
    const dtypes: WeightsReport['dtypes'] = {};
    let parameters = 0;
    const names = file.names();
    for (const name of names) {
      const info = file.info(name);
      const n = info.shape.reduce((a, b) => a * b, 1);
      parameters += n;
      const d = (dtypes[info.dtype] ??= { tensors: 0, parameters: 0 });
      d.tensors += 1;
      d.parameters += n;
    }
    return { file: c.weights.file, variant: c.weights.variant, tensors: names.length, parameters, dtypes };
  } finally {
    file.close();
  }
}

function pick(o: object, keys: string[]): Record<string, unknown> {
  const r = o as Record<string, unknown>;
  return Object.fromEntries(keys.filter((k) => r[k] !== undefined).map((k) => [k, r[k]]));
}

/** Reads a model folder's configs and weight headers (no weights are loaded). */
export function inspectModel(nameOrPath: string): ModelReport {
  const { path, known } = resolveModel(nameOrPath);
  const folder = openModelFolder(path);
  const unet = parseUNetConfig(
    readJsonFile(folder.unet.configFile!, 'unet config') as Record<string, unknown>,
    folder.unet.configFile,
  );
  const vae = parseVaeConfig(
    readJsonFile(folder.vae.configFile!, 'vae config') as Record<string, unknown>,
    folder.vae.configFile,
  );
  const text = parseClipTextConfig(
    readJsonFile(folder.textEncoder.configFile!, 'text encoder config') as Record<string, unknown>,
    folder.textEncoder.configFile,
  );
  const components: ComponentReport[] = [
    {
      ...folder.unet,
      weights: weightsReport(folder.unet),
      config: pick(unet, [
        'in_channels',
        'out_channels',
        'block_out_channels',
        'down_block_types',
        'up_block_types',
        'layers_per_block',
        'num_attention_heads',
        'cross_attention_dim',
        'use_linear_projection',
        'upcast_attention',
        'norm_num_groups',
        'norm_eps',
        'flip_sin_to_cos',
        'freq_shift',
      ]),
    },
    {
      ...folder.vae,
      weights: weightsReport(folder.vae),
      config: {
        ...pick(vae, [
          'block_out_channels',
          'layers_per_block',
          'latent_channels',
          'norm_num_groups',
          'scaling_factor',
        ]),
        downscale_factor: 2 ** (vae.block_out_channels.length - 1),
      },
    },
    {
      ...folder.textEncoder,
      weights: weightsReport(folder.textEncoder),
      config: pick(text, [
        'hidden_size',
        'num_hidden_layers',
        'num_attention_heads',
        'intermediate_size',
        'hidden_act',
        'vocab_size',
        'max_position_embeddings',
        'layer_norm_eps',
      ]),
    },
  ].map(({ name, className, library, weights, config }) => ({ name, className, library, weights, config }));
  const schedulers = folder.schedulerDirs.map((dir): SchedulerReport => {
    const config = readSchedulerConfig(dir);
    const scheduler = schedulerFromConfig(config);
    const counts = new Set([1, 4]);
    if (dir === folder.scheduler.dir && folder.index.defaultDenoisingSteps)
      counts.add(folder.index.defaultDenoisingSteps);
    const timesteps: Record<string, number[]> = {};
    for (const n of counts) {
      try {
        timesteps[String(n)] = [...scheduler.setTimesteps(n)];
      } catch {
        // a step count this scheduler refuses is simply not listed
      }
    }
    const { className, trainedBetas, ...values } = config;
    // diffusers' key names, so the values read like the scheduler_config.json they came from
    const resolved: Record<string, unknown> = Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`), v]),
    );
    resolved.trained_betas = trainedBetas ? `${trainedBetas.length} values` : null;
    return { dir, className, config: resolved, timesteps };
  });
  const prompt = emptyPromptTokenIds(folder.tokenizer?.dir, folder.textEncoder.configFile!);
  const defocusDefaults = readModelDefaults(folder.root);
  return {
    root: folder.root,
    knownAs: known?.name,
    pipeline: folder.index.className,
    defaults: {
      steps: folder.index.defaultDenoisingSteps,
      processingResolution: folder.index.defaultProcessingResolution,
    },
    ...(defocusDefaults ? { defocusDefaults } : {}),
    components,
    schedulers,
    emptyPrompt: { ids: prompt.ids, source: prompt.source, warning: prompt.warning },
    totalParameters: components.reduce((n, c) => n + (c.weights?.parameters ?? 0), 0),
  };
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** The report as readable text. */
export function formatModelReport(r: ModelReport): string {
  const lines: string[] = [];
  lines.push(`model: ${r.root}${r.knownAs ? ` (${r.knownAs})` : ''}`);
  lines.push(`pipeline: ${r.pipeline}`);
  lines.push(
    `defaults: steps ${r.defaults.steps ?? '(not set)'}, processing resolution ${r.defaults.processingResolution ?? '(not set: 768)'}`,
  );
  lines.push(
    r.defocusDefaults?.lrLatent !== undefined
      ? `defocus optimization: latent learning rate ${r.defocusDefaults.lrLatent} (${MODEL_DEFAULTS_FILE}; a config's own wins)`
      : `defocus optimization: no ${MODEL_DEFAULTS_FILE}, latent learning rate from the config or the library (1.5e-3)`,
  );
  for (const c of r.components) {
    lines.push(`${c.name}: ${c.className} (${c.library})`);
    if (c.weights) {
      const dt = Object.entries(c.weights.dtypes)
        .map(([d, v]) => `${d} ${v.tensors} tensors / ${fmt(v.parameters)}`)
        .join(', ');
      const variant = c.weights.variant === 'fp16' ? ' (.fp16 variant file)' : '';
      lines.push(
        `  weights: ${c.weights.file}${variant}: ${fmt(c.weights.parameters)} parameters in ${c.weights.tensors} tensors, stored ${dt}`,
      );
    }
    for (const [k, v] of Object.entries(c.config)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  }
  for (const s of r.schedulers) {
    lines.push(`scheduler ${s.dir}: ${s.className}`);
    for (const [k, v] of Object.entries(s.config)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
    for (const [n, ts] of Object.entries(s.timesteps)) lines.push(`  timesteps(${n}): [${ts.join(', ')}]`);
  }
  lines.push(`empty prompt ids: [${r.emptyPrompt.ids.join(', ')}] from ${r.emptyPrompt.source}`);
  if (r.emptyPrompt.warning) lines.push(`  warning: ${r.emptyPrompt.warning}`);
  lines.push(`total parameters: ${fmt(r.totalParameters)}`);
  return `${lines.join('\n')}\n`;
}
