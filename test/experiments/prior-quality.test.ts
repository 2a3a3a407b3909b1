import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupEngine } from '../helpers/engine.ts';
import { MarigoldPrior } from '../../diffusion/marigold/marigold-prior.ts';
import * as tf from '@tensorflow/tfjs';
import { ensembleDepth } from '../../diffusion/marigold/ensemble-depth.ts';
import { evaluatePrior, predictScene, scoreScene, type SceneResult } from '../../experiments/training/eval-prior.ts';
import { heldOutProcedural, loadMiddlebury, middleburyScenes } from '../../experiments/training/eval/eval-scenes.ts';

/**
 * The shipped embedded prior, as a plain monocular prior (least-squares scale and shift), must beat the
 * oracle plane fitted to the ground truth: on held-out procedural scenes and on the five real Middlebury 2014
 * scenes (means over scenes, as in the model card).
 * Small resolution, one step, fixed noise: a few seconds.
 */
const MODEL = fileURLToPath(new URL('../../models/aperture-depth-tiny', import.meta.url));
const present = existsSync(join(MODEL, 'model_index.json'));

let prior: MarigoldPrior;

test.before(async () => {
  await setupEngine();
  if (present) prior = await MarigoldPrior.load(MODEL);
});

test.after.always(() => prior?.dispose());

const mean = (rs: SceneResult[], f: (r: SceneResult) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;

test('beats the fitted plane on held-out procedural scenes (abs_rel and d1)', (t) => {
  const rs = Array.from({ length: 16 }, (_, k) => scoreScene(prior, heldOutProcedural(k, 64, 48), 1, 0));
  const p = { abs_rel: mean(rs, (r) => r.prior.abs_rel), d1: mean(rs, (r) => r.prior.delta1) };
  const q = { abs_rel: mean(rs, (r) => r.plane.abs_rel), d1: mean(rs, (r) => r.plane.delta1) };
  t.log(`prior ${p.abs_rel.toFixed(4)} / ${p.d1.toFixed(4)}, plane ${q.abs_rel.toFixed(4)} / ${q.d1.toFixed(4)}`);
  t.true(p.abs_rel < q.abs_rel);
  t.true(p.d1 > q.d1);
});

let middlebury: { p: { abs_rel: number; d1: number }; q: { abs_rel: number; d1: number } } | undefined;
/** The five Middlebury scenes at the model's processing resolution, scored once for the two tests below. */
function middleburyMeans(log: (s: string) => void) {
  if (!middlebury) {
    const rs = middleburyScenes().map((name) => scoreScene(prior, loadMiddlebury(name, prior.processingResolution), 1, 0));
    if (rs.length !== 5) throw new Error(`expected 5 Middlebury scenes, got ${rs.length}`);
    for (const r of rs)
      log(`${r.name} ${r.width}x${r.height}: prior ${r.prior.abs_rel.toFixed(4)} / ${r.prior.delta1.toFixed(4)}, plane ${r.plane.abs_rel.toFixed(4)} / ${r.plane.delta1.toFixed(4)}`);
    middlebury = {
      p: { abs_rel: mean(rs, (r) => r.prior.abs_rel), d1: mean(rs, (r) => r.prior.delta1) },
      q: { abs_rel: mean(rs, (r) => r.plane.abs_rel), d1: mean(rs, (r) => r.plane.delta1) },
    };
  }
  const { p, q } = middlebury;
  log(`mean: prior ${p.abs_rel.toFixed(4)} / ${p.d1.toFixed(4)}, plane ${q.abs_rel.toFixed(4)} / ${q.d1.toFixed(4)}`);
  return middlebury;
}

test.serial('beats the fitted plane on the real Middlebury scenes: mean abs_rel', (t) => {
  const { p, q } = middleburyMeans((l) => t.log(l));
  t.true(p.abs_rel < q.abs_rel);
});

test.serial('beats the fitted plane on the real Middlebury scenes: mean d1', (t) => {
  const { p, q } = middleburyMeans((l) => t.log(l));
  t.true(p.d1 > q.d1);
});

test.serial('eval-prior --ensemble 3 scores the aligned median of the seeds n, n + 1, n + 2 predictions', (t) => {
  const scene = heldOutProcedural(3, 64, 48);
  const singles = [4, 5, 6].map((seed) => predictScene(prior, scene, 1, seed));
  const before = tf.memory().numTensors; // the prior keeps its encoded image between calls
  const want = ensembleDepth(singles).depth;
  const got = predictScene(prior, scene, 1, 4, 3);
  t.is(tf.memory().numTensors, before);
  t.is(got.length, 64 * 48);
  t.true(got.every((v, i) => Math.abs(v - want[i]!) < 1e-6));
  t.true(singles.some((s) => s.some((v, i) => Math.abs(v - want[i]!) > 1e-3)), 'the ensemble differs from its members');
  t.throws(() => predictScene(prior, scene, 1, 0, 0), { message: /--ensemble.*integer >= 1, got 0/ });
});

test('the shipped model is present (run `npm run train-prior` to make it)', (t) => {
  t.true(present, `missing ${MODEL}`);
});

test.serial('evaluatePrior: a set with no scenes is reported as skipped, the other scored as scoreScene does', async (t) => {
  const lines: string[] = [];
  const r = await evaluatePrior(MODEL, { procedural: 0, middlebury: ['Teddy'], resolution: 32, write: (l) => lines.push(l) });
  t.is(r.procedural.scenes.length, 0);
  t.false(r.procedural.beatsPlane);
  t.true(lines.includes('[eval] procedural: no scenes, skipped'), lines.join('\n'));
  t.false(lines.some((l) => l.startsWith('[eval] procedural (0)')));
  t.is(r.middlebury.scenes.length, 1);
  t.regex(lines.find((l) => l.startsWith('[eval] middlebury (1)'))!, /prior abs_rel 0\.\d{4} d1 /);
  const small = await MarigoldPrior.load(MODEL, { processingResolution: 32 });
  try {
    const want = scoreScene(small, loadMiddlebury('Teddy', 32), small.steps, 0);
    t.true(Math.abs(r.middlebury.prior.abs_rel - want.prior.abs_rel) < 1e-12);
    t.true(Math.abs(r.middlebury.plane.delta1 - want.plane.delta1) < 1e-12);
  } finally {
    small.dispose();
  }
});
