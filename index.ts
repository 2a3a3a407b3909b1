/**
 * aperture-depth as a library: `import { estimate, optimizeDepth, FixedPrior, l1Loss } from 'aperture-depth'`.
 * One export per layer; see README.md for a worked example with a custom loss.
 */
export * from './core/errors.ts';
export { initEngine, activeBackend, parseBackend, BACKENDS, type BackendName } from './core/engine/backend.ts';
export * from './core/io/index.ts';
export * from './core/tensor/rng.ts';
export * from './core/metrics/depth-metrics.ts';
export * from './core/metrics/align.ts';
export * from './core/config/index.ts';
export * from './core/datasets/index.ts';
export * from './core/pipeline/pair.ts';
export * from './core/pipeline/estimate.ts';
export { runSimulateCommand, readCameraFile, readMetricDepth } from './core/pipeline/simulate-command.ts';
export {
  runExperiment,
  type RunExperimentOptions,
  type SceneEstimator,
  type SceneEstimateRequest,
  type SceneEstimateOutput,
} from './core/pipeline/run-experiment.ts';
export { estimateScene } from './core/pipeline/run-estimate.ts';
export { toEstimateOptions } from './core/config/to-estimate-options.ts';
export { runSeeds, summarizeSeedRuns, parseSeeds } from './core/pipeline/seed-runs.ts';
export { evaluateDepth, readDepthFile } from './core/pipeline/eval-depth.ts';
export { versions } from './core/run-record/versions.ts';
export * from './physics/index.ts';
export * from './diffusion/marigold/index.ts';
export * from './diffusion/schedulers/index.ts';
export * from './optimizers/index.ts';
