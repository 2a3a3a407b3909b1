import { dirname, join } from 'node:path';
import { writeNpy } from '../../../core/io/npy.ts';
import { readJsonFile } from '../../../core/io/json-file.ts';
import { parseConfigObject, type LoadedConfig } from '../../../core/config/load.ts';
import { readDepthFile } from '../../../core/pipeline/eval-depth.ts';
import type { SceneEstimateRequest, SceneEstimator } from '../../../core/pipeline/run-experiment.ts';
import { tempFolder } from '../../helpers/temp-dir.ts';

export const MIDDLEBURY = join(import.meta.dirname, '../../data/middlebury2014-q');

export function tempDir(prefix = 'run'): string {
  return tempFolder(prefix);
}

/** A small config over the five Middlebury scenes at 1/8 size (about 90x60 pixels). */
export function smallConfig(extra: Record<string, unknown> = {}): LoadedConfig {
  return parseConfigObject({
    seed: 3,
    data: { name: 'middlebury2014', root: MIDDLEBURY, downscale: 8 },
    variants: ['scale-shift', { name: 'full', type: 'full' }],
    ...extra,
  });
}

/**
 * A stand-in for the estimate pipeline: ground truth times a factor that depends on the variant and the
 * scene (so metrics differ per row and are exact), holes filled with 2 m. Writes depth.npy like estimate.
 * Records every call.
 */
export function fakeEstimator(calls: SceneEstimateRequest[] = [], failOn?: string): SceneEstimator {
  return async (req) => {
    calls.push(req);
    const pair = readJsonFile(req.pairFile, 'pair') as { depth_gt: string };
    if (failOn && req.pairFile.includes(`/${failOn}/`)) throw new Error(`synthetic failure on ${failOn}`);
    const gt = readDepthFile(join(dirname(req.pairFile), pair.depth_gt));
    const factor = (req.variant.type === 'full' ? 1.02 : 1.1) + (gt.width % 7) / 100;
    const depthM = Float32Array.from(gt.data, (d) => (Number.isFinite(d) ? d * factor : 2));
    writeNpy(join(req.outDir, 'depth.npy'), { shape: [gt.height, gt.width], dtype: 'float32', data: depthM });
    const lossHistory = Array.from({ length: 20 }, (_, i) => 0.01 / (1 + i));
    return {
      depthM,
      width: gt.width,
      height: gt.height,
      lossHistory,
      iterations: 20,
      finalLoss: lossHistory[19]!,
      scale: factor,
      shift: 0,
    };
  };
}
