import { MarigoldPrior, type MarigoldPriorOptions } from '../../diffusion/marigold/marigold-prior.ts';
import type { OnnxMarigoldPrior } from '../../diffusion/marigold/onnx-prior.ts';
import {
  resolveNetworkEngine,
  type NetworkEngineRequest,
  type ResolvedEngine,
} from '../engine/network-engine.ts';

/** A loaded Marigold prior on the engine that runs its networks. */
export interface LoadedPriorModel {
  engine: ResolvedEngine;
  model: MarigoldPrior | OnnxMarigoldPrior;
}

/**
 * Resolves `--engine` (`request`, auto = the faster one available), logs the choice, and loads the prior
 * from `path` on it: onnx loads onnxruntime-node on demand (only that engine needs it), tfjs runs on the
 * current backend. The one place `estimate` and `prior` choose and load the prior's executor.
 */
export async function loadPriorModel(
  path: string,
  request: NetworkEngineRequest | undefined,
  options: MarigoldPriorOptions,
  log: (line: string) => void,
): Promise<LoadedPriorModel> {
  const engine = await resolveNetworkEngine(request, '--engine');
  log(`prior engine: ${engine.engine} (${engine.reason})`);
  if (engine.engine === 'onnx') {
    const { OnnxMarigoldPrior } = await import('../../diffusion/marigold/onnx-prior.ts');
    return {
      engine,
      model: await OnnxMarigoldPrior.load(path, { ...options, log: (l) => log(`prior: ${l}`) }),
    };
  }
  return { engine, model: await MarigoldPrior.load(path, options) };
}
