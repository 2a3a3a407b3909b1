import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { FIXTURES, fixture, maxAbsDiff, relL2 } from '../helpers/npy-fixture.ts';
import { nchwValues, nhwcFromNchw } from '../helpers/nchw.ts';
import { loadVae, tfjsOps } from '../../diffusion/models/index.ts';

const SETS = ['marigold-test', 'sd2-tiny'] as const;

test.before(async () => {
  await setupEngine();
});

for (const set of SETS) {
  test.serial(`${set}: VAE encode mean/logvar and decode match diffusers`, async (t) => {
    const vae = await loadVae(`${FIXTURES}/${set}/checkpoint/vae`);
    const dir = `${set}/arrays/vae`;
    const x = nhwcFromNchw(fixture(`${dir}/encode_input.npy`));
    const z = nhwcFromNchw(fixture(`${dir}/decode_input_latent.npy`));
    try {
      const cmp = (name: string, got: tf.Tensor, file: string) => {
        const want = fixture(`${dir}/${file}`);
        const vals = nchwValues(got);
        const rel = relL2(vals, want.data);
        t.log(`${set} vae ${name}: relL2 ${rel.toExponential(2)}, max|d| ${maxAbsDiff(vals, want.data).toExponential(2)}`);
        t.true(rel < 1e-4, `${name} relL2 ${rel}`);
      };
      const { mean, logvar } = vae.encode(tfjsOps, x);
      cmp('encode mean', mean, 'encode_latent_mean.npy');
      cmp('encode logvar', logvar, 'encode_latent_logvar.npy');
      const scaled = tf.mul(mean, vae.config.scaling_factor);
      cmp('encode mean x scaling_factor', scaled, 'encode_latent_scaled.npy');
      tf.dispose([mean, logvar, scaled]);
      const img = tf.tidy(() => vae.decode(tfjsOps, z));
      t.deepEqual([img.shape[0], img.shape[3], img.shape[1], img.shape[2]], fixture(`${dir}/decode_output.npy`).shape);
      cmp('decode', img, 'decode_output.npy');
      img.dispose();
      t.is(
        await leakedTensors(() => {
          tf.tidy(() => vae.encode(tfjsOps, x).mean).dispose();
          tf.tidy(() => vae.decode(tfjsOps, z)).dispose();
        }),
        0,
      );
    } finally {
      tf.dispose([x, z]);
      vae.dispose();
    }
  });
}
