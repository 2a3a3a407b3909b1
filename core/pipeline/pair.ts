import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { ApertureDepthError, check } from '../errors.ts';
import { readImage, toFloat } from '../io/image.ts';
import { readJsonFile } from '../io/json-file.ts';
import { readNpy } from '../io/npy.ts';
import { readPfm } from '../io/pfm.ts';
import { rgbOf, type FloatImage } from '../io/raster.ts';
import { srgbToLinear } from '../../physics/radiometry.ts';
import { ThinLensCamera } from '../../physics/thin-lens-camera.ts';

/** Pixel encodings a pair's images may use. */
export const PAIR_ENCODINGS = Object.freeze(['linear', 'srgb'] as const);
export type PairEncoding = (typeof PAIR_ENCODINGS)[number];

/**
 * A validated `pair.json`: the format `simulate` writes and users describe their captures in. Paths are
 * absolute (resolved against the folder of the json).
 *
 * ```json
 * { "aif": "aif.png", "blurred": "blurred.png", "encoding": "linear",
 *   "camera": { "focal_length_mm": 50, "pixel_pitch_um": 6.4, "focus_distance_m": 1.2 },
 *   "f_number_aif": 22, "f_number_blurred": 8,
 *   "exposure_time_aif_s": null, "exposure_time_blurred_s": null, "depth_gt": "depth_gt.npy" }
 * ```
 * Other keys (`simulation`, notes) are allowed and ignored.
 */
export interface PairSpec {
  /** The pair.json itself. */
  file: string;
  /** The small-aperture (all-in-focus) image. */
  aif: string;
  /** The large-aperture (defocused) image. */
  blurred: string;
  encoding: PairEncoding;
  camera: ThinLensCamera;
  fNumberAif: number;
  fNumberBlurred: number;
  /** Exposure times (seconds), both or neither; null: a gain is fitted instead. */
  exposureTimeAifS: number | null;
  exposureTimeBlurredS: number | null;
  /** Ground-truth depth: `.npy` (metres, NaN = invalid), `.pfm` (metres), or 16-bit `.png` (millimetres, 0 = invalid). */
  depthGt: string | null;
  /** Evaluation mask (PNG, non-zero = evaluate), when given. */
  evalMask: string | null;
}

function describe(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

/** Reads and validates `pair.json`; every error names the file and the key. */
export function loadPairSpec(file: string): PairSpec {
  const path = resolve(file);
  const json = readJsonFile(path, 'pair description');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ApertureDepthError(`expected a JSON object, got ${describe(json)}`, { file: path });
  }
  const obj = json as Record<string, unknown>;
  const dir = dirname(path);
  const filePath = (key: string, required: boolean): string | null => {
    const v = obj[key];
    if (v === undefined || v === null) {
      check(!required, () => 'missing (a path relative to the pair.json is required)', { file: path, key });
      return null;
    }
    check(typeof v === 'string' && v.length > 0, () => `expected a path (string), got ${describe(v)}`, {
      file: path,
      key,
    });
    const p = resolve(dir, v);
    check(existsSync(p), () => `file ${p} does not exist`, { file: path, key });
    return p;
  };
  const positive = (key: string, required: boolean): number | null => {
    const v = obj[key];
    if (v === undefined || v === null) {
      check(!required, () => 'missing (a positive number is required)', { file: path, key });
      return null;
    }
    check(
      typeof v === 'number' && Number.isFinite(v) && v > 0,
      () => `expected a positive number, got ${describe(v)}`,
      {
        file: path,
        key,
      },
    );
    return v;
  };
  const encoding = obj.encoding ?? 'srgb';
  check(
    typeof encoding === 'string' && (PAIR_ENCODINGS as readonly string[]).includes(encoding),
    () => `expected one of ${PAIR_ENCODINGS.join(', ')}, got ${describe(encoding)}`,
    { file: path, key: 'encoding' },
  );
  check(
    obj.camera !== undefined,
    () => 'missing (an object with focal_length_mm, pixel_pitch_um, focus_distance_m)',
    {
      file: path,
      key: 'camera',
    },
  );
  const camera = ThinLensCamera.fromJson(obj.camera, path, 'camera.');
  const fNumberAif = positive('f_number_aif', true)!;
  const fNumberBlurred = positive('f_number_blurred', true)!;
  check(
    fNumberAif > fNumberBlurred,
    () =>
      `the all-in-focus image needs the smaller aperture: f_number_aif (${fNumberAif}) must exceed f_number_blurred (${fNumberBlurred})`,
    { file: path, key: 'f_number_aif' },
  );
  const tA = positive('exposure_time_aif_s', false);
  const tB = positive('exposure_time_blurred_s', false);
  check(
    (tA === null) === (tB === null),
    () => 'give both exposure times or neither (without them a global gain is fitted)',
    { file: path, key: tA === null ? 'exposure_time_aif_s' : 'exposure_time_blurred_s' },
  );
  return {
    file: path,
    aif: filePath('aif', true)!,
    blurred: filePath('blurred', true)!,
    encoding: encoding as PairEncoding,
    camera,
    fNumberAif,
    fNumberBlurred,
    exposureTimeAifS: tA,
    exposureTimeBlurredS: tB,
    depthGt: filePath('depth_gt', false),
    evalMask: filePath('eval_mask', false),
  };
}

