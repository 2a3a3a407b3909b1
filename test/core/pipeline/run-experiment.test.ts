import test from 'ava';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { parseConfigYaml } from '../../../core/config/load.ts';
import { readImage } from '../../../core/io/image.ts';
import { mergeRuns } from '../../../core/pipeline/merge-runs.ts';
import { runExperiment, type SceneEstimateRequest } from '../../../core/pipeline/run-experiment.ts';
import { parseShard, shardItems } from '../../../core/pipeline/shard.ts';
import { setupEngine } from '../../helpers/engine.ts';
import { fakeEstimator, smallConfig, tempDir } from './run-helpers.ts';

test.before(async () => {
  await setupEngine();
});

const SCENES = ['Adirondack', 'ArtL', 'Motorcycle', 'Piano', 'Teddy'];
const comparable = (s: { variants: { runtime_s: unknown }[] }) =>
  s.variants.map(({ runtime_s: _r, ...rest }) => rest);

test('shards partition the scenes; K/N is validated', (t) => {
  const items = [0, 1, 2, 3, 4, 5, 6];
  const parts = [0, 1, 2].map((k) => shardItems(items, { index: k, count: 3 }));
  t.deepEqual(parts, [
    [0, 3, 6],
    [1, 4],
    [2, 5],
  ]);
  t.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  t.throws(() => parseShard('4/4'), {
    instanceOf: ApertureDepthError,
    message: /--shard: shard 4\/4: expected 0 <= K < N/,
  });
  t.throws(() => parseShard('a/b'), { instanceOf: ApertureDepthError, message: /expected K\/N/ });
});

test('a run writes the resolved config, per-scene outputs, summaries and a report', async (t) => {
  const out = tempDir();
  const loaded = smallConfig();
  const calls: SceneEstimateRequest[] = [];
  const lines: string[] = [];
  const r = await runExperiment({
    loaded,
    outDir: out,
    estimator: fakeEstimator(calls),
    log: (l) => lines.push(l),
  });
  t.is(calls.length, 10);
  t.is(r.rows.length, 10);
  t.is(r.failed, 0);
  for (const f of [
    'config.yaml',
    'run_info.json',
    'per_scene.csv',
    'summary.json',
    'summary.md',
    'report.html',
  ]) {
    t.true(existsSync(join(out, f)), f);
  }
  // The resolved config reproduces the run: it loads back to the same config.
  const again = parseConfigYaml(readFileSync(join(out, 'config.yaml'), 'utf8'), join(out, 'config.yaml'));
  t.deepEqual(again.config, loaded.config);
  for (const s of SCENES) {
    t.true(existsSync(join(out, 'scenes', s, 'pair', 'pair.json')), s);
    for (const v of ['scale-shift', 'full']) {
      for (const f of ['depth.npy', 'figure.png', 'loss.png', 'done.json'])
        t.true(existsSync(join(out, 'scenes', s, v, f)), `${s}/${v}/${f}`);
    }
  }
  const fig = readImage(join(out, 'scenes/ArtL/full/figure.png'));
  t.true(fig.width > 4 * 43 && fig.channels >= 3);
  const csv = readFileSync(join(out, 'per_scene.csv'), 'utf8').trim().split('\n');
  t.is(csv.length, 11);
  t.regex(
    csv[0]!,
    /^scene,index,variant,status,abs_rel,sq_rel,rmse,rmse_log,log10,delta1,delta2,delta3,valid_pixels,runtime_s/,
  );
  t.regex(csv[1]!, /^Adirondack,0,scale-shift,ok,/);
  // Each row's REL is exactly |factor - 1| (the fake scales ground truth).
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const full = summary.variants.find((v: { variant: string }) => v.variant === 'full');
  const widths = [89, 43, 92, 88, 56];
  const expected = widths.reduce((s, w) => s + (0.02 + (w % 7) / 100), 0) / 5;
  t.true(Math.abs(full.metrics.abs_rel - expected) < 1e-5, `${full.metrics.abs_rel} vs ${expected}`);
  t.is(full.evaluated, 5);
  const md = readFileSync(join(out, 'summary.md'), 'utf8');
  t.regex(md, /\| variant \| RMSE \| REL \| log10 \| d1 \| d2 \| d3 \| runtime \(s\) \|/);
  t.regex(md, /\| full \| \d\.\d{3} \| \d\.\d{3} \|/);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  t.regex(html, /<img src="scenes\/ArtL\/full\/figure\.png"/);
  t.regex(html, /<img src="scenes\/Teddy\/scale-shift\/loss\.png"/);
  t.true(lines.some((l) => /^\[2\/5\] ArtL · full: /.test(l)));
});

