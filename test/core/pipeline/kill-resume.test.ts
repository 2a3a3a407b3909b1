/**
 * Kill tests of `aperture-depth estimate` (issue 8): the real CLI in a child process, killed with SIGKILL at
 * seeded points (at a checkpoint iteration plus a random delay, and while the outputs are being written),
 * then `--resume`d until it finishes: the outputs are byte-identical to an uninterrupted run, and after every
 * kill each file under a final name is complete (temp files may be left; the next --resume removes them).
 * SIGINT stops cleanly: exit code 130, a message naming the iteration and the checkpoint, and --resume ends
 * identically. KILL_SEED=<n> replays other kill points. `run` is covered by kill-resume-run.test.ts.
 */
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTempFiles } from '../../../core/io/atomic.ts';
import { readHdf5 } from '../../../core/io/hdf5.ts';
import { estimate } from '../../../core/pipeline/estimate.ts';
import { setupEngine } from '../../helpers/engine.ts';
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
import { writeArtlPair } from './helpers/write-pair.ts';

const tmp = makeTempDir('kill-estimate');
test.after.always(tmp.remove);

const SEED = Number(process.env.KILL_SEED ?? 8);
const ITERATIONS = 90;
let pair: string;
let reference: Promise<string>;

const args = (out: string, resume = false) => [
  'estimate',
  '--pair',
  pair,
  '--out',
  out,
  '--variant',
  'pixel',
  '--iterations',
  String(ITERATIONS),
  '--seed',
  '3',
  '--checkpoint-every',
  '3',
  ...(resume ? ['--resume'] : []),
];

test.before(async () => {
  await setupEngine();
  pair = writeArtlPair(join(tmp.dir, 'pair'), 64);
  // The uninterrupted run, in parallel with the tests that need it.
  reference = (async () => {
    const out = join(tmp.dir, 'reference');
    const r = await startCli(args(out)).done;
    if (r.code !== 0) throw new Error(`reference run failed (${r.code}): ${r.stderr}`);
    return out;
  })();
});

/** Files compared byte for byte; result.h5 and run.json by content (see below). */
const BYTE_IDENTICAL = [
  'depth.npy',
  'depth_mm.png',
  'depth.png',
  'confidence.npy',
  'metrics.json',
  'checkpoint.json',
];

async function assertSameOutputs(t: import('ava').ExecutionContext, out: string): Promise<void> {
  const ref = await reference;
  for (const f of BYTE_IDENTICAL) {
    t.true(
      readFileSync(join(out, f)).equals(readFileSync(join(ref, f))),
      `${f} differs from the uninterrupted run`,
    );
  }
  // HDF5 object headers carry modification times, so the container differs between any two runs: compare
  // every dataset and attribute instead.
  const [a, b] = [await readHdf5(join(out, 'result.h5')), await readHdf5(join(ref, 'result.h5'))];
  t.deepEqual(Object.keys(a.datasets).sort(), Object.keys(b.datasets).sort());
  for (const k of Object.keys(b.datasets)) {
    t.deepEqual(a.datasets[k]!.shape, b.datasets[k]!.shape, k);
    t.true(
      Buffer.from((a.datasets[k]!.data as Float32Array).buffer).equals(
        Buffer.from((b.datasets[k]!.data as Float32Array).buffer),
      ),
      `result.h5 ${k}`,
    );
  }
  t.deepEqual(a.attrs, b.attrs);
  // run.json: the same except timings, where it resumed from and the folder names.
  const norm = (dir: string) => {
    const r = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8').split(dir).join('<out>'));
    delete r.timings_ms;
    delete r.resumed_from;
    return r;
  };
  t.deepEqual(norm(out), norm(ref));
  t.deepEqual(
    listFiles(out).filter((f) => TEMP_NAME.test(f.slice(f.lastIndexOf('/') + 1))),
    [],
    'no temp file left after the last --resume',
  );
}