/** A pair's pixels, linear, `[H, W, 3]` (grey repeated, alpha dropped), before any exposure equalization. */
export interface PairImages {
  aif: tf.Tensor3D;
  blurred: tf.Tensor3D;
  /** Ground truth, metres, NaN where invalid, `[H, W]`. */
  depthGt?: tf.Tensor2D;
  /** Evaluation mask, 1/0, `[H * W]`. */
  evalMask?: Uint8Array;
  width: number;
  height: number;
}

function rgbTensor(img: FloatImage): tf.Tensor3D {
  return tf.tensor3d(rgbOf(img).data, [img.height, img.width, 3]);
}

/** Reads ground-truth depth in metres (NaN where invalid), by extension; see {@link PairSpec.depthGt}. */
export function readDepthGt(
  path: string,
  pairFile: string,
): { data: Float32Array; width: number; height: number } {
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') {
    const arr = readNpy(path);
    check(
      arr.shape.length === 2 || (arr.shape.length === 3 && arr.shape[2] === 1),
      () => `depth must be [H, W], got [${arr.shape}]`,
      {
        file: path,
        key: 'depth_gt',
      },
    );
    check(arr.dtype !== 'int64', () => 'depth must be a float or small integer array', {
      file: path,
      key: 'depth_gt',
    });
    const data = Float32Array.from(arr.data as ArrayLike<number>, (v) =>
      Number.isFinite(v) && v > 0 ? v : Number.NaN,
    );
    return { data, width: arr.shape[1], height: arr.shape[0] };
  }
  if (ext === '.pfm') {
    const arr = readPfm(path);
    check(arr.shape.length === 2, () => `depth must be a grey PFM, got [${arr.shape}]`, {
      file: path,
      key: 'depth_gt',
    });
    const data = Float32Array.from(arr.data, (v) => (Number.isFinite(v) && v > 0 ? v : Number.NaN));
    return { data, width: arr.shape[1], height: arr.shape[0] };
  }
  if (ext === '.png') {
    const img = readImage(path);
    check(
      img.channels === 1 && img.bitDepth === 16,
      () => 'a depth PNG must be 16-bit grey (millimetres, 0 = invalid)',
      {
        file: path,
        key: 'depth_gt',
      },
    );
    const data = Float32Array.from(img.data, (v) => (v > 0 ? v / 1000 : Number.NaN));
    return { data, width: img.width, height: img.height };
  }
  throw new ApertureDepthError(
    `unknown depth format "${ext}"; expected .npy (metres), .pfm (metres) or 16-bit .png (mm)`,
    {
      file: pairFile,
      key: 'depth_gt',
    },
  );
}

/**
 * Reads the images of a pair (linearized when `encoding` is `srgb`) and its ground truth. Images of
 * different sizes, or ground truth of another size, are errors naming both files.
 */
export function readPairImages(spec: PairSpec): PairImages {
  const aifImg = toFloat(readImage(spec.aif));
  const blurredImg = toFloat(readImage(spec.blurred));
  check(
    aifImg.width === blurredImg.width && aifImg.height === blurredImg.height,
    () =>
      `the images differ in size: aif ${spec.aif} is ${aifImg.width}x${aifImg.height}, blurred ${spec.blurred} is ` +
      `${blurredImg.width}x${blurredImg.height}`,
    { file: spec.file, key: 'blurred' },
  );
  const { width, height } = aifImg;
  let depthGt: tf.Tensor2D | undefined;
  if (spec.depthGt) {
    const gt = readDepthGt(spec.depthGt, spec.file);
    check(
      gt.width === width && gt.height === height,
      () => `ground truth ${spec.depthGt} is ${gt.width}x${gt.height}, the images are ${width}x${height}`,
      { file: spec.file, key: 'depth_gt' },
    );
    depthGt = tf.tensor2d(gt.data, [height, width]);
  }
  let evalMask: Uint8Array | undefined;
  if (spec.evalMask) {
    const m = readImage(spec.evalMask);
    check(
      m.width === width && m.height === height,
      () => `eval mask is ${m.width}x${m.height}, the images are ${width}x${height}`,
      {
        file: spec.file,
        key: 'eval_mask',
      },
    );
    evalMask = new Uint8Array(width * height);
    for (let i = 0; i < evalMask.length; i++) evalMask[i] = m.data[i * m.channels] ? 1 : 0;
  }
  const toLinear = (img: FloatImage): tf.Tensor3D =>
    tf.tidy(() => {
      const t = rgbTensor(img);
      return spec.encoding === 'srgb' ? (srgbToLinear(t) as tf.Tensor3D) : t;
    });
  return { aif: toLinear(aifImg), blurred: toLinear(blurredImg), depthGt, evalMask, width, height };
}
