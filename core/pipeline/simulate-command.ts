import { extname } from 'node:path';
import { check } from '../errors.ts';
import { readImage, toFloat } from '../io/image.ts';
import { readJsonFile } from '../io/json-file.ts';
import { readNpy } from '../io/npy.ts';
import { rgbOf, type FloatImage } from '../io/raster.ts';
import type { OpticsConfig } from '../config/schema.ts';
import type { DepthMap, RgbdScene } from '../datasets/dataset.ts';
import { ThinLensCamera, checkFNumber } from '../../physics/thin-lens-camera.ts';
import { RENDERERS, type RendererName } from '../../physics/renderers/index.ts';
import { readDepthFile, readMaskFile } from './eval-depth.ts';
import { writeSimulatedPair } from './simulated-dataset.ts';

/** Options of `aperture-depth simulate`. */
export interface SimulateCommandOptions {
  /** sRGB photo taken as the all-in-focus radiance (PNG 8/16-bit, JPEG, PPM). */
  rgb: string;
  /** Metric depth: `.npy`, `.pfm` or a 16-bit PNG. */
  depth: string;
  /** Unit of the depth values. @default `mm` for PNG and uint16 `.npy`, else `m` */
  depthUnit?: 'm' | 'mm';
  /** Optional PNG: zero marks pixels without ground truth (NaN in `depth_gt.npy`). */
  mask?: string;
  /** `CAMERA.json`: focal_length_mm, pixel_pitch_um, focus_distance_m, f_number_aif, f_number_blurred. */
  camera: string;
  out: string;
  /** @default 'layered' */
  renderer?: RendererName;
  /** Gaussian read-noise sigma in linear [0, 1] units. @default 0 */
  noiseSigma?: number;
  /** @default 0 */
  seed?: number;
  /** @default 'disc' */
  psf?: 'disc' | 'gaussian';
}

/** The unit a depth file's values are in when the user does not say: PNG and uint16 store millimetres. */
function defaultDepthUnit(path: string): 'm' | 'mm' {
  const ext = extname(path).toLowerCase();
  if (ext === '.png') return 'mm';
  if (ext === '.npy') return readNpy(path).dtype === 'uint16' ? 'mm' : 'm';
  return 'm';
}

/** Reads the depth in metres, honouring `--depth-unit` over the format's default. */
export function readMetricDepth(path: string, unit?: 'm' | 'mm'): DepthMap {
  const depth = readDepthFile(path, '--depth');
  const given = defaultDepthUnit(path);
  const wanted = unit ?? given;
  if (wanted !== given) {
    const factor = wanted === 'mm' ? 1e-3 : 1e3;
    for (let i = 0; i < depth.data.length; i++) depth.data[i] *= factor;
  }
  return depth;
}

/** The RGB of a colour image (alpha dropped); a grey image is an error naming `--rgb`. */
function colourRgb(img: FloatImage, file: string): FloatImage {
  check(img.channels >= 3, () => `expected an RGB image, got ${img.channels} channel(s)`, { file, key: '--rgb' });
  return rgbOf(img);
}

/** Reads `CAMERA.json` into optics for the simulation; every field is checked with the file named. */
export function readCameraFile(path: string): { camera: ThinLensCamera; fNumberAif: number; fNumberBlurred: number } {
  const json = readJsonFile(path, 'camera description') as Record<string, unknown>;
  check(json && typeof json === 'object' && !Array.isArray(json), () => 'expected a JSON object', { file: path });
  const camera = ThinLensCamera.fromJson(json as never, path);
  for (const key of ['f_number_aif', 'f_number_blurred'] as const) {
    check(key in json, () => `missing key (expected a positive f-number)`, { file: path, key });
    try {
      checkFNumber(json[key], key);
    } catch (err) {
      check(false, () => (err as Error).message, { file: path });
    }
  }
  const fNumberAif = json.f_number_aif as number;
  const fNumberBlurred = json.f_number_blurred as number;
  check(
    fNumberAif > fNumberBlurred,
    () => `f_number_aif (${fNumberAif}) must be larger than f_number_blurred (${fNumberBlurred})`,
    { file: path, key: 'f_number_aif' },
  );
  return { camera, fNumberAif, fNumberBlurred };
}

/**
 * `aperture-depth simulate`: renders an aperture pair from an RGB-D frame and writes `aif.png`,
 * `blurred.png` (16-bit linear), `depth_gt.npy` (float32 m, NaN invalid) and `pair.json` into `out`.
 */
export async function runSimulateCommand(o: SimulateCommandOptions): Promise<{ pairFile: string; focusDistanceM: number }> {
  // 1. Optics and inputs, each checked with its file named.
  const { camera, fNumberAif, fNumberBlurred } = readCameraFile(o.camera);
  const renderer = o.renderer ?? 'layered';
  check(renderer in RENDERERS && renderer !== 'scatter-brute-force', () => `unknown renderer "${renderer}"; expected scatter, gather or layered`, {
    key: '--renderer',
  });
  const noiseSigma = o.noiseSigma ?? 0;
  check(Number.isFinite(noiseSigma) && noiseSigma >= 0, () => `expected a number >= 0, got ${noiseSigma}`, { key: '--noise-sigma' });
  const seed = o.seed ?? 0;
  check(Number.isInteger(seed), () => `expected an integer, got ${seed}`, { key: '--seed' });
  const rgb = colourRgb(toFloat(readImage(o.rgb)), o.rgb); // [H, W, 3] sRGB in [0, 1]
  const depth = readMetricDepth(o.depth, o.depthUnit); // [H, W] metres, NaN invalid
  check(
    depth.width === rgb.width && depth.height === rgb.height,
    () => `depth is ${depth.width}x${depth.height} but the image ${o.rgb} is ${rgb.width}x${rgb.height}`,
    { file: o.depth, key: '--depth' },
  );
  if (o.mask) {
    const mask = readMaskFile(o.mask);
    check(
      mask.width === rgb.width && mask.height === rgb.height,
      () => `mask is ${mask.width}x${mask.height} but the image is ${rgb.width}x${rgb.height}`,
      { file: o.mask, key: '--mask' },
    );
    for (let i = 0; i < mask.data.length; i++) if (!mask.data[i]) depth.data[i] = Number.NaN;
  }
  // NaN, zero and negative depth are holes (filled for rendering, NaN in depth_gt.npy); all holes is an error.
  const valid = depth.data.reduce((n, d) => (Number.isFinite(d) && d > 0 ? n + 1 : n), 0);
  check(valid > 0, () => 'no valid depth: every value is NaN, infinite, zero or negative' + (o.mask ? ' (or masked out)' : ''), {
    file: o.depth,
    key: '--depth',
  });
  // 2. Render both apertures with the camera's own focus distance and write the pair.
  const optics: OpticsConfig = {
    focal_length_mm: camera.focalLengthMm,
    pixel_pitch_um: camera.pixelPitchUm,
    focus: camera.focusDistanceM,
    f_number_aif: fNumberAif,
    f_number_blurred: fNumberBlurred,
    psf: o.psf ?? 'disc',
    renderer,
    noise: { sigma: noiseSigma },
  } as OpticsConfig;
  const files = [o.rgb, o.depth, ...(o.mask ? [o.mask] : [])];
  const scene: RgbdScene = { kind: 'rgbd', id: 'simulated', rgb, depth, files };
  const pair = await writeSimulatedPair(o.out, scene, optics, seed);
  return { pairFile: pair.pairFile, focusDistanceM: camera.focusDistanceM };
}
