import test from 'ava';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { runExperiment, type SceneEstimateRequest } from '../../../core/pipeline/run-experiment.ts';
import type { SceneResult } from '../../../core/pipeline/run-results.ts';
import { parseSeeds, runSeeds, summarizeSeedRuns } from '../../../core/pipeline/seed-runs.ts';
import { summarizeSeeds } from '../../../core/pipeline/seed-summary.ts';
import { setupEngine } from '../../helpers/engine.ts';
import { MIDDLEBURY, fakeEstimator, smallConfig, tempDir } from './run-helpers.ts';

test.before(async () => {
  await setupEngine();
});

const close = (a: number | null, b: number, tol = 1e-12) => a !== null && Math.abs(a - b) <= tol;

test('parseSeeds: lists and ranges; errors name --seeds', (t) => {
  t.deepEqual(parseSeeds('0,1,2'), [0, 1, 2]);
  t.deepEqual(parseSeeds('3-5'), [3, 4, 5]);
  t.deepEqual(parseSeeds(' 0-1 , 7 '), [0, 1, 7]);
  t.throws(() => parseSeeds('a'), {
    instanceOf: ApertureDepthError,
    message: /--seeds: expected seeds as a list/,
  });
  t.throws(() => parseSeeds('-1'), { message: /--seeds: expected seeds/ });
  t.throws(() => parseSeeds('5-3'), { message: /--seeds: the range 5-3 is empty/ });
  t.throws(() => parseSeeds('0-2,1'), { message: /--seeds: seed 1 is listed twice/ });
  t.throws(() => parseSeeds('0-5000'), { message: /over 1000 seeds/ });
});

/** A row whose metrics are all `v` except d1 = `d1`. */
function row(scene: string, variant: string, absRel: number, d1: number): SceneResult {
  return {
    scene,
    index: scene.charCodeAt(0),
    variant,
    status: 'ok',
    metrics: {
      abs_rel: absRel,
      sq_rel: absRel,
      rmse: absRel,
      rmse_log: absRel,
      log10: absRel,
      delta1: d1,
      delta2: d1,
      delta3: d1,
      count: 10,
    },
    runtime_s: 1,
    iterations: 1,
    final_loss: null,
    scale: null,
    shift: null,
    dir: `scenes/${scene}/${variant}`,
  };
}

