import test from 'ava';
import { cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApertureDepthError } from '../../core/errors.ts';
import {
  findComponentWeights,
  openModelFolder,
  parseModelIndex,
} from '../../diffusion/checkpoint/model-folder.ts';
import { KNOWN_MODELS, modelsRoot, resolveModel } from '../../diffusion/checkpoint/registry.ts';
import { emptyPromptTokenIds } from '../../diffusion/marigold/empty-prompt.ts';
import { readSchedulerConfig } from '../../diffusion/schedulers/index.ts';

const SD2 = 'test/data/diffusers-tiny/sd2-tiny/checkpoint';
const MT = 'test/data/diffusers-tiny/marigold-test/checkpoint';

function scratch(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ad-model-folder-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('opens both fixture checkpoints', (t) => {
  const f = openModelFolder(SD2);
  t.is(f.index.className, 'MarigoldDepthPipeline');
  t.is(f.index.defaultDenoisingSteps, 4);
  t.is(f.index.defaultProcessingResolution, 64);
  t.regex(f.unet.weights!.file, /unet\/diffusion_pytorch_model\.safetensors$/);
  t.regex(f.textEncoder.weights!.file, /text_encoder\/model\.safetensors$/);
  t.is(f.unet.weights!.variant, 'fp32');
  t.is(f.scheduler.className, 'DDIMScheduler');
  t.deepEqual(
    f.schedulerDirs.map((d) => d.split('/').at(-1)),
    ['scheduler', 'scheduler_lcm'],
  );
  t.truthy(f.tokenizer);
  const m = openModelFolder(MT);
  t.is(m.scheduler.className, 'LCMScheduler');
  t.is(m.index.defaultDenoisingSteps, 1);
});

test('empty-prompt token ids come from tokenizer/vocab.json, with a flagged fallback', (t) => {
  t.deepEqual(
    emptyPromptTokenIds(join(SD2, 'tokenizer'), join(SD2, 'text_encoder/config.json')).ids,
    [998, 999],
  );
  t.deepEqual(emptyPromptTokenIds(join(MT, 'tokenizer'), join(MT, 'text_encoder/config.json')).ids, [0, 2]);
  const fallback = emptyPromptTokenIds(undefined, join(SD2, 'text_encoder/config.json'));
  t.deepEqual(fallback.ids, [0, 2]);
  t.regex(fallback.warning!, /no tokenizer/);
});

test('tokenizer special tokens as AddedToken objects and tokenizer.json', (t) => {
  const dir = scratch(t);
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ bos_token: { content: '<s>', lstrip: false }, eos_token: { content: '</s>' } }),
  );
  writeFileSync(
    join(dir, 'tokenizer.json'),
    JSON.stringify({ added_tokens: [{ id: 7, content: '<s>' }], model: { vocab: { '</s>': 9 } } }),
  );
  t.deepEqual(emptyPromptTokenIds(dir, 'unused').ids, [7, 9]);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ added_tokens: [] }));
  t.throws(() => emptyPromptTokenIds(dir, 'unused'), {
    instanceOf: ApertureDepthError,
    message: /no id for <s>/,
  });
});

test('fp16 variants, sharded indexes and pickle-only folders', (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, 'diffusion_pytorch_model.fp16.safetensors'), '');
  t.is(findComponentWeights(dir, 'diffusion_pytorch_model').variant, 'fp16');
  writeFileSync(join(dir, 'diffusion_pytorch_model.safetensors.index.json'), '{}');
  t.deepEqual(findComponentWeights(dir, 'diffusion_pytorch_model'), {
    file: join(dir, 'diffusion_pytorch_model.safetensors.index.json'),
    variant: 'fp32',
    sharded: true,
  });
  t.is(findComponentWeights(dir, 'diffusion_pytorch_model', 'fp16').variant, 'fp16');
  const pickled = join(dir, 'pickled');
  mkdirSync(pickled);
  writeFileSync(join(pickled, 'pytorch_model.bin'), '');
  const err = t.throws(() => findComponentWeights(pickled, 'model'), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /pytorch_model\.bin.*safetensors/);
  t.throws(() => findComponentWeights(join(dir, 'nothing'), 'model'), { message: /no weights found/ });
});

