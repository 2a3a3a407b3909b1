import { ApertureDepthError } from '../errors.ts';
import type { SceneEstimateOutput, SceneEstimateRequest } from './run-experiment.ts';

/** Placeholder until core/pipeline/estimate.ts lands. */
export async function estimateScene(request: SceneEstimateRequest): Promise<SceneEstimateOutput> {
  throw new ApertureDepthError('the estimate pipeline is not available yet', { file: request.pairFile });
}
