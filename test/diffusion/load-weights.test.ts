import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setupEngine } from '../helpers/engine.ts';
import { FIXTURES } from '../helpers/npy-fixture.ts';
import { ApertureDepthError } from '../../core/errors.ts';
import { openSafetensors, writeSafetensors, type SafetensorsWriteTensor } from '../../core/io/safetensors.ts';
import {
  createUNet,
  loadTextEncoder,
  loadUNet,
  loadVae,
  parseUNetConfig,
  readComponentConfig,
  tfjsOps,
} from '../../diffusion/models/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'load-weights-test-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.before(async () => {
  await setupEngine();
});

/** Copies a fixture component with its tensors edited by `edit` (name -> tensor map). */
function editedComponent(set: string, comp: string, edit: (m: Map<string, SafetensorsWriteTensor>) => void, file?: string): string {
  const src = `${FIXTURES}/${set}/checkpoint/${comp}`;
  const dir = fs.mkdtempSync(path.join(tmp, `${comp}-`));
  fs.copyFileSync(`${src}/config.json`, `${dir}/config.json`);
  const weightsName = fs.readdirSync(src).find((f) => f.endsWith('.safetensors'))!;
  const f = openSafetensors(`${src}/${weightsName}`);
  const m = new Map<string, SafetensorsWriteTensor>();
  for (const n of f.names()) m.set(n, { shape: f.info(n).shape, data: f.read(n) });
  f.close();
  edit(m);
  writeSafetensors(`${dir}/${file ?? weightsName}`, Object.fromEntries(m));
  return dir;
}

test.serial('a missing weight names the weight and the component folder', async (t) => {
  const dir = editedComponent('sd2-tiny', 'text_encoder', (m) => m.delete('text_model.final_layer_norm.weight'));
  const e = await t.throwsAsync(() => loadTextEncoder(dir), { instanceOf: ApertureDepthError });
  t.regex(e!.message, /text_encoder-.*: text_model\.final_layer_norm\.weight: missing weight/);
});

test.serial('an unexpected weight is rejected by name', async (t) => {
  const dir = editedComponent('sd2-tiny', 'text_encoder', (m) => m.set('text_model.extra.weight', { shape: [1], data: new Float32Array(1) }));
  const e = await t.throwsAsync(() => loadTextEncoder(dir), { instanceOf: ApertureDepthError });
  t.regex(e!.message, /unexpected weight "text_model\.extra\.weight"/);
});

test.serial('a weight of the wrong shape names both shapes', async (t) => {
  const dir = editedComponent('sd2-tiny', 'unet', (m) => m.set('conv_in.weight', { shape: [8, 8, 1, 1], data: new Float32Array(64) }));
  const e = await t.throwsAsync(() => loadUNet(dir), { instanceOf: ApertureDepthError });
  t.regex(e!.message, /unet-.*: conv_in\.weight: weight "conv_in\.weight" has shape \[8, 8, 1, 1\], the config implies \[8, 8, 3, 3\]/);
});

test.serial('an int64 position_ids buffer is tolerated; fp16 sharded-free model.safetensors loads', async (t) => {
  const dir = editedComponent('sd2-tiny', 'text_encoder', (m) =>
    m.set('text_model.embeddings.position_ids', { shape: [1, 77], data: Float32Array.from({ length: 77 }, (_, i) => i), dtype: 'I64' }),
  );
  const enc = await loadTextEncoder(dir);
  const out = tf.tidy(() => enc.forward(tfjsOps, [998, 999]));
  t.deepEqual(out.shape, [1, 2, 32]);
  out.dispose();
  enc.dispose();
});

test.serial('legacy VAE attention names (query/key/value/proj_attn, 1x1-conv shaped) load identically', async (t) => {
  const dir = editedComponent('sd2-tiny', 'vae', (m) => {
    for (const n of [...m.keys()]) {
      const legacy = n.replace(/\.to_q\./, '.query.').replace(/\.to_k\./, '.key.').replace(/\.to_v\./, '.value.').replace(/\.to_out\.0\./, '.proj_attn.');
      if (legacy === n) continue;
      const v = m.get(n)!;
      m.delete(n);
      m.set(legacy, v.shape.length === 2 ? { ...v, shape: [...v.shape, 1, 1] } : v);
    }
  });
  const a = await loadVae(dir);
  const b = await loadVae(`${FIXTURES}/sd2-tiny/checkpoint/vae`);
  const z = tf.randomNormal([1, 3, 2, 4], 0, 1, 'float32', 1);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a.decode(tfjsOps, z), b.decode(tfjsOps, z)))).dataSync()[0]!);
  t.is(diff, 0);
  tf.dispose(z);
  a.dispose();
  b.dispose();
});

test.serial('no weights, or only pickles, is a clear error', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'empty-'));
  fs.copyFileSync(`${FIXTURES}/sd2-tiny/checkpoint/unet/config.json`, `${dir}/config.json`);
  let e = await t.throwsAsync(() => loadUNet(dir), { instanceOf: ApertureDepthError });
  t.regex(e!.message, /no weights file; expected one of diffusion_pytorch_model\.safetensors/);
  fs.writeFileSync(`${dir}/diffusion_pytorch_model.bin`, '');
  e = await t.throwsAsync(() => loadUNet(dir), { instanceOf: ApertureDepthError });
  t.regex(e!.message, /only pickled weights.*convert them to safetensors/);
});

