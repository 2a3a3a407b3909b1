import type { EstimateOptions } from '../pipeline/estimate.ts';
import { optimizerInputFromSection } from '../pipeline/estimate-config.ts';
import type { ExperimentConfig, PriorConfig, ResolvedVariant } from './schema.ts';

/** The estimate options an experiment config fixes for one variant (the pair, folder and run flags aside). */
export type VariantEstimateOptions = Pick<
  EstimateOptions,
  | 'model'
  | 'variant'
  | 'seed'
  | 'optimizer'
  | 'prior'
  | 'engine'
  | 'checkpointEvery'
  | 'workingMaxSide'
  | 'maxTensorBytes'
>;

/** The prior section in the estimate pipeline's names (unset keys: the checkpoint's own). */
export function priorOptions(p: PriorConfig): Pick<EstimateOptions, 'model' | 'prior' | 'engine'> {
  const prior: NonNullable<EstimateOptions['prior']> = {};
  if (p.scheduler !== undefined) prior.scheduler = p.scheduler;
  if (p.steps !== undefined) prior.steps = p.steps;
  if (p.processing_resolution !== undefined) prior.processingResolution = p.processing_resolution;
  if (p.margin !== undefined) prior.margin = p.margin;
  return {
    ...(p.model !== undefined ? { model: p.model } : {}),
    prior,
    ...(p.engine !== undefined ? { engine: p.engine } : {}),
  };
}

/**
 * Maps one variant of a validated experiment config (snake_case YAML) onto the typed options of
 * `estimate()`. The `optimizer` section goes through the same function `estimate --config` uses
 * (`optimizerInputFromSection`), so the two commands read optimizer keys identically; keys left unset keep
 * the optimizer's own, variant-dependent defaults.
 *
 * @example
 * const { config, variants } = loadConfig('experiments/configs/paper-table3.yaml');
 * toEstimateOptions(config, variants[1]); // { variant: 'full', seed: 0, model: 'marigold-depth-lcm-v1-0', optimizer: { iterations: 200, ... }, ... }
 */
export function toEstimateOptions(
  config: ExperimentConfig,
  variant: ResolvedVariant,
  file = 'config',
): VariantEstimateOptions {
  const { input, checkpointEvery } = optimizerInputFromSection(
    JSON.parse(JSON.stringify(variant.optimizer)) as Record<string, unknown>,
    file,
    'optimizer',
  );
  return {
    variant: variant.type,
    seed: config.seed,
    optimizer: input,
    ...priorOptions(variant.prior),
    ...(checkpointEvery !== undefined ? { checkpointEvery } : {}),
    ...(config.limits.working_max_side !== undefined
      ? { workingMaxSide: config.limits.working_max_side }
      : {}),
    ...(config.limits.max_tensor_bytes !== undefined
      ? { maxTensorBytes: config.limits.max_tensor_bytes }
      : {}),
  };
}
