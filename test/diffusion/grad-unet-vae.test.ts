import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { FIXTURES, fixture, maxAbsDiff, relL2 } from '../helpers/npy-fixture.ts';
import { nchwValues, nhwcFromNchw } from '../helpers/nchw.ts';
import { loadUNet, loadVae, tfjsOps } from '../../diffusion/models/index.ts';

/**
 * The networks' input gradient end to end against diffusers' autograd: a 1-step run
 * latents_in -> UNet(t=999) -> scheduler step -> VAE decode -> depth -> loss = sum(depth * W), the
 * `grad_wrt_latents` fixture. The scheduler step is written out here from the fixture's alphas
 * (the project's schedulers live elsewhere); this test is about the networks' gradients.
 */
const RUNS = [
  { set: 'sd2-tiny', run: 'ddim_1step', step: 'ddim' },
  { set: 'marigold-test', run: 'lcm_1step', step: 'lcm' },
] as const;

test.before(async () => {
  await setupEngine();
});

for (const { set, run, step } of RUNS) {
  test.serial(`${set} ${run}: d loss / d latents through UNet and VAE decode matches diffusers`, async (t) => {
    const ckpt = `${FIXTURES}/${set}/checkpoint`;
    const unet = await loadUNet(`${ckpt}/unet`);
    const vae = await loadVae(`${ckpt}/vae`);
    const dir = `${set}/arrays/pipeline/${run}`;
    const ehsFix = fixture(`${set}/arrays/unet/encoder_hidden_states.npy`);
    const ehs = tf.tensor(ehsFix.data, ehsFix.shape);
    const rgb = nhwcFromNchw(fixture(`${dir}/rgb_latent.npy`));
    const latents = nhwcFromNchw(fixture(`${dir}/latents_in.npy`));
    const W = nhwcFromNchw(fixture(`${dir}/grad_W.npy`));
    const ac = fixture(`${set}/arrays/scheduler/scheduler_alphas_cumprod.npy`).data;
    const a = ac[999]!;
    const aPrev = ac[0]!; // DDIM: prev_t < 0 -> alphas_cumprod[0] (set_alpha_to_one false)
    const [cSkip, cOut] = [2.505007534736592e-9, 1.0]; // manifest: scheduler_c_skip_c_out_t999
    const predict = (x: tf.Tensor) => {
      const v = unet.forward(tfjsOps, tf.concat([rgb, x], 3), 999, ehs); // [1, h, w, 4]
      const x0 = tf.sub(tf.mul(x, Math.sqrt(a)), tf.mul(v, Math.sqrt(1 - a)));
      const next =
        step === 'ddim'
          ? tf.add(tf.mul(x0, Math.sqrt(aPrev)), tf.mul(tf.add(tf.mul(v, Math.sqrt(a)), tf.mul(x, Math.sqrt(1 - a))), Math.sqrt(1 - aPrev)))
          : tf.add(tf.mul(x0, cOut), tf.mul(x, cSkip));
      const img = vae.decode(tfjsOps, tf.div(next, vae.config.scaling_factor)); // [1, H, W, 3]
      return tf.div(tf.add(tf.clipByValue(tf.mean(img, 3, true), -1, 1), 1), 2); // [1, H, W, 1]
    };
    try {
      const pred = tf.tidy(() => predict(latents));
      const predRel = relL2(nchwValues(pred), fixture(`${dir}/prediction.npy`).data);
      pred.dispose();
      const { value, grad } = tf.tidy(() => tf.valueAndGrad((x: tf.Tensor) => tf.sum(tf.mul(predict(x), W)))(latents));
      const loss = value.dataSync()[0]!;
      const wantLoss = fixture(`${dir}/grad_loss.npy`).data[0]!;
      const g = nchwValues(grad);
      const want = fixture(`${dir}/grad_wrt_latents.npy`).data;
      const gRel = relL2(g, want);
      t.log(
        `${set} ${run}: prediction relL2 ${predRel.toExponential(2)}; loss ${loss.toFixed(5)} vs ${wantLoss.toFixed(5)}; ` +
          `grad relL2 ${gRel.toExponential(2)}, max|d| ${maxAbsDiff(g, want).toExponential(2)}`,
      );
      t.true(predRel < 1e-4);
      t.true(Math.abs(loss - wantLoss) / Math.abs(wantLoss) < 1e-5);
      t.true(gRel < 1e-4, `grad relL2 ${gRel}`);
      tf.dispose([value, grad]);
      t.is(
        await leakedTensors(() => {
          const r = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(predict(x), W)))(latents));
          r.dispose();
        }),
        0,
      );
    } finally {
      tf.dispose([ehs, rgb, latents, W]);
      unet.dispose();
      vae.dispose();
    }
  });
}