test('shards run disjoint scenes and merge into the unsharded summary', async (t) => {
  const loaded = smallConfig();
  const whole = await runExperiment({ loaded, outDir: tempDir(), estimator: fakeEstimator() });
  const dirs = [tempDir(), tempDir()];
  const callsPerShard: string[][] = [];
  for (const [k, dir] of dirs.entries()) {
    const calls: SceneEstimateRequest[] = [];
    await runExperiment({
      loaded,
      outDir: dir,
      shard: { index: k, count: 2 },
      estimator: fakeEstimator(calls),
    });
    callsPerShard.push([...new Set(calls.map((c) => c.pairFile.split('/').at(-3)!))]);
  }
  t.deepEqual(callsPerShard, [
    ['Adirondack', 'Motorcycle', 'Teddy'],
    ['ArtL', 'Piano'],
  ]);
  const merged = tempDir();
  const m = mergeRuns([dirs[1]!, dirs[0]!], merged);
  t.deepEqual(m.missingShards, []);
  t.deepEqual(comparable(m.summary), comparable(whole.summary));
  t.deepEqual(
    m.rows.map((r) => `${r.scene}/${r.variant}`),
    whole.rows.map((r) => `${r.scene}/${r.variant}`),
  );
  for (const f of [
    'config.yaml',
    'per_scene.csv',
    'summary.json',
    'summary.md',
    'report.html',
    'scenes/Piano/full/figure.png',
  ]) {
    t.true(existsSync(join(merged, f)), f);
  }
  const csvWhole = readFileSync(join(whole.outDir, 'per_scene.csv'), 'utf8')
    .split('\n')
    .map((l) => l.split(',').slice(0, 13).join(','));
  const csvMerged = readFileSync(join(merged, 'per_scene.csv'), 'utf8')
    .split('\n')
    .map((l) => l.split(',').slice(0, 13).join(','));
  t.deepEqual(csvMerged, csvWhole); // every metric column identical
  // Only one shard: merged, with the missing one reported.
  const partial = mergeRuns([dirs[0]!], tempDir());
  t.deepEqual(partial.missingShards, [1]);
  // Runs of different configs refuse to merge.
  const other = tempDir();
  await runExperiment({
    loaded: smallConfig({ seed: 4 }),
    outDir: other,
    shard: { index: 1, count: 2 },
    estimator: fakeEstimator(),
  });
  const err = t.throws(() => mergeRuns([dirs[0]!, other], tempDir()), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /config\.yaml: seed: config differs from .* at seed; only runs of one config merge/);
});

