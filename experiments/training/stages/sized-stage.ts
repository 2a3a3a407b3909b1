import { check } from '../../../core/errors.ts';

/** Settings of a UNet stage trained on scenes rendered at its own size (stages C and E). */
export interface SizedStageSettings {
  /** Steps; 0 = the stage is off. */
  steps: number;
  batch: number;
  lr: number;
  /** Scene size in pixels (the processing resolution; multiples of the VAE's downsampling; need not be square). */
  width: number;
  height: number;
  /** Scenes rendered at width x height: the first `scenes` training seeds (0 .. scenes-1). */
  scenes: number;
}

/**
 * Checks a sized stage's scene size, scene count and batch before any training (an error after stages A and
 * B would cost an hour); `prefix` names its flags (`ft` -> `--ft-width`, ...). The UNet upsamples to each
 * skip's size, so the latent need not divide by its downsampling (96x72 -> latent 24x18 -> 12x9 -> 6x5 and
 * back, as at inference); the VAE needs whole latent pixels (`down`), and the decoder's output is compared
 * pixel for pixel.
 */
export function checkSizedStage(s: SizedStageSettings, prefix: string, down: number, maxScenes: number): void {
  for (const [flag, v] of [[`--${prefix}-width`, s.width], [`--${prefix}-height`, s.height]] as const) {
    check(Number.isInteger(v) && v > 0 && v % down === 0, () => `${flag} ${v} must be a positive multiple of ${down}`, { key: flag });
  }
  const scenes = `--${prefix}-scenes`;
  check(Number.isInteger(s.scenes) && s.scenes >= 1 && s.scenes <= maxScenes, () => `${scenes} must lie in [1, ${maxScenes}]`, { key: scenes });
  const batch = `--${prefix}-batch`;
  check(Number.isInteger(s.batch) && s.batch >= 1, () => `${batch} must be a positive integer`, { key: batch });
}
