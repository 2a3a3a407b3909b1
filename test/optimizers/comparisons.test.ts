import test from 'ava';
import { setupEngine } from '../helpers/engine.ts';
import { loadArtlScene, type ArtlScene } from './helpers/artl-scene.ts';
import { FixedPrior } from '../../optimizers/priors/fixed-prior.ts';
import { optimizeDepth } from '../../optimizers/optimize-depth.ts';
import type { OptimizerConfigInput } from '../../optimizers/config.ts';
import { computeDepthMetrics } from '../../core/metrics/depth-metrics.ts';

// The two design choices the issue asks to compare, on the simulated ArtL pair (layered renderer, so the
// optimizer's scatter model is not the data's model), with the true relative depth (fixed prior).
// A wider sweep (5 Middlebury scenes x focus in front / behind / inside the scene) is in optimizers/README.md.

let scene: ArtlScene;
let prior: FixedPrior;

test.before(async () => {
  await setupEngine();
  scene = loadArtlScene();
  prior = FixedPrior.fromMetricDepth(scene.depthFilled);
});
test.after.always(() => prior?.dispose());

async function absRel(config: OptimizerConfigInput): Promise<number> {
  const r = await optimizeDepth(
    {
      aif: scene.aif,
      observed: scene.blurred,
      camera: scene.camera,
      fNumberAif: 22,
      fNumberBlurred: 8,
      prior,
    },
    { variant: 'scale-shift', iterations: 200, ...config },
  );
  const m = computeDepthMetrics(r.depth, scene.depthGt);
  r.dispose();
  return m.abs_rel;
}

test.serial(
  'free mapping with the grid start beats the paper\u2019s bounded mapping (the default is free)',
  async (t) => {
    const free = await absRel({ mapping: 'free' });
    const bounded = await absRel({ mapping: 'bounded' });
    t.log(`abs_rel: free + grid ${free.toFixed(4)}, bounded (a = b = 0) ${bounded.toFixed(4)}`);
    t.true(free < bounded);
    t.true(free < 0.03);
  },
);

test.serial(
  'the relative-blur model (the small-aperture image blurred too) helps on this scene',
  async (t) => {
    const withRb = await absRel({ relativeBlur: true });
    const sharp = await absRel({ relativeBlur: false });
    t.log(`abs_rel: relative blur ${withRb.toFixed(4)}, sharp AIF (paper) ${sharp.toFixed(4)}`);
    t.true(withRb < sharp);
  },
);
