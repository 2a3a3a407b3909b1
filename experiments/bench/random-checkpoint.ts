/**
 * A real-Marigold-shaped checkpoint with seeded random weights, written once as a diffusers folder
 * (`unet/`, `vae/`: config.json + float32 safetensors) and reused: the stand-in for a checkpoint that a
 * user has on disk, so benchmarks load weights the way a real run does (and the ONNX graph cache can
 * link to the file instead of copying it).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../core/io/atomic.ts';
import { saveSafetensors } from '../../diffusion/checkpoint/save-weights.ts';
import { createUNet, createVae } from '../../diffusion/models/load.ts';

const WEIGHTS = 'diffusion_pytorch_model.safetensors';

/** Writes what is missing of the folder; returns the seconds spent writing (0 when it was complete). */
export function ensureRandomCheckpoint(
  dir: string,
  configs: { unet: Record<string, unknown>; vae: Record<string, unknown> },
  seed = 0,
): number {
  const t0 = performance.now();
  let wrote = false;
  for (const part of ['unet', 'vae'] as const) {
    const weights = join(dir, part, WEIGHTS);
    const config = join(dir, part, 'config.json');
    const configText = `${JSON.stringify(configs[part], null, 2)}\n`;
    if (existsSync(weights) && existsSync(config)) continue;
    const model = part === 'unet' ? createUNet(configs.unet, seed, { bind: null }) : createVae(configs.vae, seed, { bind: null });
    const params = model.parameters();
    saveSafetensors(
      weights,
      params.map((p) => ({ name: p.name, shape: p.shape, layout: p.layout, data: p.hostData() })),
      'F32',
      { random_seed: String(seed) },
    );
    model.dispose();
    writeFileAtomic(config, configText);
    wrote = true;
  }
  return wrote ? (performance.now() - t0) / 1000 : 0;
}
