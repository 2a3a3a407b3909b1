import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../core/errors.ts';
import {
  DdimScheduler,
  LcmScheduler,
  ddimTimesteps,
  lcmBoundaryScalings,
  lcmTimesteps,
  loadScheduler,
  parseSchedulerConfig,
  readSchedulerConfig,
} from '../../diffusion/schedulers/index.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { FIXTURES, fixture, maxAbsDiff, relL2 } from '../helpers/npy-fixture.ts';

test.before(async () => {
  await setupEngine();
});

const ckpt = (set: string, sub: string) => join(FIXTURES, set, 'checkpoint', sub);

// Every scheduler folder of both fixture sets, with the prefix of its arrays.
const CASES = [
  { set: 'marigold-test', dir: 'scheduler', prefix: 'scheduler', kind: 'lcm' },
  { set: 'sd2-tiny', dir: 'scheduler', prefix: 'scheduler', kind: 'ddim' },
  { set: 'sd2-tiny', dir: 'scheduler_lcm', prefix: 'scheduler_lcm', kind: 'lcm' },
] as const;

for (const c of CASES) {
  const arrays = (name: string) => fixture(`${c.set}/arrays/scheduler/${c.prefix}_${name}.npy`);

  test(`${c.set}/${c.dir}: alphas_cumprod matches diffusers`, (t) => {
    const scheduler = loadScheduler(ckpt(c.set, c.dir));
    t.is(scheduler.kind, c.kind);
    const ref = arrays('alphas_cumprod');
    const ours = scheduler.schedule.alphasCumprod;
    let maxRel = 0;
    for (let i = 0; i < ref.data.length; i++) {
      if (ref.data[i] > 1e-3) maxRel = Math.max(maxRel, Math.abs(ours[i] / ref.data[i] - 1));
    }
    const maxAbs = maxAbsDiff(ours, ref.data);
    t.log(`max |diff| ${maxAbs.toExponential(2)}, max rel (a > 1e-3) ${maxRel.toExponential(2)}`);
    t.true(maxAbs < 2e-7);
    t.true(maxRel < 3e-6); // zero-SNR rescaling amplifies float32 rounding towards t = T
    if (scheduler.config.rescaleBetasZeroSnr) t.is(ours[ours.length - 1], 0);
  });

  test(`${c.set}/${c.dir}: timesteps for 1 and 4 steps`, (t) => {
    const scheduler = loadScheduler(ckpt(c.set, c.dir));
    for (const n of [1, 4]) {
      t.deepEqual([...scheduler.setTimesteps(n)], Array.from(arrays(`timesteps_${n}`).data));
    }
  });
}

test('DDIM (v-pred, trailing, zero-SNR) step outputs at t=999 and t=749', async (t) => {
  const scheduler = DdimScheduler.load(ckpt('sd2-tiny', 'scheduler'));
  scheduler.setTimesteps(4);
  const mo = fixture('sd2-tiny/arrays/scheduler/scheduler_step_model_output.npy');
  const x = fixture('sd2-tiny/arrays/scheduler/scheduler_step_sample.npy');
  const modelOutput = tf.tensor(mo.data, mo.shape);
  const sample = tf.tensor(x.data, x.shape);
  for (const step of [999, 749]) {
    const out = scheduler.step(modelOutput, step, sample);
    const prev = fixture(`sd2-tiny/arrays/scheduler/scheduler_step4_t${step}_prev_sample.npy`).data;
    const x0 = fixture(`sd2-tiny/arrays/scheduler/scheduler_step4_t${step}_pred_original_sample.npy`).data;
    const e1 = maxAbsDiff(await out.prevSample.data(), prev);
    const e2 = maxAbsDiff(await out.predOriginalSample.data(), x0);
    t.log(
      `t=${step}: prev_sample max |diff| ${e1.toExponential(2)}, pred_original_sample ${e2.toExponential(2)}`,
    );
    t.true(e1 < 1e-5 && e2 < 1e-5);
    tf.dispose([out.prevSample, out.predOriginalSample]);
  }
  // zero-SNR at t = 999: x0 = -v exactly
  const first = scheduler.step(modelOutput, 999, sample);
  t.is(maxAbsDiff(await first.predOriginalSample.data(), await tf.neg(modelOutput).data()), 0);
  tf.dispose([modelOutput, sample, first.prevSample, first.predOriginalSample]);
});

