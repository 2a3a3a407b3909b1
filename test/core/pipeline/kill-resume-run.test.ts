/**
 * Kill tests of `aperture-depth run` (issue 8): a three-scene experiment (Middlebury at 1/8 size, simulated
 * in the loop, pixel variant) through the real CLI, killed with SIGKILL at seeded points (after the n-th
 * progress line, at a checkpoint of a later scene, while the summaries and report are written), then
 * `--resume`d: every result is identical to an uninterrupted run (byte for byte, except run times and
 * timestamps, which are removed before comparing), and after every kill each file under a final name is
 * complete. SIGINT stops cleanly (exit 130) with the summaries of the finished scenes written, and --resume
 * ends identically. KILL_SEED=<n> replays other kill points.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readHdf5 } from '../../../core/io/hdf5.ts';
import { makeRng, randInt } from '../../helpers/fuzz.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';
import {
  checkpointIteration,
  listFiles,
  scanOutputs,
  startCli,
  TEMP_NAME,
  waitFor,
} from './helpers/cli-process.ts';
import { MIDDLEBURY } from './run-helpers.ts';

const tmp = makeTempDir('kill-run');
test.after.always(tmp.remove);

const SEED = Number(process.env.KILL_SEED ?? 8);
const SCENES = ['ArtL', 'Teddy', 'Motorcycle'];
const ITERATIONS = 200;
let config: string;
let reference: Promise<string>;

const args = (out: string, resume = false) => [
  'run',
  '--config',
  config,
  '--out',
  out,
  ...(resume ? ['--resume'] : []),
];
const sceneDir = (out: string, scene: string) => join(out, 'scenes', scene, 'pixel');

test.before(() => {
  config = join(tmp.dir, 'kill.yaml');
  writeFileSync(
    config,
    [
      'seed: 2',
      'data:',
      '  name: middlebury2014',
      `  root: ${MIDDLEBURY}`,
      '  downscale: 8',
      `  scenes: [${SCENES.join(', ')}]`,
      'variants: [pixel]',
      'optimizer:',
      `  iterations: ${ITERATIONS}`,
      '  checkpoint_every: 5',
      '',
    ].join('\n'),
  );
  reference = (async () => {
    const out = join(tmp.dir, 'reference');
    const r = await startCli(args(out)).done;
    if (r.code !== 0) throw new Error(`reference run failed (${r.code}): ${r.stderr}`);
    return out;
  })();
});

/** A file's content with what legitimately differs between two runs removed (run times, timestamps, folder). */
function normalized(file: string, out: string): Buffer | string | unknown {
  const name = file.slice(file.lastIndexOf('/') + 1);
  const text = () => readFileSync(file, 'utf8').split(out).join('<out>');
  const dropKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(dropKeys);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => !/runtime|timings_ms|resumed_from|started_at|generated/.test(k))
          .map(([k, x]) => [k, dropKeys(x)]),
      );
    }
    return v;
  };
  if (name === 'per_scene.csv') {
    const rows = text()
      .trimEnd()
      .split('\n')
      .map((l) => l.split(','));
    const col = rows[0]!.indexOf('runtime_s');
    return rows.map((r) => r.filter((_, i) => i !== col).join(','));
  }
  if (name === 'summary.md') {
    // The runtime column of the table.
    return text()
      .split('\n')
      .map((l) =>
        l.startsWith('|')
          ? l
              .split('|')
              .filter((_, i) => i !== 8)
              .join('|')
          : l,
      );
  }
  if (name.endsWith('.json') && name !== 'checkpoint.json') return dropKeys(JSON.parse(text()));
  return readFileSync(file);
}

async function assertSameRun(t: import('ava').ExecutionContext, out: string): Promise<void> {
  const ref = await reference;
  const rel = (dir: string) => listFiles(dir).map((f) => relative(dir, f));
  t.deepEqual(rel(out), rel(ref), 'the same files');
  for (const f of rel(ref)) {
    if (f === 'report.html') continue; // carries the time it was generated; checked complete by the scan
    if (f.endsWith('.h5')) {
      // HDF5 object headers carry modification times: compare the datasets and attributes.
      const [a, b] = [await readHdf5(join(out, f)), await readHdf5(join(ref, f))];
      for (const k of Object.keys(b.datasets)) {
        t.true(
          Buffer.from((a.datasets[k]!.data as Float32Array).buffer).equals(
            Buffer.from((b.datasets[k]!.data as Float32Array).buffer),
          ),
          `${f} ${k}`,
        );
      }
      t.deepEqual(a.attrs, b.attrs, f);
      continue;
    }
    t.deepEqual(
      normalized(join(out, f), out),
      normalized(join(ref, f), ref),
      `${f} differs from the uninterrupted run`,
    );
  }
  t.deepEqual(
    rel(out).filter((f) => TEMP_NAME.test(f.slice(f.lastIndexOf('/') + 1))),
    [],
    'no temp file left',
  );
}

