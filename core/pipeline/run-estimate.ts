import { toEstimateOptions } from '../config/to-estimate-options.ts';
import { estimate, type EstimateOptions } from './estimate.ts';
import type { SceneEstimateOutput, SceneEstimateRequest } from './run-experiment.ts';

/**
 * One scene x variant of an experiment through the estimate pipeline: the variant's settings mapped onto
 * `estimate()` options, outputs written where `estimate` writes them (depth.npy, depth_mm.png, depth.png,
 * result.h5, run.json, metrics.json, checkpoint.json) in the scene's folder. `adjust` changes the options last
 * (a script's own loss: `experiments/scripts/latent-ceiling.ts`).
 */
export async function estimateScene(
  request: SceneEstimateRequest,
  adjust: (options: EstimateOptions) => EstimateOptions = (o) => o,
): Promise<SceneEstimateOutput> {
  const options = toEstimateOptions(request.config, request.variant, request.configFile);
  const result = await estimate(
    adjust({
      ...options,
      seed: request.seed,
      pair: request.pairFile,
      outDir: request.outDir,
      resume: request.resume,
      progress: request.progress,
      log: request.log,
      configFile: request.configFile,
      signal: request.signal,
    }),
  );
  return {
    depthM: result.depth,
    width: result.width,
    height: result.height,
    lossHistory: result.lossHistory,
    iterations: result.iterations,
    finalLoss: result.finalLoss,
    scale: result.scale,
    shift: result.shift,
    note: result.prior.fallback ?? undefined,
  };
}
