import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { loadArtlScene, type ArtlScene } from './helpers/artl-scene.ts';
import { FixedPrior } from '../../optimizers/priors/fixed-prior.ts';
import { PixelPrior } from '../../optimizers/priors/pixel-prior.ts';
import {
  createDefocusObjective,
  modelFNumber,
  optimizeDepth,
  projectToSphere,
  SCALE_SHIFT_GROUP,
  LATENT_GROUP,
  type DepthProblem,
} from '../../optimizers/optimize-depth.ts';
import { resolveOptimizerConfig } from '../../optimizers/config.ts';
import { readCheckpoint } from '../../optimizers/checkpoint.ts';
import { FreeMapping } from '../../optimizers/mappings/index.ts';
import { l2Loss, type LossContext } from '../../optimizers/losses/index.ts';
import { getRenderer } from '../../physics/renderers/index.ts';
import { computeDepthMetrics } from '../../core/metrics/depth-metrics.ts';
import { ApertureDepthError } from '../../core/errors.ts';
import { ProgressBar } from '../../optimizers/progress.ts';

let scene: ArtlScene;
const tmp = mkdtempSync(join(tmpdir(), 'optimize-depth-'));

test.before(async () => {
  await setupEngine();
  scene = loadArtlScene();
});
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

function problem(prior: DepthProblem['prior'], withGt = false): DepthProblem {
  return {
    aif: scene.aif,
    observed: scene.blurred,
    camera: scene.camera,
    fNumberAif: scene.fNumberAif,
    fNumberBlurred: scene.fNumberBlurred,
    prior,
    depthGt: withGt ? scene.depthGt : undefined,
  };
}

test.serial('scale-shift with the true relative depth recovers metric depth (abs_rel < 0.03)', async (t) => {
  const prior = FixedPrior.fromMetricDepth(scene.depthFilled);
  let absRel = Number.NaN;
  const leaked = await leakedTensors(async () => {
    const r = await optimizeDepth(problem(prior), { variant: 'scale-shift', iterations: 200, seed: 0 });
    const m = computeDepthMetrics(r.depth, scene.depthGt);
    absRel = m.abs_rel;
    t.log(
      `abs_rel ${m.abs_rel.toFixed(4)} delta1 ${m.delta1.toFixed(3)} scale ${r.scale.toFixed(4)} shift ${r.shift.toFixed(4)} ` +
        `(grid start ${r.gridInit?.scale.toFixed(4)}, ${r.gridInit?.shift.toFixed(4)}); loss ` +
        `${r.lossHistory[0].toExponential(3)} -> ${r.finalLoss.toExponential(3)}; ${r.timings.msPerIteration.toFixed(1)} ms/it`,
    );
    t.deepEqual(r.depth.shape, [48, 64]);
    t.deepEqual(r.rendered.shape, [48, 64, 3]);
    t.is(r.lossHistory.length, 200);
    t.true(r.finalLoss < r.lossHistory[0]);
    r.dispose();
  });
  prior.dispose();
  t.true(absRel < 0.03, `abs_rel ${absRel}`);
  t.is(leaked, 0);
});

test.serial('gradient of the objective with respect to scale and shift matches finite differences', (t) => {
  const prior = FixedPrior.fromMetricDepth(scene.depthFilled);
  const mapping = new FreeMapping();
  const { loss } = createDefocusObjective(problem(prior), {
    mapping,
    renderer: getRenderer('scatter'),
    fNumber: modelFNumber(22, 8, true),
    lossFn: l2Loss(),
    fixedLatent: tf.zeros([0]),
  });
  const p0 = mapping.paramsFor({ scale: 0.6, shift: 1.5 });
  const f = (p: ArrayLike<number>): number =>
    tf.tidy(() => loss({ [SCALE_SHIFT_GROUP]: tf.tensor1d(Array.from(p)) }, 0).dataSync()[0]);
  const g = tf.tidy(() =>
    Array.from(
      tf
        .grad((p: tf.Tensor) => loss({ [SCALE_SHIFT_GROUP]: p }, 0))(tf.tensor1d(p0))
        .dataSync(),
    ),
  );
  const h = 2e-3;
  for (let i = 0; i < 2; i++) {
    const plus = Float32Array.from(p0);
    const minus = Float32Array.from(p0);
    plus[i] += h;
    minus[i] -= h;
    const fd = (f(plus) - f(minus)) / (2 * h);
    t.log(
      `d loss / d ${mapping.paramNames[i]}: autodiff ${g[i].toExponential(4)}, central FD ${fd.toExponential(4)}`,
    );
    t.true(Math.abs(g[i] - fd) <= 0.03 * Math.abs(fd) + 1e-9, `param ${i}: ${g[i]} vs ${fd}`);
  }
  prior.dispose();
});