test('SIGKILL at seeded points (mid-iterations, twice, and while writing outputs), then --resume: identical outputs', async (t) => {
  const rng = makeRng(SEED);
  const out = join(tmp.dir, 'killed');
  const ckpt = join(out, 'checkpoint.json');
  const first = 3 + randInt(rng, ITERATIONS / 3);
  const second = first + 3 + randInt(rng, ITERATIONS / 3);
  const kills: Array<{ what: string; until: () => boolean; resume: boolean }> = [
    { what: `checkpoint >= ${first}`, until: () => checkpointIteration(ckpt) >= first, resume: false },
    { what: `checkpoint >= ${second}`, until: () => checkpointIteration(ckpt) >= second, resume: true },
    // The first output file is there: the others are being written.
    {
      what: 'outputs being written',
      until: () => existsSync(join(out, 'confidence.npy')) || existsSync(join(out, 'depth.npy')),
      resume: true,
    },
  ];
  for (const k of kills) {
    const run = startCli(args(out, k.resume));
    const reached = await waitFor(k.until, run);
    const delayMs = randInt(rng, 120);
    await new Promise((r) => setTimeout(r, delayMs));
    const killed = run.child.kill('SIGKILL');
    const r = await run.done;
    t.true(reached, `${k.what} was reached (${r.stderr.slice(-400)})`);
    t.log(
      `killed at ${k.what} + ${delayMs} ms: checkpoint iteration ${checkpointIteration(ckpt)}, ${r.signal ?? `exit ${r.code}`}`,
    );
    if (!killed || r.signal !== 'SIGKILL') t.log('(the process had already finished)');
    const scan = await scanOutputs(out);
    t.deepEqual(scan.problems, [], `half-written files after killing at ${k.what}`);
    if (scan.temps.length > 0) t.log(`temp files left (allowed; removed on resume): ${scan.temps.length}`);
  }
  const last = await startCli(args(out, true)).done;
  t.is(last.code, 0, last.stderr);
  t.regex(last.stderr, /resuming from iteration \d+/);
  await assertSameOutputs(t, out);
});

test('SIGINT stops after writing a checkpoint (exit 130, message), and --resume ends identically', async (t) => {
  const rng = makeRng(SEED + 1);
  const out = join(tmp.dir, 'interrupted');
  const ckpt = join(out, 'checkpoint.json');
  const at = 6 + randInt(rng, ITERATIONS / 2);
  const run = startCli(args(out));
  t.true(await waitFor(() => checkpointIteration(ckpt) >= at, run), 'reached the iteration');
  run.child.kill('SIGINT');
  const r = await run.done;
  t.is(r.code, 130, r.stderr);
  const m =
    /interrupted \(SIGINT\) at iteration (\d+) of 90; the state is saved in .*checkpoint\.json: rerun with --resume to continue/.exec(
      r.stderr,
    );
  t.truthy(m, r.stderr);
  t.log(`SIGINT after checkpoint ${at}: stopped at iteration ${m?.[1]}`);
  t.is(checkpointIteration(ckpt), Number(m?.[1]), 'the checkpoint holds the iteration it stopped at');
  t.false(existsSync(join(out, 'depth.npy')), 'no outputs of an unfinished run');
  t.deepEqual((await scanOutputs(out)).problems, []);
  const resumed = await startCli(args(out, true)).done;
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, new RegExp(`resuming from iteration ${m?.[1]}`));
  await assertSameOutputs(t, out);
});

test('temp files of a dead writer are ignored by readers and removed by --resume; a live writer’s are kept', async (t) => {
  const exited = startCli(['version']); // a process that has exited: its pid is no writer's
  await exited.done;
  const deadPid = exited.child.pid!;
  const out = join(tmp.dir, 'stale');
  mkdirSync(join(out, 'sub'), { recursive: true });
  const stale = [
    join(out, `.depth.npy.tmp-${deadPid}-abc123`),
    join(out, 'sub', `.run.json.tmp-${deadPid}-zz9`),
  ];
  const live = join(out, `.result.h5.tmp-${process.pid}-live1`);
  for (const f of [...stale, live]) writeFileSync(f, 'half a file');
  t.deepEqual(removeStaleTempFiles(out).sort(), [...stale].sort());
  t.true(existsSync(live), 'a running writer keeps its temp file');
  // estimate --resume in a folder a killed run left: the stale temp goes, the outputs are whole.
  writeFileSync(stale[0]!, 'half a file');
  const r = await estimate({
    pair,
    outDir: out,
    variant: 'pixel',
    iterations: 3,
    resume: true,
    progress: false,
  });
  t.is(r.iterations, 3);
  t.false(existsSync(stale[0]!));
  t.deepEqual((await scanOutputs(out)).problems, []);
});
