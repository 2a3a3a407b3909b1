import { resolveNetworkEngine, type NetworkEngineRequest } from '../engine/network-engine.ts';
import type { NativeMemoryLoad } from '../engine/native-memory.ts';
import { openModelFolder } from '../../diffusion/checkpoint/model-folder.ts';
import { resolveModel } from '../../diffusion/checkpoint/registry.ts';
import { defaultModelPath, requestedModel } from './default-model.ts';
import {
  priorFootprint,
  priorPassBytes,
  processingSize,
  weightElementsOf,
  workingSize,
} from './memory-budget.ts';

/** What a command knows before it runs, for `nativeMemoryLoad`. */
export interface NativeMemoryRun {
  /** The variant; `pixel` runs no network. */
  variant?: string;
  /** `--model` / `prior.model`; absent or `default`: the default model. */
  model?: string;
  engine?: NetworkEngineRequest;
  /** `prior.processing_resolution`; absent: the model's default; 0: the working size. */
  processingResolution?: number;
  /** `prior.margin`: reflected margin in processing pixels; absent: 0. */
  margin?: number;
  /** Input image size; absent: a square at the processing resolution (the largest a run can process). */
  width?: number;
  height?: number;
  workingMaxSide?: number;
}

/** Float32 bytes of a model folder's UNet and VAE weights, from the safetensors headers. */
export function networkWeightBytes(modelDir: string): number {
  const folder = openModelFolder(modelDir);
  return 4 * weightElementsOf([folder.unet.dir, folder.vae.dir]);
}

/**
 * What the run would load on the onnx engine (weights, one pass's activations at its processing size), for
 * `relaunchWithNativeMemory`'s auto mode; undefined when the prior would not run on onnx, there is no prior,
 * or anything about the model cannot be read (the run itself then reports it, with its own message).
 */
export async function nativeMemoryLoad(run: NativeMemoryRun): Promise<NativeMemoryLoad | undefined> {
  try {
    if (run.variant === 'pixel') return undefined;
    const model = requestedModel(run.model) ?? defaultModelPath();
    if (!model) return undefined;
    if ((await resolveNetworkEngine(run.engine)).engine !== 'onnx') return undefined;
    const dir = resolveModel(model).path;
    const fp = priorFootprint(dir, { processingResolution: run.processingResolution, margin: run.margin });
    let working: { width: number; height: number };
    if (run.width !== undefined && run.height !== undefined) {
      working = workingSize(run.width, run.height, run.workingMaxSide);
    } else if (fp.processingResolution > 0) {
      working = { width: fp.processingResolution, height: fp.processingResolution };
    } else return undefined;
    const size = processingSize(working.width, working.height, fp.processingResolution, run.margin);
    const pass = priorPassBytes(fp, size.width, size.height);
    return { networkWeightBytes: networkWeightBytes(dir), passBytes: pass.unet + pass.decoder };
  } catch {
    return undefined;
  }
}
