import test from 'ava';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../core/errors.ts';
import { onnxProfileDirFromEnv } from '../../core/engine/network-engine.ts';
import { OnnxNetwork, profileSession, type NetworkTrace } from '../../diffusion/onnx/run-graph.ts';
import { convFlops, readProfiles, summarizeProfiles } from '../../experiments/bench/onnx-profile.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

/** onnxruntime's per-node profiles: written per session on dispose, and summed by op type and Conv shape. */

const tmp = makeTempDir('onnx-profile');
test.after.always(() => tmp.remove());

test('the profile folder comes from APERTURE_DEPTH_ONNX_PROFILE (unset or blank: off)', (t) => {
  t.is(onnxProfileDirFromEnv({}), undefined);
  t.is(onnxProfileDirFromEnv({ APERTURE_DEPTH_ONNX_PROFILE: '  ' }), undefined);
  t.is(onnxProfileDirFromEnv({ APERTURE_DEPTH_ONNX_PROFILE: '/tmp/p' }), '/tmp/p');
});

test('profile file names: network and session kind, hyphenated names included; other files are not sessions', (t) => {
  t.deepEqual(profileSession('vae-decoder-saved-forward-6_2026-12-04_18-23-24_904.json'), {
    network: 'vae-decoder',
    kind: 'saved-forward',
  });
  t.deepEqual(profileSession('unet-vjp-12_x.json'), { network: 'unet', kind: 'vjp' });
  t.is(profileSession('notes.json'), undefined);
});

test('convFlops: 2 x output elements x (input channels / groups x kernel area)', (t) => {
  const e = {
    args: {
      input_type_shape: [{ float: [1, 8, 6, 6] }, { float: [4, 8, 3, 3] }],
      output_type_shape: [{ float: [1, 4, 6, 6] }],
    },
  };
  t.is(convFlops(e), 2 * (4 * 36) * (8 * 9));
  t.is(convFlops({ args: {} }), 0);
});

test('a profiled network writes one profile per session; the summary counts every node run', async (t) => {
  const dir = join(tmp.dir, 'run');
  const trace: NetworkTrace = {
    name: 'two-silus',
    key: 'profile-test',
    inputs: [{ name: 'x', shape: [1, 64] }],
    record: (ops, [x]) => ops.silu(ops.silu(x!)),
  };
  const net = await OnnxNetwork.load(trace, { cacheDir: null, threads: 1, wrt: 'x', profileDir: dir });
  const x = new Float32Array(64).map((_, i) => i / 8 - 4);
  for (let r = 0; r < 3; r++) await net.forward({ x });
  await net.vjp({ x }, new Float32Array(64).fill(1));
  await net.dispose();
  const names = readdirSync(dir);
  // One segment, always kept: forward() runs its saving forward; vjp() its recomputing VJP graph.
  t.deepEqual(names.map((f) => f.replace(/_.*$/, '')).sort(), [
    'two-silus-saved-forward-0',
    'two-silus-vjp-0',
  ]);
  const s = summarizeProfiles(readProfiles(dir));
  t.log([...s.byOp].map(([op, v]) => `${op} x${v.runs}`).join(', '));
  // Three forward runs of a graph of at least 2 nodes, plus the VJP graph's run.
  const runs = [...s.byOp.values()].reduce((a, v) => a + v.runs, 0);
  t.true(runs >= 3 * 2 + 2, `${runs} node runs`);
  t.true(s.kernelUs > 0 && s.runUs >= s.kernelUs * 0.5);
  t.deepEqual([...s.bySession.keys()].sort(), ['two-silus saved-forward', 'two-silus vjp']);
});

test('reading profiles: a missing folder, an empty one and a bad file are errors naming the path', (t) => {
  t.throws(() => readProfiles(join(tmp.dir, 'nope')), { instanceOf: ApertureDepthError, message: /nope/ });
  const dir = join(tmp.dir, 'bad');
  mkdirSync(dir);
  writeFileSync(join(dir, 'notes.txt'), '');
  t.throws(() => readProfiles(dir), { instanceOf: ApertureDepthError, message: /no onnxruntime profiles/ });
  writeFileSync(join(dir, 'x-forward-0_1.json'), '{not json');
  t.throws(() => readProfiles(dir), { instanceOf: ApertureDepthError, message: /x-forward-0_1\.json/ });
});

test('a profile folder that cannot be made fails the load, naming the folder and the setting', async (t) => {
  const file = join(tmp.dir, 'a-file');
  writeFileSync(file, '');
  const trace: NetworkTrace = {
    name: 'one-silu',
    key: 'profile-bad',
    inputs: [{ name: 'x', shape: [1, 4] }],
    record: (ops, [x]) => ops.silu(x!),
  };
  const err = await t.throwsAsync(
    () => OnnxNetwork.load(trace, { cacheDir: null, profileDir: join(file, 'sub') }),
    { instanceOf: ApertureDepthError },
  );
  t.regex(err!.message, /a-file\/sub/);
  t.regex(err!.message, /profileDir/);
});
