import * as tf from '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../../../core/io/npy.ts';
import { writePng } from '../../../../core/io/png.ts';
import { loadArtlScene } from '../../../optimizers/helpers/artl-scene.ts';

function png16(t: tf.Tensor3D) {
  const [h, w] = t.shape;
  const v = t.dataSync();
  const data = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) data[i] = Math.round(Math.min(1, Math.max(0, v[i])) * 65535);
  return { width: w, height: h, channels: 3 as const, bitDepth: 16 as const, data };
}

/**
 * Writes the simulated ArtL pair (layered renderer, f/22 and f/8) as a pair folder: aif.png and blurred.png
 * (16-bit linear), depth_gt.npy (metres, NaN invalid) and pair.json. `size` 64 gives 64 x 48, 32 gives 32 x 24.
 */
export function writeArtlPair(dir: string, size: 64 | 32 = 64, extra: Record<string, unknown> = {}): string {
  const scene =
    size === 64
      ? loadArtlScene()
      : loadArtlScene({ width: 32, height: 24, factor: 10, camera: { pixelPitchUm: 50 } });
  mkdirSync(dir, { recursive: true });
  const [h, w] = scene.depthGt.shape;
  writePng(join(dir, 'aif.png'), png16(scene.aif));
  writePng(join(dir, 'blurred.png'), png16(scene.blurred));
  writeNpy(join(dir, 'depth_gt.npy'), {
    shape: [h, w],
    dtype: 'float32',
    data: scene.depthGt.dataSync() as Float32Array,
  });
  const pair = {
    aif: 'aif.png',
    blurred: 'blurred.png',
    encoding: 'linear',
    camera: {
      focal_length_mm: scene.camera.focalLengthMm,
      pixel_pitch_um: scene.camera.pixelPitchUm,
      focus_distance_m: scene.camera.focusDistanceM,
    },
    f_number_aif: 22,
    f_number_blurred: 8,
    exposure_time_aif_s: null,
    exposure_time_blurred_s: null,
    depth_gt: 'depth_gt.npy',
    ...extra,
  };
  const file = join(dir, 'pair.json');
  writeFileSync(file, JSON.stringify(pair, null, 2));
  tf.dispose([scene.aif, scene.blurred, scene.depthGt, scene.depthFilled, scene.rgbSrgb]);
  return file;
}