test('validation errors name the file and key', (t) => {
  const dir = scratch(t);
  t.throws(() => openModelFolder(join(dir, 'missing')), { message: /model folder not found/ });
  t.throws(() => openModelFolder(dir), { message: /model_index\.json is missing/ });
  const copy = join(dir, 'ckpt');
  cpSync(SD2, copy, { recursive: true });
  renameSync(join(copy, 'vae/config.json'), join(copy, 'vae/config.json.bak'));
  t.throws(() => openModelFolder(copy), { message: /vae\/config\.json: config\.json not found/ });
  renameSync(join(copy, 'vae/config.json.bak'), join(copy, 'vae/config.json'));
  rmSync(join(copy, 'unet/diffusion_pytorch_model.safetensors'));
  t.throws(() => openModelFolder(copy), { message: /unet: no weights found/ });
  t.throws(() => parseModelIndex({ _class_name: 'StableDiffusionPipeline' }, 'mi.json'), {
    message: /mi\.json: _class_name: .*Marigold/,
  });
  t.throws(
    () => parseModelIndex({ _class_name: 'MarigoldNormalsPipeline', prediction_type: 'normals' }, 'mi.json'),
    {
      message: /prediction_type/,
    },
  );
  t.throws(
    () => parseModelIndex({ _class_name: 'MarigoldPipeline', default_denoising_steps: 'four' }, 'mi.json'),
    {
      message: /mi\.json: default_denoising_steps/,
    },
  );
  const noVae = join(dir, 'novae');
  cpSync(SD2, noVae, { recursive: true });
  writeFileSync(
    join(noVae, 'model_index.json'),
    JSON.stringify({ _class_name: 'MarigoldDepthPipeline', unet: ['diffusers', 'UNet2DConditionModel'] }),
  );
  t.throws(() => openModelFolder(noVae), {
    message: /model_index\.json: vae: missing or malformed component entry/,
  });
});

test('real Marigold configs parse (v1.0 DDIM leading, LCM)', (t) => {
  const v10 = parseModelIndex(
    JSON.parse(`{"_class_name":"MarigoldPipeline","unet":["diffusers","UNet2DConditionModel"]}`),
    'model_index.json',
  );
  t.is(v10.defaultDenoisingSteps, undefined);
  const lcm = readSchedulerConfig('test/data/marigold-configs/marigold-depth-lcm-v1-0/scheduler');
  t.is(lcm.className, 'LCMScheduler');
  t.is(lcm.timestepScaling, 10);
});

test('registry: frozen, resolves paths and installed names, never downloads', (t) => {
  t.true(Object.isFrozen(KNOWN_MODELS));
  t.is(KNOWN_MODELS['marigold-depth-v1-0'].repo, 'prs-eth/marigold-depth-v1-0');
  t.is(KNOWN_MODELS['marigold-depth-lcm-v1-0'].scheduler, 'lcm');
  t.truthy(KNOWN_MODELS['marigold-depth-v1-1']);
  const root = scratch(t);
  const env = { APERTURE_DEPTH_MODELS: root };
  t.is(modelsRoot(env), root);
  t.regex(modelsRoot({}), /\.cache\/aperture-depth\/models$/);
  t.is(resolveModel(SD2, env).known, undefined);
  const err = t.throws(() => resolveModel('marigold-depth-lcm-v1-0', env), {
    instanceOf: ApertureDepthError,
  });
  t.regex(err!.message, /not installed/);
  t.regex(
    err!.message,
    new RegExp(
      `huggingface-cli download prs-eth/marigold-depth-lcm-v1-0 --local-dir ${root}/marigold-depth-lcm-v1-0`,
    ),
  );
  t.regex(err!.message, /APERTURE_DEPTH_MODELS/);
  cpSync(SD2, join(root, 'marigold-depth-lcm-v1-0'), { recursive: true });
  const found = resolveModel('marigold-depth-lcm-v1-0', env);
  t.is(found.path, join(root, 'marigold-depth-lcm-v1-0'));
  t.is(found.known?.name, 'marigold-depth-lcm-v1-0');
  t.throws(() => resolveModel('marigold-depth-v9', env), {
    message: /unknown model name; known names: marigold-depth-v1-0/,
  });
  t.throws(() => resolveModel('./no/such/folder', env), { message: /model folder not found/ });
  mkdirSync(join(root, 'marigold-depth-v1-1'));
  t.throws(() => resolveModel('marigold-depth-v1-1', env), {
    message: /no model_index\.json \(incomplete download\?\)/,
  });
});
