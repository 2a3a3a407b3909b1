import * as tf from '@tensorflow/tfjs';
import type { ThinLensCamera } from '../thin-lens-camera.ts';
import { checkRenderInputs, planLevels, type Renderer, type RenderOptions } from './renderer.ts';
import { gatherVaryingOp } from './varying-kernels.ts';

/**
 * The gather approximation: the kernel is chosen by the DESTINATION pixel's depth,
 * `out(i, j) = sum_k w_k(i, j) (x conv h_k)(i, j)`, i.e. `(1 - t) G_lo(aif) + t G_hi(aif)` with `G` the
 * per-pixel-kernel gather of `varying-kernels.ts`. Exact on constant-depth regions (where it equals
 * `scatter`); at depth edges a sharp pixel next to a blurred one stays sharp, and energy is not conserved.
 * Differentiable in depth and in `aif`; its depth gradient needs no convolution in the backward pass.
 */
export function renderGather(
  aif: tf.Tensor3D,
  depthM: tf.Tensor2D,
  camera: ThinLensCamera,
  fNumber: number,
  opts: RenderOptions = {},
): tf.Tensor3D {
  checkRenderInputs('gather', aif, depthM, camera, fNumber, opts);
  return tf.tidy(() => {
    const plan = planLevels('gather', depthM, camera, fNumber, opts);
    const t = tf.expandDims(plan.t, 2); // [H, W, 1]
    const lo = gatherVaryingOp(aif, plan.lower); // [H, W, C]
    const hi = gatherVaryingOp(aif, plan.upper); // [H, W, C]
    return tf.add(lo, tf.mul(t, tf.sub(hi, lo))) as tf.Tensor3D;
  });
}

export const gatherRenderer: Renderer = Object.freeze({
  name: 'gather',
  differentiable: true,
  description: 'gather: the destination pixel chooses the kernel (levels + hat weights); exact on flat depth',
  render: renderGather,
});
