import type * as tf from '@tensorflow/tfjs';
import { check } from '../errors.ts';

/** A depth map as the metrics accept it: a flat array (row-major) or a tensor of any shape. */
export type DepthValues = ArrayLike<number> | tf.Tensor;

/** Flat values of a map (a tensor is read synchronously). */
export function valuesOf(x: DepthValues): ArrayLike<number> {
  return typeof (x as tf.Tensor).dataSync === 'function'
    ? ((x as tf.Tensor).dataSync() as Float32Array)
    : (x as ArrayLike<number>);
}

/** The flat arrays of pred, gt and mask, checked to have one length. */
export function pairedValues(
  pred: DepthValues,
  gt: DepthValues,
  mask: DepthValues | undefined,
  fn: string,
): { p: ArrayLike<number>; g: ArrayLike<number>; m: ArrayLike<number> | undefined } {
  const p = valuesOf(pred);
  const g = valuesOf(gt);
  const m = mask === undefined ? undefined : valuesOf(mask);
  check(p.length === g.length, () => `pred has ${p.length} values, gt ${g.length}`, {
    key: `${fn}(pred, gt)`,
  });
  check(!m || m.length === p.length, () => `mask has ${m!.length} values, pred ${p.length}`, {
    key: `${fn}(mask)`,
  });
  return { p, g, m };
}