test.serial('same seed gives identical depth; resume after a kill ends bit-identical', async (t) => {
  const [H, W] = scene.depthGt.shape;
  const cfg = {
    variant: 'pixel' as const,
    iterations: 10,
    seed: 3,
    sceneSide: 'behind' as const,
    schedule: { kind: 'cosine' as const },
  };
  const run = async (opts: Parameters<typeof optimizeDepth>[2] = {}) => {
    const prior = new PixelPrior(H, W);
    try {
      const r = await optimizeDepth(problem(prior), cfg, opts);
      const out = {
        depth: Array.from(r.depth.dataSync()),
        losses: r.lossHistory,
        resumedFrom: r.resumedFrom,
      };
      r.dispose();
      return out;
    } finally {
      prior.dispose();
    }
  };
  const a = await run();
  const b = await run();
  t.deepEqual(b.depth, a.depth);
  // kill after iteration 5 (a hook that throws, right after the checkpoint), then resume
  const ckpt = join(tmp, 'resume.json');
  await t.throwsAsync(
    run({
      checkpointPath: ckpt,
      checkpointEvery: 5,
      hooks: [
        {
          every: 5,
          fn: (info) => {
            if (info.iteration === 5) throw new Error('killed');
          },
        },
      ],
    }),
    { message: 'killed' },
  );
  t.is(readCheckpoint(ckpt)!.iteration, 5);
  const c = await run({ checkpointPath: ckpt, checkpointEvery: 5, resume: true });
  t.is(c.resumedFrom, 5);
  t.deepEqual(c.losses, a.losses);
  t.deepEqual(c.depth, a.depth);
  t.is(readCheckpoint(ckpt)!.iteration, 10);
  // a checkpoint from another configuration is refused, naming the key
  const prior = new PixelPrior(H, W);
  const err = await t.throwsAsync(
    optimizeDepth(problem(prior), { ...cfg, seed: 4 }, { checkpointPath: ckpt, resume: true }),
    { instanceOf: ApertureDepthError },
  );
  t.regex(err!.message, /seed/);
  prior.dispose();
});

test.serial(
  'NaN in the gradient stops the run, naming the iteration and the group, and keeps a good checkpoint',
  async (t) => {
    const [H, W] = scene.depthGt.shape;
    const prior = new PixelPrior(H, W);
    const ckpt = join(tmp, 'nan.json');
    // value 0, gradient NaN (0 * d sqrt(x)/dx at x = 0) for the latent, from iteration 3 on
    const poison = ({ latent, iteration }: LossContext) =>
      tf.tidy(() =>
        iteration >= 3 ? (tf.mul(0, tf.sum(tf.sqrt(tf.sub(latent, latent)))) as tf.Scalar) : tf.scalar(0),
      );
    const before = tf.memory().numTensors;
    const err = await t.throwsAsync(
      optimizeDepth(
        problem(prior),
        { variant: 'pixel', iterations: 10, sceneSide: 'behind', regularizers: [poison] },
        { checkpointPath: ckpt, checkpointEvery: 100 },
      ),
      { instanceOf: ApertureDepthError },
    );
    t.regex(err!.message, /non-finite gradient in parameter group "latent" at iteration 3/);
    t.regex(err!.message, /last good state/);
    t.is(tf.memory().numTensors, before);
    const saved = readCheckpoint(ckpt)!;
    t.is(saved.iteration, 3);
    t.true(saved.params[LATENT_GROUP].data.every(Number.isFinite));
    // a NaN loss names the loss
    const nanLoss = ({ iteration }: LossContext) => tf.scalar(iteration >= 1 ? Number.NaN : 0);
    const err2 = await t.throwsAsync(
      optimizeDepth(problem(prior), {
        variant: 'pixel',
        iterations: 5,
        sceneSide: 'behind',
        regularizers: [nanLoss],
      }),
      { instanceOf: ApertureDepthError },
    );
    t.regex(err2!.message, /loss is NaN.*at iteration 1/);
    prior.dispose();
  },
);

test.serial(
  'oracle variant aligns the relative depth to ground truth; without ground truth it is an error',
  async (t) => {
    const prior = FixedPrior.fromMetricDepth(scene.depthFilled);
    const r = await optimizeDepth(problem(prior, true), { variant: 'oracle' });
    const m = computeDepthMetrics(r.depth, scene.depthGt);
    t.log(`oracle with the true relative depth: abs_rel ${m.abs_rel.toExponential(3)}`);
    t.true(m.abs_rel < 1e-3);
    t.is(r.iterations, 0);
    r.dispose();
    await t.throwsAsync(optimizeDepth(problem(prior), { variant: 'oracle' }), {
      instanceOf: ApertureDepthError,
      message: /depth_gt/,
    });
    prior.dispose();
  },
);

