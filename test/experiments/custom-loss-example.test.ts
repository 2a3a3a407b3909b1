import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupEngine } from '../helpers/engine.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';
import { runSimulateCommand } from '../../core/pipeline/simulate-command.ts';

const tmp = makeTempDir('custom-loss');
test.after.always(() => tmp.remove());

test('README example: a user script imports aperture-depth, plugs in its own loss and runs it', async (t) => {
  await setupEngine();
  const { pairFile } = await runSimulateCommand({
    rgb: 'test/data/middlebury2014-q/ArtL/im0.png',
    depth: 'test/data/middlebury2014-q/ArtL/depth0_mm.png',
    mask: 'test/data/middlebury2014-q/ArtL/mask0nocc.png',
    camera: 'test/data/cameras/middlebury-f22-f8.json',
    out: join(tmp.dir, 'pair'),
  });
  const out = join(tmp.dir, 'estimate');
  const stdout = execFileSync(
    process.execPath,
    ['--import=tsx', 'experiments/examples/custom-loss.ts', pairFile, out, '--model', 'test/data/diffusers-tiny/sd2-tiny/checkpoint', '--iterations', '4'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const summary = JSON.parse(stdout.trim().split('\n').pop()!);
  t.is(summary.prior, 'marigold');
  t.true(Number.isFinite(summary.finalLoss) && summary.finalLoss > 0);
  t.true(summary.metrics.count > 50_000);
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  // The custom loss and regularizer are recorded by name in the run record.
  t.regex(JSON.stringify(run), /custom:edgeAwareL1/);
});
