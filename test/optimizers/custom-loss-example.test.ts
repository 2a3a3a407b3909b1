import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { setupEngine } from '../helpers/engine.ts';
import { loadArtlScene } from './helpers/artl-scene.ts';
// The README example, verbatim but for the import paths (the package root re-exports these).
import {
  optimizeDepth,
  FixedPrior,
  l1Loss,
  tvRegularizer,
  type LossContext,
} from '../../optimizers/index.ts';

test('README example: a custom loss through the library runs and is called every iteration', async (t) => {
  await setupEngine();
  const scene = loadArtlScene();
  const prior = FixedPrior.fromMetricDepth(scene.depthFilled);

  // --- README example ---
  // Robust data term: L1 on the residual, plus 0.1 x L1 on the residual's x-gradient.
  const calls: number[] = [];
  const edgeAwareL1 = (ctx: LossContext): tf.Scalar =>
    tf.tidy(() => {
      calls.push(ctx.iteration);
      const r = tf.sub(ctx.rendered, ctx.observed); // [H, W, C]
      const [h, w] = r.shape;
      const dx = tf.sub(tf.slice(r, [0, 1, 0], [h, w - 1, -1]), tf.slice(r, [0, 0, 0], [h, w - 1, -1]));
      return tf.add(l1Loss()(ctx), tf.mul(0.1, tf.mean(tf.abs(dx)))) as tf.Scalar;
    });
  const result = await optimizeDepth(
    {
      aif: scene.aif,
      observed: scene.blurred,
      camera: scene.camera,
      fNumberAif: 22,
      fNumberBlurred: 8,
      prior,
    },
    {
      variant: 'scale-shift',
      iterations: 30,
      loss: edgeAwareL1,
      regularizers: [tvRegularizer({ weight: 0 })],
    },
  );
  // --- end of example ---

  t.log(
    `scale ${result.scale.toFixed(3)} m, shift ${result.shift.toFixed(3)} m, loss ${result.lossHistory[0].toExponential(3)} -> ${result.finalLoss.toExponential(3)}`,
  );
  t.true(result.finalLoss < result.lossHistory[0]);
  t.true(calls.includes(0) && calls.includes(29));
  result.dispose();
  prior.dispose();
});
