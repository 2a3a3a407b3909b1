import test from 'ava';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { FIXTURES, fixture, maxAbsDiff, relL2 } from '../helpers/npy-fixture.ts';
import { nchwValues, nhwcFromNchw } from '../helpers/nchw.ts';
import { loadUNet, tfjsOps, type UNet2DConditionModel } from '../../diffusion/models/index.ts';

const SETS = ['marigold-test', 'sd2-tiny'] as const;

/** The UNet fixtures present for a set: timesteps of out_t<T>.npy, and odd-size cases. */
function unetCases(set: string): { t: number; sample: string; out: string }[] {
  const files = fs.readdirSync(`${FIXTURES}/${set}/arrays/unet`);
  const cases: { t: number; sample: string; out: string }[] = [];
  for (const f of files) {
    const m = /^out(_(\d+x\d+))?_t(\d+)\.npy$/.exec(f);
    if (!m) continue;
    cases.push({ t: Number(m[3]), sample: m[2] ? `sample_${m[2]}.npy` : 'sample.npy', out: f });
  }
  return cases.sort((a, b) => a.out.localeCompare(b.out));
}

test.before(async () => {
  await setupEngine();
});

for (const set of SETS) {
  test.serial(`${set}: UNet time embedding and outputs match diffusers at every fixture timestep`, async (t) => {
    const unet: UNet2DConditionModel = await loadUNet(`${FIXTURES}/${set}/checkpoint/unet`);
    const dir = `${set}/arrays/unet`;
    const ehsFix = fixture(`${dir}/encoder_hidden_states.npy`);
    const ehs = tf.tensor(ehsFix.data, ehsFix.shape);
    try {
      const cases = unetCases(set);
      t.true(cases.length >= 2);
      for (const c of cases) {
        for (const [kind, fn] of [
          ['time_proj', () => unet.timeEmbedding.projection(tfjsOps, c.t)],
          ['time_embedding', () => unet.timeEmbedding.forward(tfjsOps, c.t)],
        ] as const) {
          const file = `${dir}/${kind}_t${c.t}.npy`;
          if (!fs.existsSync(`${FIXTURES}/${file}`)) continue;
          const want = fixture(file);
          const got = tf.tidy(fn);
          const vals = got.dataSync();
          got.dispose();
          const rel = relL2(vals, want.data);
          t.log(`${set} unet ${kind} t=${c.t}: relL2 ${rel.toExponential(2)}, max|d| ${maxAbsDiff(vals, want.data).toExponential(2)}`);
          t.true(rel < 1e-4, `${kind} t=${c.t} relL2 ${rel}`);
        }
        const sample = nhwcFromNchw(fixture(`${dir}/${c.sample}`));
        const want = fixture(`${dir}/${c.out}`);
        const out = tf.tidy(() => unet.forward(tfjsOps, sample, c.t, ehs));
        const vals = nchwValues(out);
        t.deepEqual([out.shape[0], out.shape[3], out.shape[1], out.shape[2]], want.shape);
        tf.dispose([out, sample]);
        const rel = relL2(vals, want.data);
        t.log(`${set} unet ${c.out} (latent ${want.shape.slice(2).join('x')}): relL2 ${rel.toExponential(2)}, max|d| ${maxAbsDiff(vals, want.data).toExponential(2)}`);
        t.true(rel < 1e-4, `${c.out} relL2 ${rel}`);
      }
      const sample = nhwcFromNchw(fixture(`${dir}/sample.npy`));
      t.is(await leakedTensors(() => tf.tidy(() => unet.forward(tfjsOps, sample, 999, ehs)).dispose()), 0);
      sample.dispose();
    } finally {
      ehs.dispose();
      unet.dispose();
    }
  });
}
