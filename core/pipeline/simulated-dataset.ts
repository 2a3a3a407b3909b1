import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { check } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { writeNpy } from '../io/npy.ts';
import { writePng } from '../io/png.ts';
import type { OpticsConfig } from '../config/schema.ts';
import type { Dataset, DepthMap, PairScene, RgbdScene, Scene, SceneRef } from '../datasets/dataset.ts';
import { simulatePair } from '../../physics/simulate-pair.ts';
import { ThinLensCamera } from '../../physics/thin-lens-camera.ts';

/**
 * Simulation in the loop: an RGB-D dataset seen through the configured optics. Each scene's pair is rendered
 * on first load (renderer `layered` by default, never the optimizer's own model), with noise seeded per scene,
 * and written as a standard pair folder (`aif.png`, `blurred.png`, `depth_gt.npy`, `pair.json`, as `simulate`
 * writes), so every variant reads the same pair and a person can inspect it.
 *
 * It lives in `core/pipeline` rather than `core/datasets` because it composes physics with a loader; the
 * loaders themselves import nothing above `core/io`.
 */
export class SimulatedDataset implements Dataset {
  readonly name: string;

  /**
   * @param inner an RGB-D dataset (its scenes load as `rgbd`).
   * @param pairDir where scene `id`'s pair goes: `pairDir(id)/pair.json`.
   */
  constructor(
    private readonly inner: Dataset,
    private readonly optics: OpticsConfig,
    private readonly seed: number,
    private readonly pairDir: (id: string) => string,
    /** `data.downscale`: the pixel pitch is multiplied by it. */
    private readonly downscale = 1,
  ) {
    this.name = `${inner.name}+simulated`;
  }

  scenes(): SceneRef[] {
    return this.inner.scenes();
  }

  async load(ref: SceneRef): Promise<Scene> {
    const scene = await this.inner.load(ref);
    if (scene.kind === 'pair') return scene;
    // Downscaled images are the same camera with binned pixels: the pitch grows with the factor.
    const optics = { ...this.optics, pixel_pitch_um: this.optics.pixel_pitch_um * this.downscale };
    return writeSimulatedPair(this.pairDir(ref.id), scene, optics, sceneSeed(this.seed, ref.id));
  }
}

/**
 * A per-scene seed from the run's seed and the scene id (FNV-1a), so a scene gets the same noise whether it
 * runs alone, in a shard or resumed. At most 2^30 - 1 (the simulator uses `2 seed + 1`).
 */
export function sceneSeed(base: number, id: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${base}:${id}`) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h & 0x3fffffff;
}

/** Quantile `q` in [0, 1] of the finite values (linear interpolation between order statistics). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const v: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) v.push(values[i]!);
  check(v.length > 0, () => 'no valid depth to take a quantile of', { key: 'optics.focus' });
  v.sort((a, b) => a - b);
  const pos = q * (v.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(v.length - 1, lo + 1);
  return v[lo]! + (v[hi]! - v[lo]!) * (pos - lo);
}

/** The focus distance a config's `optics.focus` gives for a scene's ground-truth depth, metres. */
export function focusDistanceFor(depth: DepthMap, focus: OpticsConfig['focus']): number {
  if (typeof focus === 'number') return focus;
  if (focus === 'median') return quantile(depth.data, 0.5);
  if (focus === 'mean') {
    let s = 0;
    let n = 0;
    for (const d of depth.data) if (Number.isFinite(d)) [s, n] = [s + d, n + 1];
    check(n > 0, () => 'no valid depth to take the mean of', { key: 'optics.focus' });
    return s / n;
  }
  return quantile(depth.data, focus.percentile / 100);
}

/** The linear image as a 16-bit RGB PNG (clipped to [0, 1]). */
function toPng16(data: Float32Array | Float64Array | Int32Array | Uint8Array, width: number, height: number) {
  const out = new Uint16Array(width * height * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, Number(data[i]))) * 65535);
  return { width, height, channels: 3 as const, bitDepth: 16 as const, data: out };
}

/**
 * Renders one RGB-D scene into an aperture pair and writes it to `dir` (each file atomically, `pair.json`
 * last, so a folder with `pair.json` is complete). Returns the pair scene.
 */
export async function writeSimulatedPair(
  dir: string,
  scene: RgbdScene,
  optics: OpticsConfig,
  seed: number,
): Promise<PairScene> {
  const { width: W, height: H } = scene.depth;
  const focusDistanceM = focusDistanceFor(scene.depth, optics.focus);
  const camera = new ThinLensCamera(
    { focalLengthMm: optics.focal_length_mm, pixelPitchUm: optics.pixel_pitch_um, focusDistanceM },
    {
      focalLengthMm: 'optics.focal_length_mm',
      pixelPitchUm: 'optics.pixel_pitch_um',
      focusDistanceM: 'optics.focus',
    },
  );
  const rgb = tf.tensor3d(scene.rgb.data, [H, W, 3]);
  const depth = tf.tensor2d(scene.depth.data, [H, W]);
  let aifData: Float32Array;
  let blurredData: Float32Array;
  try {
    const pair = simulatePair({
      rgbSrgb: rgb,
      depthM: depth,
      camera,
      fNumberAif: optics.f_number_aif,
      fNumberBlurred: optics.f_number_blurred,
      renderer: optics.renderer,
      renderOptions: { psf: optics.psf },
      noiseSigma: optics.noise.sigma,
      photonsPerUnit: optics.noise.photons_per_unit,
      seed,
    });
    aifData = (await pair.aif.data()) as Float32Array;
    blurredData = (await pair.blurred.data()) as Float32Array;
    pair.aif.dispose();
    pair.blurred.dispose();
    pair.depthFilledM.dispose();
  } finally {
    rgb.dispose();
    depth.dispose();
  }
  writePng(join(dir, 'aif.png'), toPng16(aifData, W, H));
  writePng(join(dir, 'blurred.png'), toPng16(blurredData, W, H));
  writeNpy(join(dir, 'depth_gt.npy'), {
    shape: [H, W],
    dtype: 'float32',
    data: Float32Array.from(scene.depth.data),
  });
  if (scene.evalMask) {
    const mask = new Uint8Array(W * H);
    for (let i = 0; i < mask.length; i++) mask[i] = scene.evalMask[i] ? 255 : 0;
    writePng(join(dir, 'eval_mask.png'), { width: W, height: H, channels: 1, bitDepth: 8, data: mask });
  }
  const pairJson = {
    aif: 'aif.png',
    blurred: 'blurred.png',
    encoding: 'linear',
    camera: {
      focal_length_mm: optics.focal_length_mm,
      pixel_pitch_um: optics.pixel_pitch_um,
      focus_distance_m: focusDistanceM,
    },
    f_number_aif: optics.f_number_aif,
    f_number_blurred: optics.f_number_blurred,
    exposure_time_aif_s: null,
    exposure_time_blurred_s: null,
    depth_gt: 'depth_gt.npy',
    ...(scene.evalMask ? { eval_mask: 'eval_mask.png' } : {}),
    simulation: {
      scene: scene.id,
      source: scene.files,
      renderer: optics.renderer,
      psf: optics.psf,
      noise_sigma: optics.noise.sigma,
      photons_per_unit: optics.noise.photons_per_unit ?? null,
      seed,
    },
  };
  const pairFile = join(dir, 'pair.json');
  writeFileAtomic(pairFile, `${JSON.stringify(pairJson, null, 2)}\n`);
  return { kind: 'pair', id: scene.id, pairFile };
}