for (const c of CASES.filter((k) => k.kind === 'lcm')) {
  test(`${c.set}/${c.dir}: LCM step outputs (4-step with injected noise, 1-step final)`, async (t) => {
    const scheduler = LcmScheduler.load(ckpt(c.set, c.dir));
    const a = (name: string) => fixture(`${c.set}/arrays/scheduler/${c.prefix}_${name}.npy`);
    const mo = a('step_model_output');
    const x = a('step_sample');
    const nz = a('step_injected_noise');
    const modelOutput = tf.tensor(mo.data, mo.shape);
    const sample = tf.tensor(x.data, x.shape);
    const noise = tf.tensor(nz.data, nz.shape);
    scheduler.setTimesteps(4);
    t.true(scheduler.injectsNoise(0));
    t.false(scheduler.injectsNoise(3));
    const out4 = scheduler.step(modelOutput, 999, sample, { noise });
    const e1 = relL2(await out4.prevSample.data(), a('step4_t999_prev_sample').data);
    const e2 = relL2(await out4.denoised!.data(), a('step4_t999_denoised').data);
    scheduler.setTimesteps(1);
    const out1 = scheduler.step(modelOutput, 999, sample);
    const e3 = relL2(await out1.prevSample.data(), a('step1_t999_denoised').data);
    t.log(
      `rel L2: step4 prev ${e1.toExponential(2)}, step4 denoised ${e2.toExponential(2)}, step1 ${e3.toExponential(2)}`,
    );
    t.true(e1 < 1e-6 && e2 < 1e-6 && e3 < 1e-6);
    tf.dispose([modelOutput, sample, noise, out4.prevSample, out4.predOriginalSample, out4.denoised!]);
    tf.dispose([out1.prevSample, out1.predOriginalSample, out1.denoised!]);
  });
}

test('LCM boundary scalings at t=999 match the manifest', (t) => {
  const { cSkip, cOut } = lcmBoundaryScalings(999, 10);
  t.true(Math.abs(cSkip - 2.505007534736592e-9) < 1e-15);
  t.is(cOut, 1);
});

test('timestep spacings: leading (Marigold v1.0), trailing, linspace, LCM grid', (t) => {
  const v10 = readSchedulerConfig('test/data/marigold-configs/marigold-depth-v1-0/scheduler');
  t.is(v10.timestepSpacing, 'leading'); // absent from the file: diffusers' default
  t.is(v10.stepsOffset, 1);
  t.false(v10.rescaleBetasZeroSnr);
  const fifty = ddimTimesteps(v10, 50);
  t.is(fifty.length, 50);
  t.deepEqual(fifty.slice(0, 3), [981, 961, 941]);
  t.is(fifty[49], 1);
  t.deepEqual(ddimTimesteps(v10, 4), [751, 501, 251, 1]);
  const trailing = { ...v10, timestepSpacing: 'trailing' as const };
  t.deepEqual(ddimTimesteps(trailing, 3), [999, 666, 332]);
  t.deepEqual(ddimTimesteps(trailing, 1000).slice(0, 2), [999, 998]);
  t.is(ddimTimesteps(trailing, 1000).at(-1), 0);
  const linspace = { ...v10, timestepSpacing: 'linspace' as const };
  t.deepEqual(ddimTimesteps(linspace, 7), [999, 832, 666, 500, 333, 166, 0]);
  t.deepEqual(ddimTimesteps(linspace, 1), [0]);
  const lcm = readSchedulerConfig('test/data/marigold-configs/marigold-depth-lcm-v1-0/scheduler');
  t.deepEqual(lcmTimesteps(lcm, 2), [999, 499]);
  t.deepEqual(lcmTimesteps(lcm, 3), [999, 679, 339]);
  t.is(lcmTimesteps(lcm, 50).at(-1), 19);
});

test('epsilon and sample parameterizations; clip_sample', async (t) => {
  const base = parseSchedulerConfig({
    _class_name: 'DDIMScheduler',
    beta_schedule: 'linear',
    prediction_type: 'epsilon',
    clip_sample: false,
    set_alpha_to_one: false,
  });
  const ddim = new DdimScheduler(base);
  ddim.setTimesteps(10);
  const [t0] = ddim.timesteps;
  const a = ddim.schedule.alphasCumprod[t0];
  const x = tf.tensor([0.5, -1.5, 2]);
  const eps = tf.tensor([0.1, 0.2, -0.3]);
  const out = ddim.step(eps, t0, x);
  const x0 = await out.predOriginalSample.data();
  const expected = [0.5, -1.5, 2].map((v, i) => (v - Math.sqrt(1 - a) * [0.1, 0.2, -0.3][i]) / Math.sqrt(a));
  t.true(maxAbsDiff(x0, expected) < 1e-4);
  const sampleParam = new DdimScheduler({ ...base, predictionType: 'sample', clipSample: true });
  sampleParam.setTimesteps(10);
  const out2 = sampleParam.step(tf.tensor([3, -0.5, -2]), t0, x);
  t.deepEqual(Array.from(await out2.predOriginalSample.data()), [1, -0.5, -1]);
  tf.dispose([x, eps, out.prevSample, out.predOriginalSample, out2.prevSample, out2.predOriginalSample]);
});

