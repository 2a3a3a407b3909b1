import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../../core/config/load.ts';
import { runExperiment } from '../../../core/pipeline/run-experiment.ts';
import { setupEngine } from '../../helpers/engine.ts';
import { tempDir } from './run-helpers.ts';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '../../..');
const SMOKE = join(ROOT, 'experiments/configs/smoke.yaml');

test.before(async () => {
  await setupEngine();
});

test('smoke config end to end through the estimate pipeline: simulated pair, oracle and scale-shift, resume', async (t) => {
  const loaded = loadConfig(SMOKE, { set: ['data.scenes=[Teddy]', 'optimizer.iterations=4'] });
  const out = tempDir();
  const lines: string[] = [];
  const r = await runExperiment({ loaded, outDir: out, log: (l) => lines.push(l), progress: false });
  t.is(r.failed, 0, lines.join('\n'));
  t.deepEqual(
    r.rows.map((x) => [x.scene, x.variant, x.status]),
    [
      ['Teddy', 'oracle', 'ok'],
      ['Teddy', 'scale-shift', 'ok'],
    ],
  );
  for (const f of [
    'depth.npy',
    'depth_mm.png',
    'result.h5',
    'run.json',
    'metrics.json',
    'figure.png',
    'loss.png',
    'done.json',
  ]) {
    t.true(existsSync(join(out, 'scenes/Teddy/scale-shift', f)), f);
  }
  const ss = r.rows[1]!;
  t.is(ss.iterations, 4);
  t.true(ss.metrics!.count > 1000);
  t.true(ss.metrics!.abs_rel > 0 && Number.isFinite(ss.metrics!.rmse));
  // The oracle aligns the prior to ground truth by least squares: no worse than what defocus recovers here.
  t.true(r.rows[0]!.metrics!.rmse <= ss.metrics!.rmse * 1.5);
  const runJson = JSON.parse(readFileSync(join(out, 'scenes/Teddy/scale-shift/run.json'), 'utf8'));
  t.is(runJson.variant, 'scale-shift');
  t.is(runJson.prior.name, 'marigold');
  const again = await runExperiment({ loaded, outDir: out, resume: true, progress: false });
  t.is(again.skipped, 2);
  t.deepEqual(
    again.summary.variants.map((v) => v.metrics),
    r.summary.variants.map((v) => v.metrics),
  );
});

test('aperture-depth run and merge from the command line', async (t) => {
  const out = tempDir();
  const bin = join(ROOT, 'bin/aperture-depth.js');
  const { stdout } = await exec(
    process.execPath,
    [
      bin,
      'run',
      '--config',
      SMOKE,
      '--set',
      'data.scenes=[ArtL, Teddy]',
      '--set',
      'variants=[oracle]',
      '--shard',
      '1/2',
      '--out',
      join(out, 'shard-1'),
    ],
    { cwd: ROOT },
  );
  t.regex(stdout, /wrote .*shard-1: 1 scene x variant result/);
  const csv = readFileSync(join(out, 'shard-1/per_scene.csv'), 'utf8');
  t.regex(csv, /\nTeddy,4,oracle,ok,/); // shard 1 of 2 is the second scene
  const cfg = readFileSync(join(out, 'shard-1/config.yaml'), 'utf8');
  t.regex(cfg, /^# Resolved aperture-depth experiment config/);
  t.regex(cfg, /--set variants=\[oracle\]/);
  const merged = await exec(
    process.execPath,
    [bin, 'merge', join(out, 'shard-1'), '--out', join(out, 'all')],
    { cwd: ROOT },
  );
  t.regex(merged.stderr, /shard\(s\) 0 missing/);
  t.true(existsSync(join(out, 'all/report.html')));
  const bad = await t.throwsAsync(() =>
    exec(
      process.execPath,
      [bin, 'run', '--config', SMOKE, '--set', 'optimizer.iterations=-1', '--out', join(out, 'x')],
      { cwd: ROOT },
    ),
  );
  t.regex(
    String((bad as { stderr?: string }).stderr),
    /aperture-depth: error: --set: optimizer\.iterations: expected a number >= 0, got -1/,
  );
});

test('aperture-depth run --seeds and seeds from the command line', async (t) => {
  const out = tempDir();
  const bin = join(ROOT, 'bin/aperture-depth.js');
  const args = ['--config', SMOKE, '--set', 'data.scenes=[Teddy]', '--set', 'optimizer.iterations=2'];
  const { stdout } = await exec(
    process.execPath,
    [bin, 'run', ...args, '--seeds', '0,1', '--out', join(out, 's')],
    {
      cwd: ROOT,
    },
  );
  t.regex(stdout, /wrote .*s: 2 seed run\(s\) \(seed-0, seed-1\); seeds_summary\.md/);
  t.regex(readFileSync(join(out, 's/seed-1/config.yaml'), 'utf8'), /--set seed=1/);
  const first = JSON.parse(readFileSync(join(out, 's/seeds_summary.json'), 'utf8'));
  t.deepEqual(first.seeds, [0, 1]);
  t.is(first.comparisons[0].variant, 'scale-shift');
  t.is(first.comparisons[0].reference, 'oracle');
  t.is(first.comparisons[0].pairs, 2);
  // The sensor noise and the initial latent follow the seed: the two scale-shift runs differ.
  const ss = first.variants[1].metrics.abs_rel.per_seed;
  t.true(Number.isFinite(ss[0]) && Number.isFinite(ss[1]) && ss[0] !== ss[1]);
  const again = await exec(
    process.execPath,
    [bin, 'seeds', join(out, 's/seed-1'), join(out, 's/seed-0'), '--out', join(out, 'again')],
    { cwd: ROOT },
  );
  t.regex(again.stdout, /seeds_summary\.md: seeds 0, 1, 1 scene/);
  const second = JSON.parse(readFileSync(join(out, 'again/seeds_summary.json'), 'utf8'));
  t.deepEqual(second.variants, first.variants);
  t.deepEqual(second.comparisons, first.comparisons);
  const bad = await t.throwsAsync(() =>
    exec(process.execPath, [bin, 'run', ...args, '--seeds', '0,0', '--out', join(out, 'x')], { cwd: ROOT }),
  );
  t.regex(
    String((bad as { stderr?: string }).stderr),
    /aperture-depth: error: --seeds: seed 0 is listed twice/,
  );
});
