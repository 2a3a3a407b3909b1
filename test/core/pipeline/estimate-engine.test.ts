import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../helpers/run-cli.ts';
import { priorOptions } from '../../../core/config/to-estimate-options.ts';
import {
  onnxRuntimeStatus,
  parseNetworkEngine,
  resolveNetworkEngine,
} from '../../../core/engine/network-engine.ts';
import { ApertureDepthError } from '../../../core/errors.ts';
import { readHdf5 } from '../../../core/io/hdf5.ts';
import { readEstimateConfig } from '../../../core/pipeline/estimate-config.ts';
import { setupEngine } from '../../helpers/engine.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';
import { writeArtlPair } from './helpers/write-pair.ts';

/** `--engine tfjs|onnx|auto` on estimate: one place decides, both engines give the same run, run.json says which. */

const SD2_TINY = fileURLToPath(new URL('../../data/diffusers-tiny/sd2-tiny/checkpoint', import.meta.url));
const tmp = makeTempDir('estimate-engine');
let pair: string;

test.before(async () => {
  await setupEngine();
  process.env.APERTURE_DEPTH_ONNX_CACHE = join(tmp.dir, 'onnx-cache');
  pair = writeArtlPair(join(tmp.dir, 'artl32'), 32);
});
test.after.always(() => tmp.remove());

const quiet = (args: string[]): Promise<string> => runCli(args);

test('engine choice: auto takes onnx when onnxruntime-node loads, else tfjs; an unavailable onnx names --engine', async (t) => {
  const up = async () => ({ available: true, version: '1.30.0' });
  const down = async () => ({ available: false, reason: 'no binding for this platform' });
  t.is((await resolveNetworkEngine(undefined, '--engine', up)).engine, 'onnx');
  t.is((await resolveNetworkEngine('auto', '--engine', down)).engine, 'tfjs');
  t.regex((await resolveNetworkEngine('auto', '--engine', down)).reason, /unavailable.*no binding/);
  t.is((await resolveNetworkEngine('tfjs', '--engine', up)).engine, 'tfjs');
  const err = await t.throwsAsync(resolveNetworkEngine('onnx', '--engine', down), { instanceOf: ApertureDepthError });
  t.is(err!.key, '--engine');
  t.regex(err!.message, /onnxruntime-node.*no binding.*--engine tfjs/);
  t.throws(() => parseNetworkEngine('cuda', 'prior.engine'), { instanceOf: ApertureDepthError, message: /auto, tfjs, onnx/ });
  // here, onnxruntime-node is installed
  t.true((await onnxRuntimeStatus()).available);
  t.is((await resolveNetworkEngine(undefined)).engine, 'onnx');
});

test('the config keys prior.engine and prior.margin reach estimate (--config) and run (priorOptions)', (t) => {
  const cfg = join(tmp.dir, 'engine.yaml');
  writeFileSync(cfg, 'prior:\n  engine: tfjs\n  steps: 1\n');
  t.is(readEstimateConfig(cfg).prior.engine, 'tfjs');
  writeFileSync(cfg, 'prior:\n  engine: gpu\n');
  t.throws(() => readEstimateConfig(cfg), { message: /prior\.engine.*auto, tfjs, onnx/ });
  t.is(priorOptions({ engine: 'onnx' }).engine, 'onnx');
  t.false('engine' in priorOptions({}));
  // prior.margin reaches both the same way
  writeFileSync(cfg, 'prior:\n  margin: 3\n');
  t.is(readEstimateConfig(cfg).prior.margin, 3);
  t.is(priorOptions({ margin: 3 }).prior?.margin, 3);
  writeFileSync(cfg, 'prior:\n  margin: three\n');
  t.throws(() => readEstimateConfig(cfg), { message: /prior\.margin/ });
});

test.serial('estimate --engine onnx: the same loss history as --engine tfjs (3 iterations); run.json records the engine', async (t) => {
  const cfg = join(tmp.dir, 'estimate.yaml');
  writeFileSync(cfg, 'optimizer:\n  iterations: 3\nprior:\n  steps: 1\n  processing_resolution: 0\n');
  const run = async (engine: string) => {
    const out = join(tmp.dir, `out-${engine}`);
    const log = await quiet(['estimate', '--pair', pair, '--out', out, '--model', SD2_TINY, '--config', cfg, '--seed', '5', '--engine', engine]);
    return { log, record: JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) };
  };
  const a = await run('tfjs');
  const b = await run('onnx');
  t.deepEqual(a.record.engine, { name: 'tfjs', requested: 'tfjs', reason: 'requested' });
  t.is(b.record.engine.name, 'onnx');
  t.is(b.record.engine.requested, 'onnx');
  t.regex(b.record.engine.onnxruntime, /^\d+\.\d+/);
  t.is(b.record.engine.native_memory, process.env.MALLOC_MMAP_MAX_ === '0' ? 'retain' : 'system');
  t.regex(b.log, /prior engine: onnx/);
  // loss before each of the 3 steps, then the loss at the returned depth
  const losses = async (engine: string, record: { final_loss: number }) => [
    ...Array.from((await readHdf5(join(tmp.dir, `out-${engine}`, 'result.h5'))).datasets.loss_history!.data as Float64Array),
    record.final_loss,
  ];
  const la = await losses('tfjs', a.record);
  const lb = await losses('onnx', b.record);
  t.is(la.length, 4);
  const rel = la.map((x, i) => Math.abs(x - lb[i]!) / Math.abs(x));
  t.log(`loss tfjs ${la.map((x) => x.toExponential(5)).join(' ')}; onnx relative difference ${rel.map((x) => x.toExponential(2)).join(' ')}`);
  t.true(Math.max(...rel) < 1e-4);
  t.is(b.record.iterations, 3);
});

test.serial('estimate: a prior.margin too wide for the image is refused by its config key; nothing is written', async (t) => {
  const cfg = join(tmp.dir, 'wide-margin.yaml');
  writeFileSync(cfg, 'optimizer:\n  iterations: 1\nprior:\n  steps: 1\n  processing_resolution: 0\n  margin: 500\n');
  const out = join(tmp.dir, 'wide-margin');
  const err = await t.throwsAsync(quiet(['estimate', '--pair', pair, '--out', out, '--model', SD2_TINY, '--config', cfg, '--engine', 'tfjs']), {
    instanceOf: ApertureDepthError,
  });
  t.is(err!.key, 'prior.margin');
  t.regex(err!.message, /prior\.margin: expected an integer >= 0 and below the processed image's short side \(\d+ px\), got 500/);
  t.false(existsSync(join(out, 'run.json')));
});

test.serial('estimate and run --engine: an unknown value is refused by name, with the choices', async (t) => {
  // The same message from every command (prior's is checked in prior-command.test.ts).
  for (const args of [
    ['estimate', '--pair', pair, '--out', join(tmp.dir, 'x')],
    ['run', '--config', 'experiments/configs/paper-table3.yaml', '--out', join(tmp.dir, 'y')],
  ]) {
    const err = await t.throwsAsync(quiet([...args, '--engine', 'cuda']));
    t.regex(err!.message, /--engine: expected one of auto, tfjs, onnx, got "cuda"/, args[0]);
  }
  t.false(existsSync(join(tmp.dir, 'x')) || existsSync(join(tmp.dir, 'y')));
});