test('SIGKILL after the n-th progress line, in a later scene, and while summarizing; --resume: the same results', async (t) => {
  const rng = makeRng(SEED);
  const out = join(tmp.dir, 'killed');
  const nthLine = 1 + randInt(rng, 4);
  const later = SCENES[1 + randInt(rng, 2)]!;
  const at = 5 + randInt(rng, ITERATIONS / 2);
  const kills: Array<{
    what: string;
    until: (lines: string[]) => boolean;
    resume: boolean;
    maxDelayMs?: number;
  }> = [
    { what: `progress line ${nthLine}`, until: (lines) => lines.length >= nthLine, resume: false },
    {
      what: `${later} checkpoint >= ${at}`,
      until: () => checkpointIteration(join(sceneDir(out, later), 'checkpoint.json')) >= at,
      resume: true,
    },
    // Only the summaries and report.html are left to write then: a few milliseconds.
    {
      what: 'the last scene done, summaries being written',
      until: () => existsSync(join(sceneDir(out, SCENES[2]!), 'done.json')),
      resume: true,
      maxDelayMs: 3,
    },
  ];
  for (const k of kills) {
    const run = startCli(args(out, k.resume));
    const reached = await waitFor(() => k.until(run.lines), run);
    const delayMs = randInt(rng, k.maxDelayMs ?? 150);
    await new Promise((r) => setTimeout(r, delayMs));
    run.child.kill('SIGKILL');
    const r = await run.done;
    t.log(
      `killed at ${k.what} (${reached ? 'reached' : 'not reached'}) + ${delayMs} ms: ${r.signal ?? `exit ${r.code}`}; last line: ${run.lines.at(-1)}`,
    );
    const scan = await scanOutputs(out);
    t.deepEqual(scan.problems, [], `half-written files after killing at ${k.what}`);
    if (scan.temps.length > 0)
      t.log(
        `temp files left (allowed; removed on resume): ${scan.temps.map((f) => relative(out, f)).join(', ')}`,
      );
  }
  const last = await startCli(args(out, true)).done;
  t.is(last.code, 0, last.stderr);
  await assertSameRun(t, out);
});

test('SIGINT during the second scene: exit 130 after its checkpoint, summaries of the first; --resume ends identically', async (t) => {
  const rng = makeRng(SEED + 1);
  const out = join(tmp.dir, 'interrupted');
  const ckpt = join(sceneDir(out, SCENES[1]!), 'checkpoint.json');
  const at = 5 + randInt(rng, ITERATIONS / 2);
  const run = startCli(args(out));
  t.true(await waitFor(() => checkpointIteration(ckpt) >= at, run), 'reached the second scene');
  run.child.kill('SIGINT');
  const r = await run.done;
  t.is(r.code, 130, r.stderr);
  const m =
    /Teddy · pixel: (?:optimizer: )?interrupted \(SIGINT\) at iteration (\d+) of 200; the state is saved in .*checkpoint\.json: rerun with --resume/.exec(
      r.stderr,
    );
  t.truthy(m, r.stderr);
  t.is(checkpointIteration(ckpt), Number(m?.[1]));
  t.true(existsSync(join(sceneDir(out, 'ArtL'), 'done.json')), 'the first scene is finished');
  t.false(existsSync(join(sceneDir(out, 'Teddy'), 'done.json')));
  const csv = readFileSync(join(out, 'per_scene.csv'), 'utf8').trim().split('\n');
  t.is(csv.length, 2, 'per_scene.csv has the finished scene');
  t.deepEqual((await scanOutputs(out)).problems, []);
  const resumed = await startCli(args(out, true)).done;
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, /ArtL: finished before, skipped/);
  t.regex(resumed.stderr, new RegExp(`resuming from iteration ${m?.[1]}`));
  await assertSameRun(t, out);
});