test.serial('hooks run every N iterations and at the end; early stopping ends on a plateau', async (t) => {
  const prior = FixedPrior.fromMetricDepth(scene.depthFilled);
  const seen: number[] = [];
  let depthLen = 0;
  const r = await optimizeDepth(
    problem(prior),
    { variant: 'scale-shift', iterations: 7, mappingInit: 'default' },
    {
      hooks: [
        {
          every: 3,
          fn: (info) => {
            seen.push(info.iteration);
            depthLen = info.depth().length;
            t.true(Number.isFinite(info.loss) && info.scale > 0 && info.shift > 0);
          },
        },
      ],
    },
  );
  t.deepEqual(seen, [3, 6, 7]);
  t.is(depthLen, 48 * 64);
  r.dispose();
  const s = await optimizeDepth(problem(prior), {
    variant: 'scale-shift',
    iterations: 500,
    lr: { scaleShift: 0 },
    mappingInit: 'default',
    earlyStopping: { patience: 4 },
  });
  t.true(s.stoppedEarly);
  t.is(s.iterations, 5);
  s.dispose();
  prior.dispose();
});

test('progress bar line: count, loss and ETA; off when not a TTY', (t) => {
  const bar = new ProgressBar(200, { enabled: 'auto', stream: { isTTY: false, write: () => true } as never });
  t.false(bar.enabled);
  const line = bar.line(50, 1.5e-4, Date.now() + 10_000);
  t.regex(line, /50\/200 loss 1\.500e-4 elapsed 00:1\d ETA 00:[345]\d/);
});

test('config: defaults and errors naming the key', (t) => {
  const c = resolveOptimizerConfig();
  t.is(c.variant, 'full');
  t.is(c.iterations, 200);
  t.is(c.lr.latent, 1.5e-3);
  t.is(c.mapping, 'free');
  t.is(resolveOptimizerConfig({ mapping: 'bounded' }).lr.scaleShift, 5e-3);
  t.is(resolveOptimizerConfig({ variant: 'pixel' }).renderer, 'gather');
  t.throws(() => resolveOptimizerConfig({ variant: 'nope' as never }), {
    instanceOf: ApertureDepthError,
    message: /variant/,
  });
  t.throws(() => resolveOptimizerConfig({ lr: { latent: -1 } }), {
    instanceOf: ApertureDepthError,
    message: /lr\.latent/,
  });
  t.throws(() => resolveOptimizerConfig({ iterations: 1.5 }), {
    instanceOf: ApertureDepthError,
    message: /iterations/,
  });
  t.deepEqual([c.grid.basins, c.grid.basinIterations], [1, 30]);
  t.throws(() => resolveOptimizerConfig({ grid: { basins: 0 } }), { message: /grid\.basins.*positive integer, got 0/ });
  t.throws(() => resolveOptimizerConfig({ grid: { basinIterations: -2 } }), {
    message: /grid\.basinIterations.*non-negative integer, got -2/,
  });
});

test.serial('basins: each tried on the search images, the lowest loss chosen as the start; deterministic, no leaks', async (t) => {
  const prior = FixedPrior.fromMetricDepth(scene.depthFilled);
  const runOnce = async () => {
    const lines: string[] = [];
    const r = await optimizeDepth(
      problem(prior),
      { variant: 'scale-shift', iterations: 40, seed: 0, grid: { basins: 3, basinIterations: 10 } },
      { log: (l) => lines.push(l) },
    );
    const out = { lines, gridInit: r.gridInit, absRel: computeDepthMetrics(r.depth, scene.depthGt).abs_rel, depth: r.depth.dataSync().slice() };
    r.dispose();
    return out;
  };
  let first: Awaited<ReturnType<typeof runOnce>> | undefined;
  const leaked = await leakedTensors(async () => {
    first = await runOnce();
  });
  const a = first!;
  t.log(a.lines.join('\n'));
  const basinLines = a.lines.filter((l) => /^ {2}basin \d/.test(l));
  t.true(basinLines.length >= 2 && basinLines.length <= 3, `${basinLines.length} basins`);
  t.regex(basinLines[0]!, /: chosen$/);
  const losses = basinLines.map((l) => Number(/\(loss ([^)]+)\)/.exec(l)![1]));
  t.deepEqual([...losses].sort((x, y) => x - y), losses);
  // The run starts from the chosen trial's end, recorded as the grid start.
  const m = /-> ([\d.]+) m, ([\d.]+) m after 10 steps/.exec(basinLines[0]!)!;
  t.true(Math.abs(a.gridInit!.scale - Number(m[1])) < 1e-4 && Math.abs(a.gridInit!.shift - Number(m[2])) < 1e-4);
  t.true(a.absRel < 0.03, `abs_rel ${a.absRel}`);
  const b = await runOnce();
  t.deepEqual(b.lines, a.lines);
  t.deepEqual(b.depth, a.depth);
  prior.dispose();
  t.is(leaked, 0);
});

test('sphere projection and the relative-blur f-number', (t) => {
  const z = projectToSphere(tf.tensor1d([3, 4, 0, 0]));
  t.true(Math.abs(tf.norm(z).dataSync()[0] - 2) < 1e-6);
  // f/8 against f/22: 1 / sqrt(1/64 - 1/484) = 8.588
  t.true(Math.abs(modelFNumber(22, 8, true) - 8.5878) < 1e-3);
  t.is(modelFNumber(22, 8, false), 8);
  t.throws(() => modelFNumber(8, 22, true), { instanceOf: ApertureDepthError });
  t.false(existsSync(join(tmp, 'nothing.json')));
});