test.serial('config errors name config.json and the key', (t) => {
  const { raw, file } = readComponentConfig(`${FIXTURES}/sd2-tiny/checkpoint/unet`);
  let e = t.throws(() => parseUNetConfig({ ...raw, down_block_types: ['CrossAttnDownBlock2D', 'SimpleCrossAttnDownBlock2D', 'DownBlock2D', 'DownBlock2D'] }, file), {
    instanceOf: ApertureDepthError,
  });
  t.regex(e!.message, /unet\/config\.json: down_block_types\[1\]: unsupported block "SimpleCrossAttnDownBlock2D"/);
  e = t.throws(() => parseUNetConfig({ ...raw, class_embed_type: 'timestep' }, file), { instanceOf: ApertureDepthError });
  t.regex(e!.message, /class_embed_type: "timestep" is not supported/);
  e = t.throws(() => parseUNetConfig({ ...raw, attention_head_dim: [2, 3, 4, 4] }, file), { instanceOf: ApertureDepthError });
  t.regex(e!.message, /attention_head_dim\[1\]: 16 channels not divisible by 3 heads/);
});

test.serial('trainable weights are tf.Variables; dispose frees every tensor', async (t) => {
  const before = tf.memory().numTensors;
  const unet = await loadUNet(`${FIXTURES}/sd2-tiny/checkpoint/unet`, { trainable: true });
  const p = unet.parameters();
  t.is(p.length, 686);
  t.true(p.every((q) => q.trainable && tfjsOps.param(q) instanceof tf.Variable));
  unet.dispose();
  t.is(tf.memory().numTensors, before);
});

test.serial('createUNet: seeded random weights are deterministic and train (variableGrads)', (t) => {
  const { raw } = readComponentConfig(`${FIXTURES}/sd2-tiny/checkpoint/unet`);
  const a = createUNet(raw, 7, { trainable: true });
  const b = createUNet(raw, 7);
  const c = createUNet(raw, 8);
  t.is(a.parameterCount(), b.parameterCount());
  const x = tf.randomNormal([1, 4, 4, 8], 0, 1, 'float32', 2);
  const ehs = tf.randomNormal([1, 2, 32], 0, 1, 'float32', 3);
  const ya = tf.tidy(() => a.forward(tfjsOps, x, 500, ehs).dataSync());
  const yb = tf.tidy(() => b.forward(tfjsOps, x, 500, ehs).dataSync());
  const yc = tf.tidy(() => c.forward(tfjsOps, x, 500, ehs).dataSync());
  t.deepEqual(Array.from(ya), Array.from(yb));
  t.notDeepEqual(Array.from(ya), Array.from(yc));
  const vars = a.parameters().map((q) => tfjsOps.param(q) as tf.Variable);
  const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.mean(tf.square(a.forward(tfjsOps, x, 500, ehs))) as tf.Scalar), vars);
  t.is(Object.keys(grads).length, vars.length);
  const convGrad = grads[vars.find((v) => v.rank === 4)!.name]!;
  t.true(tf.tidy(() => tf.sum(tf.abs(convGrad)).dataSync()[0]!) > 0);
  tf.dispose([value, ...Object.values(grads), x, ehs]);
  for (const m of [a, b, c]) m.dispose();
});

test.serial('a failed load frees the weights it had already uploaded', async (t) => {
  const dir = editedComponent('sd2-tiny', 'unet', (m) => m.delete('conv_out.bias'));
  const before = tf.memory().numTensors;
  await t.throwsAsync(() => loadUNet(dir), { instanceOf: ApertureDepthError, message: /conv_out\.bias: missing weight/ });
  t.is(tf.memory().numTensors, before);
});

test.serial('frozen float32 weights carry their file origin and are read on first use; fp16 and trainable ones are not', async (t) => {
  const dir = editedComponent('sd2-tiny', 'vae', () => undefined); // the fixture (float16) re-saved as float32
  const lazy = await loadVae(dir, { bind: null });
  const eager = await loadVae(dir, { bind: null, trainable: true });
  const half = await loadVae(`${FIXTURES}/sd2-tiny/checkpoint/vae`, { bind: null });
  const file = openSafetensors(`${dir}/diffusion_pytorch_model.safetensors`);
  try {
    const byName = new Map(eager.parameters().map((p) => [p.name, p]));
    for (const p of lazy.parameters()) {
      const info = file.info(p.name);
      t.is(info.dtype, 'F32');
      t.deepEqual(p.origin, { file: path.resolve(info.file), offset: info.offset, byteLength: info.byteLength });
      t.is(byName.get(p.name)!.origin, undefined);
      t.deepEqual(p.hostData(), byName.get(p.name)!.hostData(), p.name);
    }
    t.true(half.parameters().every((p) => p.origin === undefined));
  } finally {
    file.close();
    lazy.dispose();
    eager.dispose();
    half.dispose();
  }
  // A checkpoint cut short after loading: the first read names the file instead of returning garbage.
  const vae = await loadVae(dir, { bind: null });
  fs.truncateSync(`${dir}/diffusion_pytorch_model.safetensors`, 64);
  const err = t.throws(() => vae.parameters().at(-1)!.hostData(), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /shrank since it was opened/);
  t.true(err!.message.includes(dir));
  vae.dispose();
});
