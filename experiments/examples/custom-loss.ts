/**
 * A custom loss through the library import, as a user script would write it:
 *   npx tsx experiments/examples/custom-loss.ts PAIR.json OUT_DIR [--model DIR] [--iterations N]
 * Robust data term: L1 on the residual plus 0.1 x L1 on the residual's x-gradient, and a small TV term.
 */
import * as tf from '@tensorflow/tfjs';
import { estimate, initEngine, l1Loss, tvRegularizer, type LossContext } from 'aperture-depth';

const [pair, outDir, ...rest] = process.argv.slice(2);
if (!pair || !outDir) {
  process.stderr.write('usage: custom-loss.ts PAIR.json OUT_DIR [--model DIR] [--iterations N]\n');
  process.exit(2);
}
const flag = (name: string) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};

const edgeAwareL1 = (ctx: LossContext): tf.Scalar =>
  tf.tidy(() => {
    const r = tf.sub(ctx.rendered, ctx.observed); // [H, W, C]
    const [h, w] = r.shape;
    const dx = tf.sub(tf.slice(r, [0, 1, 0], [h, w - 1, -1]), tf.slice(r, [0, 0, 0], [h, w - 1, -1]));
    return tf.add(l1Loss()(ctx), tf.mul(0.1, tf.mean(tf.abs(dx)))) as tf.Scalar;
  });

await initEngine('wasm');
const result = await estimate({
  pair,
  outDir,
  model: flag('--model'),
  iterations: Number(flag('--iterations') ?? 50),
  optimizer: { loss: edgeAwareL1, regularizers: [tvRegularizer({ weight: 1e-4 })] },
});
process.stdout.write(
  `${JSON.stringify({ variant: result.variant, prior: result.prior.name, finalLoss: result.finalLoss, metrics: result.metrics })}\n`,
);
