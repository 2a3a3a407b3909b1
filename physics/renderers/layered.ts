import * as tf from '@tensorflow/tfjs';
import type { ThinLensCamera } from '../thin-lens-camera.ts';
import { checkRenderInputs, planLevels, type Renderer, type RenderOptions } from './renderer.ts';
import { scatterVaryingOp } from './varying-kernels.ts';

/** Default CoC width of one depth layer (pixels), on each side of the focus plane. */
export const DEFAULT_LAYER_STEP_PX = 1;

/** Below this composited coverage a pixel is taken as uncovered (avoids 0 / 0). */
const MIN_COVERAGE = 1e-6;

/**
 * Occlusion-aware layered defocus (the usual layered depth-of-field model, e.g. Hasinoff & Kutulakos 2007;
 * Ikoma et al. 2021 for the normalization), used to simulate pairs so that an optimizer built on `scatter`
 * never fits data made by its own forward model.
 *
 * 1. Depth is cut into layers of `layerStepPx` of CoC on each side of the focus plane (the CoC is linear in
 *    inverse depth, so these are inverse-depth slabs), ordered far to near.
 * 2. Within layer `l` (mask `a_l`), colour and coverage spread like `scatter` (per-source kernel, levels with
 *    hat weights): `C_l = S(x a_l)`, `A_l = S(a_l)`; the coverage is blurred with the frame's edge pixels
 *    replicated outside it (the world goes on past the frame), the colour with zero outside (light that
 *    would come from outside the frame is lost, as in `scatter`).
 * 3. Back to front: `acc <- acc (1 - A_l) + C_l`, `cov <- cov (1 - A_l) + A_l`; out `= acc / cov`. Dividing by
 *    the coverage fills the dark seams where a near layer's blur uncovers background that the AIF never saw.
 *
 * A constant-depth scene is one layer with `A = 1` everywhere, so the output is exactly `scatter`'s.
 * Differentiable in depth through the hat weights (layer membership is a constant of the call) and in `aif`;
 * the backward pass costs one gather per layer.
 */
export function renderLayered(
  aif: tf.Tensor3D,
  depthM: tf.Tensor2D,
  camera: ThinLensCamera,
  fNumber: number,
  opts: RenderOptions = {},
): tf.Tensor3D {
  const [H, W, C] = checkRenderInputs('layered', aif, depthM, camera, fNumber, opts);
  return tf.tidy(() => {
    const plan = planLevels('layered', depthM, camera, fNumber, opts);
    const layerStep = opts.layerStepPx ?? DEFAULT_LAYER_STEP_PX;
    const perSide = Math.floor(plan.maxCocPx / layerStep) + 1;
    const focus = camera.focusDistanceM;

    // 1. Layer key per pixel: 0 .. perSide-1 far side (farthest first), perSide .. 2 perSide-1 near side.
    const key = new Int32Array(H * W);
    const count = new Int32Array(2 * perSide);
    for (let p = 0; p < key.length; p++) {
      const j = Math.min(Math.floor(Math.min(plan.cocData[p], plan.maxCocPx) / layerStep), perSide - 1);
      key[p] = plan.depthData[p] >= focus ? perSide - 1 - j : perSide + j;
      count[key[p]]++;
    }

    // 2-3. Per layer: scatter colour and coverage with the layer's sources, composite over the accumulator.
    const t = tf.expandDims(plan.t, 2); // [H, W, 1]
    const aifLo = tf.mul(aif, tf.sub(1, t)) as tf.Tensor3D; // [H, W, C]
    const aifHi = tf.mul(aif, t) as tf.Tensor3D; // [H, W, C]
    const oneLo = tf.sub(1, t) as tf.Tensor3D; // [H, W, 1]
    const oneHi = t as tf.Tensor3D; // [H, W, 1]
    const extendPx = plan.bank.maxRadius;
    let acc = tf.zeros([H, W, C]) as tf.Tensor3D;
    let cov = tf.zeros([H, W, 1]) as tf.Tensor3D;
    for (let l = 0; l < 2 * perSide; l++) {
      if (count[l] === 0) continue;
      const sources = new Uint8Array(H * W);
      for (let p = 0; p < key.length; p++) if (key[p] === l) sources[p] = 1;
      const lower = { ...plan.lower, sources };
      const upper = { ...plan.upper, sources };
      const next = tf.tidy(() => {
        const colour = tf.add(scatterVaryingOp(aifLo, lower), scatterVaryingOp(aifHi, upper)); // [H, W, C]
        const alpha = tf.add(
          scatterVaryingOp(oneLo, { ...lower, extendPx }),
          scatterVaryingOp(oneHi, { ...upper, extendPx }),
        ); // [H, W, 1]
        const keep = tf.sub(1, alpha);
        return [tf.add(tf.mul(acc, keep), colour), tf.add(tf.mul(cov, keep), alpha)] as tf.Tensor3D[];
      });
      tf.dispose([acc, cov]);
      [acc, cov] = next;
    }
    return tf.div(acc, tf.maximum(cov, MIN_COVERAGE)) as tf.Tensor3D;
  });
}

export const layeredRenderer: Renderer = Object.freeze({
  name: 'layered',
  differentiable: true,
  description: 'occlusion-aware layers composited far to near, coverage-normalized (for simulating pairs)',
  render: renderLayered,
});
