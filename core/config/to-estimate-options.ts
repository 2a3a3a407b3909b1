import type { OptimizerConfigInput } from '../../optimizers/config.ts';
import type { ScheduleSpec } from '../../optimizers/schedules.ts';
import type { ExperimentConfig, OptimizerConfig, PriorConfig, ResolvedVariant } from './schema.ts';

/** The prior settings as the estimate pipeline names them (unset = the checkpoint's own). */
export interface PriorOptions {
  /** Unset: the estimate pipeline's default model. */
  model?: string;
  scheduler?: 'lcm' | 'ddim';
  steps?: number;
  processingResolution?: number;
}

/** Everything one estimate of one variant needs from an experiment config, in the library's camelCase. */
export interface VariantEstimateOptions {
  optimizer: OptimizerConfigInput;
  prior: PriorOptions;
  /** PSF of the forward model (unset: the renderer's default, disc). */
  psf?: 'disc' | 'gaussian';
  /** Checkpoint every N iterations (0 = never; unset: the estimate pipeline's default). */
  checkpointEvery?: number;
  /** Refuse up front above this many bytes per tensor. */
  maxTensorBytes?: number;
}

function scheduleOf(s: NonNullable<OptimizerConfig['schedule']>): ScheduleSpec {
  switch (s.kind) {
    case 'cosine':
      return { kind: 'cosine', ...defined({ minFactor: s.min_factor, warmup: s.warmup }) };
    case 'step':
      return { kind: 'step', every: s.every!, ...defined({ gamma: s.gamma }) };
    default:
      return { kind: 'constant' };
  }
}

/** `obj` without its undefined entries (so the library's defaults apply), or undefined when none is left. */
function defined<T extends Record<string, unknown>>(obj: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

function definedOrUndefined<T extends Record<string, unknown>>(obj: T): Partial<T> | undefined {
  const d = defined(obj);
  return Object.keys(d).length ? d : undefined;
}

/** The prior section in camelCase. */
export function priorOptions(p: PriorConfig): PriorOptions {
  return {
    ...(p.model !== undefined ? { model: p.model } : {}),
    ...(p.scheduler !== undefined ? { scheduler: p.scheduler } : {}),
    ...(p.steps !== undefined ? { steps: p.steps } : {}),
    ...(p.processing_resolution !== undefined ? { processingResolution: p.processing_resolution } : {}),
  };
}

/**
 * Maps a variant of a validated experiment config (snake_case YAML) onto the typed options of the estimate
 * pipeline and the optimizer. The one place where config names meet library names: a key added to the
 * schema is wired here. Keys left unset keep the library's variant-dependent defaults (e.g. the pixel
 * prior's larger latent learning rate and its TV weight).
 */
export function toEstimateOptions(
  config: ExperimentConfig,
  variant: ResolvedVariant,
): VariantEstimateOptions {
  const o = variant.optimizer;
  const optimizer = defined({
    variant: variant.type,
    seed: config.seed,
    iterations: o.iterations,
    mapping: o.mapping?.kind,
    mappingInit: o.mapping?.init,
    bounds: definedOrUndefined({ sMin: o.mapping?.s_min, sMax: o.mapping?.s_max }),
    lr: definedOrUndefined({ latent: o.lr?.latent, scaleShift: o.lr?.scale_shift }),
    adam: definedOrUndefined({ beta1: o.adam?.beta1, beta2: o.adam?.beta2, epsilon: o.adam?.epsilon }),
    schedule: o.schedule && scheduleOf(o.schedule),
    earlyStopping:
      o.early_stop &&
      (o.early_stop.enabled
        ? defined({
            patience: o.early_stop.patience,
            minRelDelta: o.early_stop.min_rel_delta,
            minIterations: o.early_stop.min_iterations,
          })
        : null),
    loss: o.loss?.kind,
    tvWeight: o.loss?.tv_weight,
    masks: definedOrUndefined({
      saturation: o.loss?.saturation,
      border: o.loss?.border,
      depthEdges:
        o.loss?.depth_edges === null
          ? null
          : o.loss?.depth_edges &&
            defined({ threshold: o.loss.depth_edges.threshold, radius: o.loss.depth_edges.radius }),
    }),
    renderer: o.renderer,
    relativeBlur: o.relative_blur,
    sceneSide: o.scene_side,
    grid: definedOrUndefined({
      maxSide: o.grid?.max_side,
      levelsPx: o.grid?.levels_px && [...o.grid.levels_px],
      refineRounds: o.grid?.refine_rounds,
    }),
    pixelInit: o.pixel_init,
    oracleAlignment: o.oracle_alignment,
  }) as OptimizerConfigInput;
  return {
    optimizer,
    prior: priorOptions(variant.prior),
    ...defined({
      psf: o.psf,
      checkpointEvery: o.checkpoint_every,
      maxTensorBytes: config.limits.max_tensor_bytes,
    }),
  };
}
