import test from 'ava';
import { ApertureDepthError } from '../../core/errors.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { openModelFolder } from '../../diffusion/checkpoint/model-folder.ts';
import { KNOWN_MODELS } from '../../diffusion/checkpoint/registry.ts';
import {
  checkMarigoldChannels,
  checkNoiseLatent,
  imageGeometry,
  noiseLatentShape,
  resolvePriorSettings,
  stepNoiseRng,
  vaeScaleFactor,
} from '../../diffusion/marigold/pipeline-steps.ts';
import { marigoldGeometry } from '../../diffusion/marigold/preprocess.ts';

const SD2_TINY = 'test/data/diffusers-tiny/sd2-tiny/checkpoint';

test('settings: the caller, then model_index.json (own scheduler), then the registry', (t) => {
  const folder = openModelFolder(SD2_TINY);
  const own = resolvePriorSettings(folder, undefined, {});
  t.is(own.scheduler.kind, 'ddim');
  t.is(own.steps, 4); // model_index default_denoising_steps
  t.is(own.processingResolution, 64); // model_index default_processing_resolution
  t.is(own.scheduler.timesteps.length, 4);
  const asked = resolvePriorSettings(folder, undefined, { steps: 2, processingResolution: 0 });
  t.is(asked.steps, 2);
  t.is(asked.processingResolution, 0);
  // The scheduler_lcm folder is not the checkpoint's own: model_index's steps do not apply, the registry's do.
  const lcm = resolvePriorSettings(folder, KNOWN_MODELS['marigold-depth-lcm-v1-0'], { scheduler: 'lcm' });
  t.is(lcm.scheduler.kind, 'lcm');
  t.is(lcm.steps, 1);
});

test('channels: rgb and depth latents in, one latent out', (t) => {
  t.notThrows(() => checkMarigoldChannels({ in_channels: 8, out_channels: 4 }, 4, 'unet/config.json'));
  const err = t.throws(
    () => checkMarigoldChannels({ in_channels: 4, out_channels: 4 }, 4, 'unet/config.json'),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.regex(err.message, /in\/out channels 4\/4 do not fit Marigold/);
});

test('shapes: geometry of an image tensor shape and its noise latent', (t) => {
  t.is(vaeScaleFactor({ block_out_channels: [32, 64, 64, 64] }), 8);
  t.is(vaeScaleFactor({ block_out_channels: [32, 64] }), 2);
  const g = imageGeometry([64, 48, 3], 40, 8);
  t.deepEqual(g, marigoldGeometry(64, 48, 40, 8));
  t.deepEqual(imageGeometry([1, 64, 48, 3], 40, 8), g);
  t.deepEqual(noiseLatentShape(g, 4), [1, 4, 5, 4]);
  t.notThrows(() => checkNoiseLatent([1, 4, 5, 4], [1, 4, 5, 4]));
  t.throws(() => checkNoiseLatent([1, 5, 4, 4], [1, 4, 5, 4]), {
    message: /expected \[1, 4, 5, 4\] \(NCHW\)/,
  });
  t.throws(() => checkNoiseLatent([1, 4, 5], [1, 4, 5, 4]), { instanceOf: ApertureDepthError });
});

test('step noise: one seeded generator for LCM multi-step only', (t) => {
  t.is(stepNoiseRng('ddim', 4, 3), undefined);
  t.is(stepNoiseRng('lcm', 1, 3), undefined);
  t.deepEqual(stepNoiseRng('lcm', 4, 3)!.state(), new Rng(3).state());
  t.deepEqual(stepNoiseRng('lcm', 2, undefined)!.state(), new Rng(0).state());
});