test('summarizeSeeds: per-seed means, sd over seeds, paired differences with wins', (t) => {
  const variants = [
    { name: 'ss', type: 'scale-shift' },
    { name: 'full', type: 'full' },
  ];
  const s = summarizeSeeds(
    [
      {
        seed: 0,
        rows: [
          row('a', 'ss', 0.2, 0.7),
          row('a', 'full', 0.1, 0.8),
          row('b', 'ss', 0.4, 0.5),
          row('b', 'full', 0.5, 0.5),
        ],
      },
      {
        seed: 1,
        rows: [
          row('a', 'ss', 0.3, 0.6),
          row('a', 'full', 0.2, 0.9),
          row('b', 'ss', 0.3, 0.5),
          row('b', 'full', 0.2, 0.6),
        ],
      },
    ],
    variants,
  );
  t.deepEqual(s.seeds, [0, 1]);
  t.is(s.scenes, 2);
  const ss = s.variants[0]!.metrics.abs_rel;
  // seed 0: (0.2 + 0.4) / 2 = 0.3; seed 1: 0.3; mean 0.3, sd 0
  t.true(
    close(ss.per_seed[0]!, 0.3) && close(ss.per_seed[1]!, 0.3) && close(ss.mean, 0.3) && close(ss.sd, 0),
  );
  const full = s.variants[1]!.metrics.abs_rel;
  // seed 0: 0.3; seed 1: 0.2; mean 0.25; sd |0.3 - 0.2| / sqrt(2)
  t.true(close(full.mean, 0.25) && close(full.sd, 0.1 / Math.SQRT2));
  t.deepEqual(s.variants[1]!.evaluated, [2, 2]);
  const c = s.comparisons[0]!;
  t.is(c.variant, 'full');
  t.is(c.reference, 'ss');
  t.is(c.pairs, 4);
  // abs_rel differences: -0.1, +0.1, -0.1, -0.1 -> mean -0.05, sd 0.1, se 0.05; full lower in 3 of 4
  t.true(close(c.metrics.abs_rel.difference.mean, -0.05));
  t.true(close(c.metrics.abs_rel.difference.stderr, 0.05));
  t.is(c.metrics.abs_rel.wins, 3);
  t.true(close(c.metrics.abs_rel.per_seed[0]!, 0) && close(c.metrics.abs_rel.per_seed[1]!, -0.1));
  // d1 differences: +0.1, 0, +0.3, +0.1 -> higher is better: 3 wins, the tie is not one
  t.true(close(c.metrics.delta1.difference.mean, 0.125));
  t.is(c.metrics.delta1.wins, 3);
  // A variant missing at a seed: that seed has no pair, no mean.
  const partial = summarizeSeeds(
    [
      { seed: 4, rows: [row('a', 'ss', 0.2, 0.7), row('a', 'full', 0.1, 0.8)] },
      {
        seed: 5,
        rows: [row('a', 'ss', 0.3, 0.6), { ...row('a', 'full', 0, 0), status: 'failed', metrics: null }],
      },
    ],
    variants,
  );
  t.deepEqual(partial.variants[1]!.evaluated, [1, 0]);
  t.is(partial.variants[1]!.metrics.abs_rel.sd, null);
  t.is(partial.comparisons[0]!.pairs, 1);
  t.deepEqual(
    partial.comparisons[0]!.metrics.abs_rel.per_seed.map((x) => x === null),
    [false, true],
  );
});

/** The fake estimator's factor shifted by the seed, so seeds differ by a known amount. */
function seededEstimator(calls: SceneEstimateRequest[]) {
  const base = fakeEstimator(calls);
  return async (req: SceneEstimateRequest) => {
    const out = await base(req);
    const k = 1 + req.seed / 100;
    const depthM = out.depthM.map((d) => d * k);
    return { ...out, depthM };
  };
}

