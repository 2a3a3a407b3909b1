import test from 'ava';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { loadConfig, parseConfigObject } from '../../../core/config/load.ts';
import { toEstimateOptions } from '../../../core/config/to-estimate-options.ts';
import { resolveOptimizerConfig } from '../../../optimizers/config.ts';

const CONFIGS = join(import.meta.dirname, '../../../experiments/configs');

test('the paper config maps onto estimate options the optimizer resolves', (t) => {
  const { config, variants } = loadConfig(join(CONFIGS, 'paper-table3-marigold.yaml'));
  const full = toEstimateOptions(
    config,
    variants.find((v) => v.type === 'full')!,
  );
  t.is(full.variant, 'full');
  t.is(full.seed, 0);
  t.is(full.model, 'marigold-depth-lcm-v1-0');
  t.deepEqual(full.prior, { scheduler: 'lcm', steps: 1, processingResolution: 768 });
  const resolved = resolveOptimizerConfig({ ...full.optimizer, variant: full.variant });
  t.is(resolved.iterations, 200);
  t.is(resolved.lr.latent, 1.5e-3);
  t.is(resolved.lr.scaleShift, resolveOptimizerConfig({ variant: 'full' }).lr.scaleShift); // the free mapping's own
  t.is(resolved.mapping, 'free');
  t.is(resolved.renderer, 'scatter');
  t.is(resolved.psf, 'disc');
  t.deepEqual(resolved.schedule, { kind: 'constant' });
  t.is(resolved.earlyStopping, null);
  t.is(resolved.loss, 'l2');
  // Nothing set means nothing passed: the library's defaults apply.
  const bare = parseConfigObject({ data: { name: 'pairs', root: '/x' } });
  t.deepEqual(toEstimateOptions(bare.config, bare.variants[0]!), {
    variant: 'scale-shift',
    seed: 0,
    optimizer: {},
    prior: {},
  });
});

test('every optimizer key reaches the library; unset keys keep variant defaults', (t) => {
  const { config, variants } = parseConfigObject({
    seed: 9,
    data: { name: 'pairs', root: '/x' },
    prior: { model: 'sd2-tiny', steps: 2, processing_resolution: 64, margin: 2 },
    limits: { working_max_side: 96 },
    optimizer: {
      iterations: 50,
      lr: { scale_shift: 0.01 },
      adam: { beta1: 0.8 },
      schedule: { kind: 'cosine', min_factor: 0.1, warmup: 5 },
      early_stop: { enabled: true, patience: 10, min_rel_delta: 0.001, min_iterations: 20 },
      mapping: { kind: 'bounded', s_min: 1, s_max: 4 },
      loss: { kind: 'charbonnier', saturation: null, border: 3, depth_edges: null },
      grid: { max_side: 32, levels_px: [1, 2], refine_rounds: 1, basins: 3, basin_iterations: 12 },
      renderer: 'gather',
      psf: 'gaussian',
      relative_blur: true,
      scene_side: 'behind',
      oracle_alignment: 'scale',
      pixel_init: 'flat',
      checkpoint_every: 5,
    },
    variants: [
      'pixel',
      { type: 'full', name: 'f', optimizer: { schedule: { kind: 'step', every: 10, gamma: 0.3 } } },
    ],
  });
  const po = toEstimateOptions(config, variants[0]!);
  t.is(po.model, 'sd2-tiny');
  t.deepEqual(po.prior, { steps: 2, processingResolution: 64, margin: 2 });
  t.is(po.checkpointEvery, 5);
  t.is(po.workingMaxSide, 96);
  const pixel = resolveOptimizerConfig({ ...po.optimizer, variant: po.variant, seed: po.seed });
  const pixelDefaults = resolveOptimizerConfig({ variant: 'pixel' });
  t.is(pixel.lr.latent, pixelDefaults.lr.latent); // the pixel prior's own defaults
  t.is(pixel.tvWeight, pixelDefaults.tvWeight);
  t.is(pixel.seed, 9);
  t.is(pixel.adam.beta1, 0.8);
  t.deepEqual(pixel.schedule, { kind: 'cosine', minFactor: 0.1, warmup: 5 });
  t.deepEqual(pixel.earlyStopping, { patience: 10, minRelDelta: 0.001, minIterations: 20 });
  t.deepEqual([pixel.mapping, pixel.mappingInit, pixel.bounds], ['bounded', 'default', { sMin: 1, sMax: 4 }]);
  t.like(pixel.masks, { saturation: null, border: 3, depthEdges: null });
  t.deepEqual(pixel.grid, { maxSide: 32, levelsPx: [1, 2], refineRounds: 1, basins: 3, basinIterations: 12 });
  t.deepEqual(
    [
      pixel.loss,
      pixel.renderer,
      pixel.psf,
      pixel.relativeBlur,
      pixel.sceneSide,
      pixel.oracleAlignment,
      pixel.pixelInit,
    ],
    ['charbonnier', 'gather', 'gaussian', true, 'behind', 'scale', 'flat'],
  );
  const fo = toEstimateOptions(config, variants[1]!);
  const f = resolveOptimizerConfig({ ...fo.optimizer, variant: fo.variant });
  t.is(f.lr.latent, resolveOptimizerConfig({ variant: 'full' }).lr.latent);
  t.deepEqual(f.schedule, { kind: 'step', every: 10, gamma: 0.3 });
});

test('a schema key the estimate mapper does not know would be reported, not dropped', (t) => {
  // Guards the coupling: every optimizer key of the experiment schema must be read by optimizerInputFromSection.
  const { config, variants } = parseConfigObject({ data: { name: 'pairs', root: '/x' } });
  const v = { ...variants[0]!, optimizer: { ...variants[0]!.optimizer, not_a_key: 1 } as never };
  const err = t.throws(() => toEstimateOptions(config, v, 'x.yaml'), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /x\.yaml: optimizer\.not_a_key: unknown key/);
});
