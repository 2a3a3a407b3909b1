import type { ExecutionContext } from 'ava';
import * as tf from '@tensorflow/tfjs';
import type { MarigoldPrior } from '../../diffusion/marigold/marigold-prior.ts';
import { fixture, relL2 } from './npy-fixture.ts';

export interface ParityRun {
  set: 'sd2-tiny' | 'marigold-test';
  run: string;
  steps: number;
  processingResolution: number;
  /** The run carries grad_W / grad_wrt_latents. */
  grad: boolean;
  /** LCM multi-step: lcm_step_noise.npy is injected. */
  stepNoise: boolean;
}

/** The fixture input image as NHWC [1, 64, 48, 3] in [0, 1]. */
export function fixtureImage(): tf.Tensor4D {
  const rgb = fixture('inputs/image_rgb01.npy');
  return tf.tidy(() =>
    tf.transpose(tf.tensor4d(rgb.data, rgb.shape as [number, number, number, number]), [0, 2, 3, 1]),
  );
}

const TOL = 1e-4;
const GRAD_TOL = 1e-3;

/**
 * Runs one fixture pipeline run through the prior and compares every saved intermediate: rgb_latent,
 * unet_out_per_step, latent_out, decoded_depth_padded (when saved), prediction, and the gradient of
 * sum(prediction * grad_W) with respect to latents_in. Logs the relative L2 errors.
 */
export async function checkRun(t: ExecutionContext, prior: MarigoldPrior, image: tf.Tensor4D, r: ParityRun) {
  const a = (name: string) => fixture(`${r.set}/arrays/pipeline/${r.run}/${name}.npy`);
  const errors: Record<string, number> = {};
  const encoded = prior.encodeImage(image, { processingResolution: r.processingResolution });
  const rgb = tf.tidy(() => tf.transpose(encoded.rgbLatent, [0, 3, 1, 2]));
  errors.rgb_latent = relL2(await rgb.data(), a('rgb_latent').data);
  rgb.dispose();
  const latentsIn = a('latents_in');
  const z = tf.tensor4d(latentsIn.data, latentsIn.shape as [number, number, number, number]);
  t.deepEqual(prior.latentShape, latentsIn.shape as [number, number, number, number]);
  let stepNoise: tf.Tensor[] | undefined;
  if (r.stepNoise) {
    const n = a('lcm_step_noise');
    const per = n.shape.slice(1);
    const size = per.reduce((x, y) => x * y, 1);
    stepNoise = Array.from({ length: n.shape[0] }, (_, i) =>
      tf.tensor(n.data.slice(i * size, (i + 1) * size), per),
    );
  }
  const options = { steps: r.steps, stepNoise };
  const trace = prior.trace(z, options);
  t.deepEqual(trace.timesteps.length, r.steps);
  const unet = tf.stack(trace.unetOutputs);
  errors.unet_out_per_step = relL2(await unet.data(), a('unet_out_per_step').data);
  errors.latent_out = relL2(await trace.latent.data(), a('latent_out').data);
  if (r.run.endsWith('_pr40'))
    errors.decoded_depth_padded = relL2(await trace.depthPadded.data(), a('decoded_depth_padded').data);
  errors.prediction = relL2(await trace.depth.data(), a('prediction').data);
  tf.dispose([unet, trace.latent, trace.depth, trace.depthPadded, ...trace.unetOutputs]);
  if (r.grad) {
    const W = a('grad_W');
    const w = tf.tensor2d(W.data, [W.shape[2], W.shape[3]]);
    const { value, grad } = tf.tidy(() => {
      const f = (v: tf.Tensor) => tf.sum(tf.mul(prior.predictDepth(v, options), w));
      const g = tf.valueAndGrad(f)(z);
      return { value: g.value, grad: g.grad };
    });
    errors.grad_loss =
      Math.abs((await value.data())[0] - a('grad_loss').data[0]) / Math.abs(a('grad_loss').data[0]);
    errors.grad_wrt_latents = relL2(await grad.data(), a('grad_wrt_latents').data);
    tf.dispose([w, value, grad]);
  }
  tf.dispose([z, ...(stepNoise ?? [])]);
  t.log(
    `${r.set}/${r.run}: ` +
      Object.entries(errors)
        .map(([k, v]) => `${k} ${v.toExponential(2)}`)
        .join(', '),
  );
  for (const [k, v] of Object.entries(errors)) {
    t.true(v < (k.startsWith('grad_wrt') ? GRAD_TOL : TOL), `${k}: relative L2 ${v}`);
  }
  return errors;
}
