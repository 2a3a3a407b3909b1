import test from 'ava';
import { setupEngine, leakedTensors } from '../helpers/engine.ts';
import { loadArtlScene, texturedMask } from './helpers/artl-scene.ts';
import { PixelPrior } from '../../optimizers/priors/pixel-prior.ts';
import { optimizeDepth } from '../../optimizers/optimize-depth.ts';
import { computeDepthMetrics } from '../../core/metrics/depth-metrics.ts';

test('pixel prior (classical depth from defocus): the loss falls and textured regions reach abs_rel < 0.10', async (t) => {
  await setupEngine();
  const scene = loadArtlScene();
  const [H, W] = scene.depthGt.shape;
  const prior = new PixelPrior(H, W);
  const textured = texturedMask(scene.aif, 0.5); // the more contrasted half of the pixels
  let texturedAbsRel = Number.NaN;
  const leaked = await leakedTensors(async () => {
    const r = await optimizeDepth(
      {
        aif: scene.aif,
        observed: scene.blurred,
        camera: scene.camera,
        fNumberAif: scene.fNumberAif,
        fNumberBlurred: scene.fNumberBlurred,
        prior,
      },
      // the scene lies behind the focus plane (1.2 m): a per-pixel prior cannot tell the two sides apart
      { variant: 'pixel', iterations: 200, sceneSide: 'behind' },
    );
    const all = computeDepthMetrics(r.depth, scene.depthGt);
    const tex = computeDepthMetrics(r.depth, scene.depthGt, textured);
    texturedAbsRel = tex.abs_rel;
    t.log(
      `abs_rel textured ${tex.abs_rel.toFixed(4)} (${tex.count} px), all ${all.abs_rel.toFixed(4)}; loss ` +
        `${r.lossHistory[0].toExponential(3)} -> ${r.finalLoss.toExponential(3)}; ${r.timings.msPerIteration.toFixed(1)} ms/it`,
    );
    t.true(r.finalLoss < 0.8 * r.lossHistory[0]);
    r.dispose();
  });
  t.true(texturedAbsRel < 0.1, `textured abs_rel ${texturedAbsRel}`);
  t.is(leaked, 0);
  prior.dispose();
});
