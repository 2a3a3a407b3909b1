/**
 * The optimization layer, one export per line: priors, metric mappings, losses, step rules, the loop.
 * (The package root re-exports this.)
 */
export type { DepthPrior, PriorVjp } from './priors/depth-prior.ts';
export { PixelPrior, type PixelPriorOptions } from './priors/pixel-prior.ts';
export { FixedPrior } from './priors/fixed-prior.ts';
export {
  MarigoldDepthPrior,
  type LatentDepthModel,
  type MarigoldDepthPriorOptions,
} from './priors/marigold-depth-prior.ts';
export * from './mappings/index.ts';
export * from './losses/index.ts';
export { Adam, type AdamOptions, type AdamState, type ParamGroupSpec } from './adam.ts';
export { HostAdam } from './host-adam.ts';
export {
  createSchedule,
  constantSchedule,
  cosineSchedule,
  stepSchedule,
  type Schedule,
  type ScheduleSpec,
} from './schedules.ts';
export { PlateauStopper, type PlateauOptions, type PlateauState } from './early-stopping.ts';
export { readCheckpoint, writeCheckpoint, type OptimizerState } from './checkpoint.ts';
export { ProgressBar, type ProgressBarOptions } from './progress.ts';
export { localSearchLogits } from './pixel-init.ts';
export {
  VARIANTS,
  resolveOptimizerConfig,
  configToJson,
  type Variant,
  type OptimizerConfig,
  type OptimizerConfigInput,
} from './config.ts';
export {
  optimizeDepth,
  createDefocusObjective,
  searchScaleShift,
  modelFNumber,
  projectToSphere,
  LATENT_GROUP,
  SCALE_SHIFT_GROUP,
  type DepthProblem,
  type OptimizeResult,
  type RunOptions,
  type IterationHook,
  type IterationInfo,
  type DefocusObjective,
} from './optimize-depth.ts';
