import { ApertureDepthError, check } from '../core/errors.ts';

/** The camera parameters, in the units their names carry. */
export interface ThinLensCameraParams {
  /** Focal length `f` in millimetres (paper: 50). */
  focalLengthMm: number;
  /** Sensor pixel pitch `s` in micrometres (Canon 5D Mk II: 6.4). */
  pixelPitchUm: number;
  /** Focus distance `F` in metres, measured from the lens; must exceed the focal length. */
  focusDistanceM: number;
}

/** The snake_case form used in pair.json and configs. */
export interface ThinLensCameraJson {
  focal_length_mm: number;
  pixel_pitch_um: number;
  focus_distance_m: number;
}

const JSON_KEYS: Readonly<Record<keyof ThinLensCameraParams, keyof ThinLensCameraJson>> = Object.freeze({
  focalLengthMm: 'focal_length_mm',
  pixelPitchUm: 'pixel_pitch_um',
  focusDistanceM: 'focus_distance_m',
});

/**
 * A thin-lens camera focused at `focusDistanceM`: the fixed optics shared by both captures of a pair
 * (the f-number differs per capture and is passed to the renderers separately).
 *
 * @example
 * const cam = new ThinLensCamera({ focalLengthMm: 50, pixelPitchUm: 5, focusDistanceM: 2 });
 * cam.focalLengthM; // 0.05
 */
export class ThinLensCamera implements ThinLensCameraParams {
  readonly focalLengthMm: number;
  readonly pixelPitchUm: number;
  readonly focusDistanceM: number;

  /**
   * @param params the three parameters, validated: finite, positive, focus distance beyond the focal length.
   * @param keyNames how to name each field in an error (defaults to the camelCase names).
   * @param file the file the values came from, named in an error.
   */
  constructor(
    params: ThinLensCameraParams,
    keyNames: Readonly<Record<keyof ThinLensCameraParams, string>> = {
      focalLengthMm: 'focalLengthMm',
      pixelPitchUm: 'pixelPitchUm',
      focusDistanceM: 'focusDistanceM',
    },
    file?: string,
  ) {
    check(
      typeof params === 'object' && params !== null,
      () => `camera must be an object, got ${params === null ? 'null' : typeof params}`,
      { file, key: 'camera' },
    );
    for (const name of Object.keys(JSON_KEYS) as (keyof ThinLensCameraParams)[]) {
      const v = params[name];
      check(
        typeof v === 'number' && Number.isFinite(v) && v > 0,
        () => `must be a finite positive number, got ${describe(v)}`,
        { file, key: keyNames[name] },
      );
    }
    const focalM = params.focalLengthMm * 1e-3;
    check(
      params.focusDistanceM > focalM,
      () =>
        `focus distance ${params.focusDistanceM} m must exceed the focal length ${focalM} m ` +
        '(a thin lens cannot focus closer than f)',
      { file, key: keyNames.focusDistanceM },
    );
    this.focalLengthMm = params.focalLengthMm;
    this.pixelPitchUm = params.pixelPitchUm;
    this.focusDistanceM = params.focusDistanceM;
    Object.freeze(this);
  }

  /**
   * Reads the snake_case form (`focal_length_mm`, `pixel_pitch_um`, `focus_distance_m`); other keys are
   * ignored so a camera block may carry more fields. Errors name the snake_case key and `file`.
   */
  static fromJson(json: unknown, file?: string, keyPrefix = ''): ThinLensCamera {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new ApertureDepthError(`camera must be an object, got ${describe(json)}`, {
        file,
        key: keyPrefix ? keyPrefix.replace(/\.$/, '') : 'camera',
      });
    }
    const obj = json as Record<string, unknown>;
    const keyNames = {
      focalLengthMm: keyPrefix + JSON_KEYS.focalLengthMm,
      pixelPitchUm: keyPrefix + JSON_KEYS.pixelPitchUm,
      focusDistanceM: keyPrefix + JSON_KEYS.focusDistanceM,
    };
    for (const name of Object.keys(JSON_KEYS) as (keyof ThinLensCameraParams)[]) {
      check(JSON_KEYS[name] in obj, () => 'missing (a number is required)', { file, key: keyNames[name] });
    }
    return new ThinLensCamera(
      {
        focalLengthMm: obj[JSON_KEYS.focalLengthMm] as number,
        pixelPitchUm: obj[JSON_KEYS.pixelPitchUm] as number,
        focusDistanceM: obj[JSON_KEYS.focusDistanceM] as number,
      },
      keyNames,
      file,
    );
  }

  /** The snake_case form, the inverse of {@link ThinLensCamera.fromJson}. */
  toJson(): ThinLensCameraJson {
    return {
      focal_length_mm: this.focalLengthMm,
      pixel_pitch_um: this.pixelPitchUm,
      focus_distance_m: this.focusDistanceM,
    };
  }

  /** Focal length `f` in metres. */
  get focalLengthM(): number {
    return this.focalLengthMm * 1e-3;
  }

  /** Pixel pitch `s` in metres. */
  get pixelPitchM(): number {
    return this.pixelPitchUm * 1e-6;
  }
}

/** Throws unless `fNumber` is a finite positive number; `key` names it in the error. */
export function checkFNumber(fNumber: unknown, key = 'fNumber'): asserts fNumber is number {
  check(
    typeof fNumber === 'number' && Number.isFinite(fNumber) && fNumber > 0,
    () => `f-number must be a finite positive number, got ${describe(fNumber)}`,
    { key },
  );
}

function describe(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined) return String(v);
  if (v === null) return 'null';
  return JSON.stringify(v) ?? typeof v;
}
