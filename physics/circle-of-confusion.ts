import * as tf from '@tensorflow/tfjs';
import { check } from '../core/errors.ts';
import { checkFNumber, type ThinLensCamera } from './thin-lens-camera.ts';

/**
 * The depth-independent factor of eq. 2: `K = f^2 / (N (F - f) s)`, in pixels, so that
 * `c(d) = K |d - F| / d = K |1 - F / d|`. The CoC is linear in inverse depth on each side of the focus plane.
 */
export function cocScalePx(camera: ThinLensCamera, fNumber: number, fNumberKey = 'fNumber'): number {
  checkFNumber(fNumber, fNumberKey);
  const f = camera.focalLengthM;
  return (f * f) / (fNumber * (camera.focusDistanceM - f) * camera.pixelPitchM);
}

/**
 * Circle-of-confusion diameter in pixels, paper eq. 2: `c = f^2 |d - F| / (N d (F - f) s)`, every length in
 * metres. Differentiable in `depthM` (the gradient of |x| at the focus plane is taken as 0). Depth must be
 * positive; it is not checked per element (that would need a read-back).
 *
 * @param depthM depth in metres, any shape (`[H, W]` for a map).
 * @returns a tensor of the same shape, float32.
 * @example
 * // f = 50 mm, N = 8, F = 2 m, s = 5 um, d = 3 m -> 10.684 px (worked in test/physics/circle-of-confusion.test.ts)
 */
export function circleOfConfusionPx(
  camera: ThinLensCamera,
  depthM: tf.Tensor,
  fNumber: number,
  fNumberKey = 'fNumber',
): tf.Tensor {
  check(depthM instanceof tf.Tensor, () => 'depthM must be a tensor', { key: 'depthM' });
  check(depthM.dtype === 'float32', () => `depthM must be float32, got ${depthM.dtype}`, { key: 'depthM' });
  const k = cocScalePx(camera, fNumber, fNumberKey);
  const focus = camera.focusDistanceM;
  return tf.tidy(() => tf.mul(tf.div(tf.abs(tf.sub(depthM, focus)), depthM), k)); // same shape as depthM
}

/** {@link circleOfConfusionPx} for one depth, in float64, for planning (level grids, kernel sizes). */
export function circleOfConfusionPxScalar(
  camera: ThinLensCamera,
  depthM: number,
  fNumber: number,
  fNumberKey = 'fNumber',
): number {
  check(
    typeof depthM === 'number' && Number.isFinite(depthM) && depthM > 0,
    () => `depth must be a finite positive number of metres, got ${depthM}`,
    { key: 'depthM' },
  );
  return (cocScalePx(camera, fNumber, fNumberKey) * Math.abs(depthM - camera.focusDistanceM)) / depthM;
}
