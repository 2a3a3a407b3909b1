/**
 * Worker-thread entry for the data phases (see `parallel-data.ts`): renders procedural scenes, or encodes
 * scenes with a VAE whose weights the main thread sends. One request at a time.
 */
import * as tf from '@tensorflow/tfjs';
import { parentPort } from 'node:worker_threads';
import { initEngine } from '../../../core/engine/backend.ts';
import { createVae } from '../../../diffusion/models/load.ts';
import type { AutoencoderKL } from '../../../diffusion/models/vae/autoencoder-kl.ts';
import { tfjsOps } from '../../../diffusion/ops/tfjs-ops.ts';
import type { JsonObject } from '../model-configs.ts';
import { loadTextureImages } from '../scene/texture-images.ts';
import { encodeLatentSet } from '../stages/unet-stage.ts';
import { buildSceneDataset, type SceneDataset } from './scene-dataset.ts';

type Request =
  | { type: 'render'; seeds: number[]; width: number; height: number; naturalTextures: boolean }
  | {
      type: 'encode';
      vaeConfig: JsonObject;
      weights: [string, Float32Array][];
      scalingFactor: number;
      scenes: { rgb: Uint8Array; depth: Float32Array; count: number; width: number; height: number };
      batch: number;
    };

let vae: AutoencoderKL | undefined;

parentPort!.on('message', async (msg: Request) => {
  try {
    await initEngine('wasm');
    if (msg.type === 'render') {
      const ds = buildSceneDataset(msg.seeds, {
        width: msg.width,
        height: msg.height,
        textureImages: msg.naturalTextures ? loadTextureImages() : [],
      });
      parentPort!.postMessage({ type: 'rendered', rgb: ds.rgb, depth: ds.depth }, [ds.rgb.buffer as ArrayBuffer, ds.depth.buffer as ArrayBuffer]);
      return;
    }
    vae?.dispose();
    vae = createVae(msg.vaeConfig, 0, { trainable: true });
    const weights = new Map(msg.weights);
    for (const p of vae.parameters()) (tfjsOps.param(p) as tf.Variable).assign(tf.tensor(weights.get(p.name)!, [...p.shape], 'float32'));
    const ds: SceneDataset = {
      width: msg.scenes.width,
      height: msg.scenes.height,
      seeds: Array.from({ length: msg.scenes.count }, (_, i) => i),
      rgb: msg.scenes.rgb,
      depth: msg.scenes.depth,
    };
    const set = encodeLatentSet(vae, ds, msg.scalingFactor, msg.batch);
    parentPort!.postMessage({ type: 'encoded', rgb: set.rgb, depth: set.depth }, [set.rgb.buffer as ArrayBuffer, set.depth.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ type: 'error', message: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
  }
});
