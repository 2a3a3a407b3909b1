import test from 'ava';
import { join } from 'node:path';
import { loadConfig, parseConfigObject } from '../../../core/config/load.ts';
import { toEstimateOptions } from '../../../core/config/to-estimate-options.ts';
import { resolveOptimizerConfig } from '../../../optimizers/config.ts';

const CONFIGS = join(import.meta.dirname, '../../../experiments/configs');

test('the paper config maps onto the optimizer config the library resolves', (t) => {
  const { config, variants } = loadConfig(join(CONFIGS, 'paper-table3.yaml'));
  const full = toEstimateOptions(
    config,
    variants.find((v) => v.type === 'full')!,
  );
  const resolved = resolveOptimizerConfig(full.optimizer);
  t.is(resolved.variant, 'full');
  t.is(resolved.iterations, 200);
  t.is(resolved.lr.latent, 1.5e-3);
  t.is(resolved.lr.scaleShift, resolveOptimizerConfig({ variant: 'full' }).lr.scaleShift); // the free mapping's own
  t.is(resolved.mapping, 'free');
  t.is(resolved.mappingInit, 'grid'); // the library's default for free, left unset in the config
  t.is(resolved.renderer, 'scatter');
  t.deepEqual(resolved.schedule, { kind: 'constant' });
  t.is(resolved.earlyStopping, null);
  t.is(resolved.loss, 'l2');
  t.deepEqual(full.prior, {
    model: 'marigold-depth-lcm-v1-0',
    scheduler: 'lcm',
    steps: 1,
    processingResolution: 768,
  });
  t.is(full.psf, 'disc');
  // Nothing set means nothing passed: the library's defaults apply.
  const bare = parseConfigObject({ data: { name: 'pairs', root: '/x' } });
  t.deepEqual(toEstimateOptions(bare.config, bare.variants[0]!).optimizer, {
    variant: 'scale-shift',
    seed: 0,
  });
});

test('every optimizer key reaches the library; unset keys keep variant defaults', (t) => {
  const { config, variants } = parseConfigObject({
    seed: 9,
    data: { name: 'pairs', root: '/x' },
    optimizer: {
      iterations: 50,
      lr: { scale_shift: 0.01 },
      adam: { beta1: 0.8 },
      schedule: { kind: 'cosine', min_factor: 0.1, warmup: 5 },
      early_stop: { enabled: true, patience: 10, min_rel_delta: 0.001, min_iterations: 20 },
      mapping: { kind: 'bounded', s_min: 1, s_max: 4 },
      loss: { kind: 'charbonnier', saturation: null, border: 3 },
      grid: { max_side: 32, levels_px: [1, 2], refine_rounds: 1 },
      renderer: 'gather',
      relative_blur: true,
      scene_side: 'behind',
      oracle_alignment: 'scale',
    },
    variants: [
      'pixel',
      { type: 'full', name: 'f', optimizer: { schedule: { kind: 'step', every: 10, gamma: 0.3 } } },
    ],
  });
  const pixel = resolveOptimizerConfig(toEstimateOptions(config, variants[0]!).optimizer);
  const pixelDefaults = resolveOptimizerConfig({ variant: 'pixel' });
  t.is(pixel.lr.latent, pixelDefaults.lr.latent); // the pixel prior's own defaults
  t.is(pixel.tvWeight, pixelDefaults.tvWeight);
  t.not(pixel.lr.latent, 1.5e-3);
  t.is(pixel.seed, 9);
  t.is(pixel.adam.beta1, 0.8);
  t.deepEqual(pixel.schedule, { kind: 'cosine', minFactor: 0.1, warmup: 5 });
  t.deepEqual(pixel.earlyStopping, { patience: 10, minRelDelta: 0.001, minIterations: 20 });
  t.deepEqual([pixel.mapping, pixel.mappingInit, pixel.bounds], ['bounded', 'default', { sMin: 1, sMax: 4 }]);
  t.like(pixel.masks, { saturation: null, border: 3 });
  t.deepEqual(pixel.grid, { maxSide: 32, levelsPx: [1, 2], refineRounds: 1 });
  t.deepEqual(
    [pixel.loss, pixel.renderer, pixel.relativeBlur, pixel.sceneSide, pixel.oracleAlignment],
    ['charbonnier', 'gather', true, 'behind', 'scale'],
  );
  const f = resolveOptimizerConfig(toEstimateOptions(config, variants[1]!).optimizer);
  t.is(f.lr.latent, resolveOptimizerConfig({ variant: 'full' }).lr.latent);
  t.deepEqual(f.schedule, { kind: 'step', every: 10, gamma: 0.3 });
});