test('step is differentiable: d prev / d model_output is the scalar coefficient', async (t) => {
  const ddim = DdimScheduler.load(ckpt('sd2-tiny', 'scheduler'));
  ddim.setTimesteps(4);
  const sample = tf.ones([1, 2, 2, 4]);
  const g = tf.grad((v: tf.Tensor) => tf.sum(ddim.step(v, 749, sample).prevSample))(tf.zeros([1, 2, 2, 4]));
  // v-pred: prev = sqrt(a_prev) (sqrt(a) x - sqrt(1-a) v) + sqrt(1-a_prev) (sqrt(a) v + sqrt(1-a) x)
  const a = ddim.schedule.alphasCumprod[749];
  const ap = ddim.schedule.alphasCumprod[499];
  const coef = -Math.sqrt(ap) * Math.sqrt(1 - a) + Math.sqrt(1 - ap) * Math.sqrt(a);
  t.true(maxAbsDiff(await g.data(), new Array(16).fill(coef)) < 1e-6);
  const lcm = LcmScheduler.load(ckpt('sd2-tiny', 'scheduler_lcm'));
  lcm.setTimesteps(4);
  const noise = tf.zeros([1, 2, 2, 4]);
  const g2 = tf.grad((v: tf.Tensor) => tf.sum(lcm.step(v, 759, sample, { noise }).prevSample))(
    tf.zeros([1, 2, 2, 4]),
  );
  const { cOut } = lcmBoundaryScalings(759, 10);
  const a2 = lcm.schedule.alphasCumprod[759];
  const ap2 = lcm.schedule.alphasCumprod[499];
  t.true(maxAbsDiff(await g2.data(), new Array(16).fill(-Math.sqrt(ap2) * cOut * Math.sqrt(1 - a2))) < 1e-6);
  tf.dispose([sample, g, noise, g2]);
});

test('steps leave no tensors behind', async (t) => {
  const lcm = LcmScheduler.load(ckpt('marigold-test', 'scheduler'));
  const mo = tf.randomNormal([1, 4, 4, 4]);
  const x = tf.randomNormal([1, 4, 4, 4]);
  const leaked = await leakedTensors(() => {
    lcm.setTimesteps(4);
    const out = lcm.step(mo, 999, x, { seed: 3 });
    tf.dispose([out.prevSample, out.predOriginalSample, out.denoised!]);
  });
  t.is(leaked, 0);
  tf.dispose([mo, x]);
});

test('config and argument errors name the file and key', (t) => {
  let err = t.throws(
    () => parseSchedulerConfig({ _class_name: 'EulerDiscreteScheduler' }, 'x/scheduler_config.json'),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.regex(err!.message, /x\/scheduler_config\.json: _class_name: unsupported scheduler/);
  err = t.throws(
    () => parseSchedulerConfig({ _class_name: 'DDIMScheduler', prediction_type: 'x0' }, 'f.json'),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.regex(err!.message, /f\.json: prediction_type: expected one of epsilon, v_prediction, sample/);
  err = t.throws(() => parseSchedulerConfig({ _class_name: 'DDIMScheduler', thresholding: true }, 'f.json'));
  t.regex(err!.message, /thresholding/);
  err = t.throws(() => readSchedulerConfig('no/such/dir'), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /no\/such\/dir\/scheduler_config\.json/);
  const lcm = LcmScheduler.load(ckpt('sd2-tiny', 'scheduler_lcm'));
  t.throws(() => lcm.setTimesteps(51), { message: /original_inference_steps=50/ });
  t.throws(() => lcm.setTimesteps(0), { message: /steps/ });
  lcm.setTimesteps(4);
  const z = tf.zeros([1]);
  t.throws(() => lcm.step(z, 500, z), { message: /timestep 500 is not in the current schedule/ });
  const ddim = DdimScheduler.load(ckpt('sd2-tiny', 'scheduler'));
  t.throws(() => ddim.step(z, 999, z), { message: /setTimesteps/ });
  t.throws(() => loadScheduler(ckpt('sd2-tiny', 'scheduler'), 'lcm'), {
    message: /DDIMScheduler, not the requested lcm/,
  });
  z.dispose();
});
