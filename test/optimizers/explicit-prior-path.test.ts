import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApertureDepthError } from '../../core/errors.ts';
import { MarigoldPrior } from '../../diffusion/marigold/marigold-prior.ts';
import { OnnxMarigoldPrior } from '../../diffusion/marigold/onnx-prior.ts';
import { readCheckpoint } from '../../optimizers/checkpoint.ts';
import { optimizeDepth, type DepthProblem } from '../../optimizers/optimize-depth.ts';
import type { DepthPrior, PriorVjp } from '../../optimizers/priors/depth-prior.ts';
import { MarigoldDepthPrior } from '../../optimizers/priors/marigold-depth-prior.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { relL2 } from '../helpers/npy-fixture.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';
import { loadArtlScene, type ArtlScene } from './helpers/artl-scene.ts';

/**
 * The optimizer's explicit gradient path (a prior outside tfjs autograd: `predictWithVjp`), with the ONNX
 * engine of sd2-tiny: same steps as the tfjs engine, resumable from checkpoints, NaN detection, hooks.
 */

const SD2_TINY = fileURLToPath(new URL('../data/diffusers-tiny/sd2-tiny/checkpoint', import.meta.url));
const tmp = makeTempDir('explicit-prior');
let scene: ArtlScene;
let tfjsModel: MarigoldPrior;
let onnxModel: OnnxMarigoldPrior;

test.before(async () => {
  await setupEngine();
  scene = loadArtlScene({ width: 32, height: 24, factor: 10, camera: { pixelPitchUm: 50 } });
  tfjsModel = await MarigoldPrior.load(SD2_TINY, { steps: 1 });
  onnxModel = await OnnxMarigoldPrior.load(SD2_TINY, { steps: 1, cacheDir: null, threads: 1 });
});
test.after.always(async () => {
  tfjsModel?.dispose();
  await onnxModel?.dispose();
  tmp.remove();
});

const problem = (prior: DepthPrior): DepthProblem => ({
  aif: scene.aif,
  observed: scene.blurred,
  camera: scene.camera,
  fNumberAif: 22,
  fNumberBlurred: 8,
  prior,
});
const config = { variant: 'full' as const, iterations: 3, seed: 0 };

test.serial('the onnx engine takes the same steps as the tfjs engine (loss history, final latent)', async (t) => {
  const tfjsPrior = MarigoldDepthPrior.create(tfjsModel, scene.rgbSrgb, { processingResolution: 0 });
  const onnxPrior = await MarigoldDepthPrior.createAsync(onnxModel, scene.rgbSrgb, { processingResolution: 0 });
  t.truthy(onnxPrior.predictWithVjp);
  t.is(tfjsPrior.predictWithVjp, undefined);
  const a = await optimizeDepth(problem(tfjsPrior), config);
  let b = { lossHistory: [] as number[], finalLoss: 0, finalLatent: new Float32Array() as ArrayLike<number> };
  const leaked = await leakedTensors(async () => {
    const r = await optimizeDepth(problem(onnxPrior), config);
    b = { lossHistory: r.lossHistory, finalLoss: r.finalLoss, finalLatent: r.finalLatent.dataSync().slice() };
    r.dispose();
  });
  const rel = a.lossHistory.map((x, i) => Math.abs(x - b.lossHistory[i]!) / Math.abs(x));
  const latent = relL2(b.finalLatent, a.finalLatent.dataSync());
  t.log(`loss ${a.lossHistory.map((x) => x.toExponential(4)).join(' ')}; max rel diff ${Math.max(...rel).toExponential(2)}, final latent ${latent.toExponential(2)}`);
  t.is(b.lossHistory.length, 3);
  t.true(Math.max(...rel) < 1e-4);
  t.true(latent < 1e-4);
  t.true(Math.abs(b.finalLoss - a.finalLoss) / a.finalLoss < 1e-4);
  t.is(leaked, 0);
  a.dispose();
});

test.serial('checkpoints and resume on the explicit path end where an uninterrupted run ends', async (t) => {
  const prior = await MarigoldDepthPrior.createAsync(onnxModel, scene.rgbSrgb, { processingResolution: 0 });
  const whole = await optimizeDepth(problem(prior), config);
  const ckpt = join(tmp.dir, 'resume.json');
  (await optimizeDepth(problem(prior), { ...config, iterations: 2 }, { checkpointPath: ckpt, checkpointEvery: 1 })).dispose();
  t.is(readCheckpoint(ckpt)!.iteration, 2);
  const resumed = await optimizeDepth(problem(prior), config, { checkpointPath: ckpt, resume: true });
  t.is(resumed.resumedFrom, 2);
  t.deepEqual(resumed.lossHistory.length, 3);
  t.true(relL2(resumed.lossHistory, whole.lossHistory) < 1e-6);
  t.true(relL2(resumed.finalLatent.dataSync(), whole.finalLatent.dataSync()) < 1e-5);
  whole.dispose();
  resumed.dispose();
});

test.serial('hooks: depthAsync works on the explicit path, depth() says to use it', async (t) => {
  const prior = await MarigoldDepthPrior.createAsync(onnxModel, scene.rgbSrgb, { processingResolution: 0 });
  let n = 0;
  const r = await optimizeDepth(problem(prior), { ...config, iterations: 2 }, {
    hooks: [
      {
        every: 2,
        fn: async (info) => {
          n = (await info.depthAsync()).length;
          t.throws(() => info.depth(), { instanceOf: ApertureDepthError, message: /depthAsync/ });
        },
      },
    ],
  });
  t.is(n, 24 * 32);
  const final = tf.tidy(() => r.depth.dataSync().slice());
  t.true(final.every((x) => Number.isFinite(x) && x > 0));
  r.dispose();
});

/** A prior on the explicit path whose latent gradient turns NaN from iteration `badFrom` on. */
class NanGradientPrior implements DepthPrior {
  readonly name = 'nan-test';
  readonly latentShape = [1, 4, 2, 2];
  readonly outputShape: readonly [number, number] = [24, 32];
  readonly sphericalLatent = true;
  readonly trainable = true;
  private calls = 0;
  constructor(private readonly badFrom: number) {}
  initialLatent(seed: number) {
    return tf.randomNormal(this.latentShape, 0, 1, 'float32', seed);
  }
  predict(): tf.Tensor2D {
    throw new Error('not on this path');
  }
  async predictAsync(latent: tf.Tensor) {
    return tf.tidy(() => tf.add(tf.mul(tf.ones([24, 32]), 0.5), tf.mul(tf.mean(latent), 0.01)) as tf.Tensor2D);
  }
  async predictWithVjp(latent: tf.Tensor): Promise<PriorVjp> {
    const call = this.calls++;
    const depth = await this.predictAsync(latent);
    return {
      depth,
      backward: async (d) =>
        tf.tidy(() => tf.fill(this.latentShape, call >= this.badFrom ? Number.NaN : tf.sum(d).dataSync()[0]! * 1e-3)),
    };
  }
  dispose() {}
}

test.serial('a NaN latent gradient from backward stops the run, naming the iteration and the group', async (t) => {
  const ckpt = join(tmp.dir, 'nan.json');
  const err = await t.throwsAsync(
    optimizeDepth(problem(new NanGradientPrior(2)), { ...config, iterations: 5, mappingInit: 'default' }, { checkpointPath: ckpt }),
    { instanceOf: ApertureDepthError },
  );
  t.regex(err!.message, /non-finite gradient in parameter group "latent" at iteration 2/);
  t.true(existsSync(ckpt));
  t.is(readCheckpoint(ckpt)!.iteration, 2);
});