test('runSeeds: one run folder per seed, a summary over them that matches each run, resume, errors', async (t) => {
  const out = tempDir();
  const calls: SceneEstimateRequest[] = [];
  const lines: string[] = [];
  const load = (seed: number) =>
    smallConfig({
      seed,
      data: {
        name: 'middlebury2014',
        root: MIDDLEBURY,
        downscale: 8,
        scenes: ['ArtL', 'Teddy'],
      },
    });
  const r = await runSeeds({
    seeds: [2, 0],
    load,
    outDir: out,
    estimator: seededEstimator(calls),
    log: (l) => lines.push(l),
  });
  t.is(calls.length, 8); // 2 seeds x 2 scenes x 2 variants
  t.deepEqual([...new Set(calls.map((c) => c.seed))], [2, 0]);
  for (const f of [
    'seed-0/summary.md',
    'seed-2/report.html',
    'seeds_summary.json',
    'seeds_summary.md',
    'seeds_per_scene.csv',
  ])
    t.true(existsSync(join(out, f)), f);
  t.regex(lines.join('\n'), /seed 2 \(1\/2\) -> .*seed-2/);
  // Seeds come out sorted; each per-seed mean is the seed run's own summary.
  t.deepEqual(r.summary.seeds, [0, 2]);
  for (const [i, seed] of [0, 2].entries()) {
    const own = JSON.parse(readFileSync(join(out, `seed-${seed}`, 'summary.json'), 'utf8'));
    for (const [vi, v] of r.summary.variants.entries())
      t.true(close(v.metrics.rmse.per_seed[i]!, own.variants[vi].metrics.rmse, 1e-9), `${seed} ${v.variant}`);
  }
  // The fake scales depth by 1.02 (full) or 1.1 (scale-shift) times 1 + seed / 100: REL is the factor - 1
  // wherever the ground truth is valid, up to a scene-dependent term that cancels in the paired difference.
  const c = r.summary.comparisons[0]!;
  t.is(c.pairs, 4);
  t.is(c.metrics.abs_rel.wins, 4);
  t.true(close(c.metrics.abs_rel.per_seed[0]!, 1.02 - 1.1, 1e-6));
  t.true(close(c.metrics.abs_rel.per_seed[1]!, (1.02 - 1.1) * 1.02, 1e-6));
  const md = readFileSync(join(out, 'seeds_summary.md'), 'utf8');
  t.regex(md, /over seeds 0, 2/);
  t.regex(md, /\| full \| .* ± .*\| 2, 2 \|/);
  t.regex(md, /## full - scale-shift, paired over 4 scene x seed pair\(s\)/);
  t.regex(md, /\| REL \| -0\.08\d\d ± 0\.00\d\d \| 4\/4 \| -0\.0800, -0\.0816 \|/);
  const csv = readFileSync(join(out, 'seeds_per_scene.csv'), 'utf8').trim().split('\n');
  t.is(csv.length, 9);
  t.regex(csv[0]!, /^seed,scene,index,variant,status,abs_rel/);
  t.regex(csv[1]!, /^0,ArtL,/);
  t.regex(csv[8]!, /^2,Teddy,\d+,full,ok,/);
  const json = JSON.parse(readFileSync(join(out, 'seeds_summary.json'), 'utf8'));
  t.deepEqual(
    json.runs.map((x: { seed: number }) => x.seed),
    [0, 2],
  );
  t.truthy(json.versions);
  t.regex(readFileSync(join(out, 'seed-2/config.yaml'), 'utf8'), /\nseed: 2\n/);

  // Resume: nothing reruns, the same summary.
  const again = await runSeeds({
    seeds: [0, 2],
    load,
    outDir: out,
    resume: true,
    estimator: seededEstimator(calls),
  });
  t.is(calls.length, 8);
  t.deepEqual(again.summary, r.summary);
  // Without --resume the first seed's folder refuses.
  await t.throwsAsync(() => runSeeds({ seeds: [0], load, outDir: out, estimator: seededEstimator(calls) }), {
    message: /seed-0.*pass --resume/s,
  });
  // A single run's folder is not a seeds folder.
  await t.throwsAsync(
    () => runSeeds({ seeds: [1], load, outDir: join(out, 'seed-0'), estimator: seededEstimator(calls) }),
    {
      message: /--out.*holds a single run/,
    },
  );

  // The same summary from the folders; errors name the folder and the key.
  const other = tempDir();
  const s = summarizeSeedRuns([join(out, 'seed-2'), join(out, 'seed-0')], other);
  t.deepEqual(s.summary, r.summary);
  t.throws(() => summarizeSeedRuns([join(out, 'seed-0'), join(out, 'seed-0')], other), {
    message: /seed: seed 0 is in two runs/,
  });
  const differs = tempDir();
  await runExperiment({
    loaded: smallConfig({
      seed: 9,
      metrics: { align: 'scale' },
      data: {
        name: 'middlebury2014',
        root: MIDDLEBURY,
        downscale: 8,
        scenes: ['ArtL', 'Teddy'],
      },
    }),
    outDir: differs,
    estimator: seededEstimator([]),
  });
  t.throws(() => summarizeSeedRuns([join(out, 'seed-0'), differs], other), {
    message:
      /config\.yaml: metrics\.align: config differs from .*seed-0's at metrics\.align; only the seed may differ/,
  });
  t.throws(() => summarizeSeedRuns([], other), { message: /name at least one run folder/ });
  rmSync(out, { recursive: true, force: true });
  rmSync(other, { recursive: true, force: true });
  rmSync(differs, { recursive: true, force: true });
});