test('resume skips finished scenes and reruns the unfinished one; a different config is refused', async (t) => {
  const loaded = smallConfig({
    data: {
      name: 'middlebury2014',
      root: join(import.meta.dirname, '../../data/middlebury2014-q'),
      downscale: 8,
      limit: 3,
    },
  });
  const out = tempDir();
  const first = await runExperiment({ loaded, outDir: out, estimator: fakeEstimator() });
  // As if killed while writing ArtL/full: its done marker never appeared.
  rmSync(join(out, 'scenes/ArtL/full/done.json'));
  const calls: SceneEstimateRequest[] = [];
  const second = await runExperiment({ loaded, outDir: out, resume: true, estimator: fakeEstimator(calls) });
  t.deepEqual(
    calls.map((c) => `${c.pairFile.split('/').at(-3)}/${c.variant.name}`),
    ['ArtL/full'],
  );
  t.true(calls[0]!.resume);
  t.is(second.skipped, 5);
  t.deepEqual(comparable(second.summary), comparable(first.summary));
  // Without --resume the folder is refused; with a changed config too.
  let err = await t.throwsAsync(() => runExperiment({ loaded, outDir: out, estimator: fakeEstimator() }), {
    instanceOf: ApertureDepthError,
  });
  t.regex(err!.message, /already holds a run .*--resume/);
  const changed = smallConfig({
    data: {
      name: 'middlebury2014',
      root: join(import.meta.dirname, '../../data/middlebury2014-q'),
      downscale: 8,
      limit: 3,
    },
    optimizer: { iterations: 7 },
  });
  err = await t.throwsAsync(
    () => runExperiment({ loaded: changed, outDir: out, resume: true, estimator: fakeEstimator() }),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.regex(err!.message, /config\.yaml: optimizer\.iterations: --resume with a different config/);
});

test('a failing scene is recorded, the run goes on, and resume retries it', async (t) => {
  const loaded = smallConfig({
    data: {
      name: 'middlebury2014',
      root: join(import.meta.dirname, '../../data/middlebury2014-q'),
      downscale: 8,
      scenes: ['Teddy', 'ArtL'],
    },
    variants: ['full'],
  });
  const out = tempDir();
  const r = await runExperiment({ loaded, outDir: out, estimator: fakeEstimator([], 'ArtL') });
  t.is(r.failed, 1);
  const failed = r.rows.find((x) => x.scene === 'ArtL')!;
  t.is(failed.status, 'failed');
  t.regex(failed.error!, /synthetic failure on ArtL/);
  t.false(existsSync(join(out, 'scenes/ArtL/full/done.json')));
  t.regex(readFileSync(join(out, 'per_scene.csv'), 'utf8'), /ArtL,1,full,failed,.*synthetic failure on ArtL/);
  t.is(r.summary.variants[0]!.failed, 1);
  const calls: SceneEstimateRequest[] = [];
  const again = await runExperiment({ loaded, outDir: out, resume: true, estimator: fakeEstimator(calls) });
  t.is(calls.length, 1);
  t.is(again.failed, 0);
  t.is(again.summary.variants[0]!.evaluated, 2);
});

test('limits.max_tensor_bytes refuses a scene up front, naming a working size that fits', async (t) => {
  const loaded = smallConfig({
    data: {
      name: 'middlebury2014',
      root: join(import.meta.dirname, '../../data/middlebury2014-q'),
      downscale: 8,
      scenes: ['Teddy'],
    },
    variants: ['full'],
    limits: { max_tensor_bytes: 10_000 },
  });
  const calls: SceneEstimateRequest[] = [];
  const r = await runExperiment({ loaded, outDir: tempDir(), estimator: fakeEstimator(calls) });
  t.is(calls.length, 0);
  t.is(r.failed, 1);
  t.regex(
    r.rows[0]!.error!,
    /limits\.max_tensor_bytes: the working image 56x46x3 float32 needs 30912 bytes.*working_max_side to at most 3\d/,
  );
});

test('a pairs dataset runs as is (no simulation), ground truth from pair.json', async (t) => {
  const sim = tempDir();
  await runExperiment({
    loaded: smallConfig({
      data: {
        name: 'middlebury2014',
        root: join(import.meta.dirname, '../../data/middlebury2014-q'),
        downscale: 8,
        limit: 2,
      },
      variants: ['full'],
    }),
    outDir: sim,
    estimator: fakeEstimator(),
  });
  const loaded = smallConfig({ data: { name: 'pairs', root: join(sim, 'scenes') }, variants: ['full'] });
  const out = tempDir();
  const calls: SceneEstimateRequest[] = [];
  const r = await runExperiment({ loaded, outDir: out, estimator: fakeEstimator(calls) });
  t.deepEqual(
    r.rows.map((x) => x.scene),
    ['Adirondack_pair', 'ArtL_pair'],
  );
  t.deepEqual(
    calls.map((c) => c.pairFile),
    [join(sim, 'scenes/Adirondack/pair/pair.json'), join(sim, 'scenes/ArtL/pair/pair.json')],
  );
  t.true(r.rows.every((x) => x.metrics !== null && x.metrics.count > 0));
  t.false(existsSync(join(out, 'scenes/ArtL_pair/pair'))); // nothing simulated
});
