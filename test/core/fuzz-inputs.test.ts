/**
 * Seeded mutation fuzzing of the parsers behind the image parsers (those are in io/fuzz-io.test.ts): pair.json,
 * YAML experiment configs (with `base:` inheritance and `--set`), diffusers `config.json` (UNet, VAE, CLIP
 * text encoder, scheduler), `model_index.json` (through a whole model folder), safetensors files and sharded
 * indexes, and optimizer checkpoints. Every mutant must parse or be refused with an ApertureDepthError naming
 * the file; none may crash, hang (2 s per case) or allocate what a header claims before checking it.
 * FUZZ_SEED=<n> replays another seed; FUZZ_CASES=<n> changes the cases per parser.
 */
import test from 'ava';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../core/config/load.ts';
import { ApertureDepthError } from '../../core/errors.ts';
import { encodeNpy } from '../../core/io/npy.ts';
import { encodePng } from '../../core/io/png.ts';
import { openSafetensors, writeSafetensors } from '../../core/io/safetensors.ts';
import { loadPairSpec } from '../../core/pipeline/pair.ts';
import { readComponentConfig } from '../../diffusion/checkpoint/load-weights.ts';
import { openModelFolder } from '../../diffusion/checkpoint/model-folder.ts';
import { parseClipTextConfig } from '../../diffusion/models/clip/config.ts';
import { parseUNetConfig } from '../../diffusion/models/unet/config.ts';
import { parseVaeConfig } from '../../diffusion/models/vae/config.ts';
import { schedulerFromConfig } from '../../diffusion/schedulers/index.ts';
import { readSchedulerConfig } from '../../diffusion/schedulers/scheduler-config.ts';
import { readCheckpoint, writeCheckpoint } from '../../optimizers/checkpoint.ts';
import {
  pick,
  randInt,
  replaceText,
  runFuzz,
  summarize,
  type FieldEdit,
  type FuzzTarget,
} from '../helpers/fuzz.ts';
import { jsonTextEdits, jsonTreeEdit, yamlTextEdits, yamlTreeEdit } from '../helpers/fuzz-json.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

const tmp = makeTempDir('fuzz-inputs');
test.after.always(tmp.remove);

const SEED = Number(process.env.FUZZ_SEED ?? 20240812);
const CASES = Number(process.env.FUZZ_CASES ?? 3000);
/** The YAML parser is ~10x slower per case than JSON.parse: fewer cases keep the file under a minute. */
const YAML_CASES = Math.min(CASES, 2000);
const enc = (s: string) => new TextEncoder().encode(s);
const CKPT = join(import.meta.dirname, '../data/diffusers-tiny/sd2-tiny/checkpoint');

/** Runs one target and checks the outcome; the counts go to the log (and to the report of issue 8). */
async function fuzz(
  t: import('ava').ExecutionContext,
  target: FuzzTarget,
  seedOffset: number,
  cases = CASES,
): Promise<void> {
  const report = await runFuzz(target, { seed: SEED + seedOffset, cases, perCaseMs: 2000, budgetMs: 20000 });
  t.log(`${summarize(report)} (seed ${SEED + seedOffset})`);
  if (report.cases < cases) t.log(`stopped at the time budget after ${report.cases} of ${cases} cases`);
  t.deepEqual(report.failures.slice(0, 10), [], `${report.failures.length} failures`);
  t.true(report.cases >= Math.min(cases, 500), `only ${report.cases} cases ran`);
  t.true(report.rejected > 0 && report.parsed > 0, 'the mutants reach both outcomes');
}

/** Writes `bytes` to `file`, runs `fn`, removes the file. */
function withFile<T>(file: string, bytes: Uint8Array, fn: () => T): T {
  writeFileSync(file, bytes);
  try {
    return fn();
  } finally {
    rmSync(file, { force: true });
  }
}

// ---------- pair.json ----------
const PAIR_KEYS = [
  'aif',
  'blurred',
  'encoding',
  'camera',
  'f_number_aif',
  'f_number_blurred',
  'exposure_time_aif_s',
  'exposure_time_blurred_s',
  'depth_gt',
  'eval_mask',
  'focal_length_mm',
  'pixel_pitch_um',
  'focus_distance_m',
];
const pairDoc = (extra: Record<string, unknown> = {}) =>
  enc(
    JSON.stringify(
      {
        aif: 'aif.png',
        blurred: 'blurred.png',
        encoding: 'linear',
        camera: { focal_length_mm: 50, pixel_pitch_um: 6.4, focus_distance_m: 1.2 },
        f_number_aif: 22,
        f_number_blurred: 8,
        exposure_time_aif_s: null,
        exposure_time_blurred_s: null,
        depth_gt: 'depth_gt.npy',
        ...extra,
      },
      null,
      2,
    ),
  );

test.serial('pair.json', async (t) => {
  const dir = join(tmp.dir, 'pair');
  mkdirSync(dir, { recursive: true });
  const img = encodePng({ width: 4, height: 3, channels: 3, bitDepth: 8, data: new Uint8Array(36).fill(90) });
  for (const f of ['aif.png', 'blurred.png', 'mask.png']) writeFileSync(join(dir, f), img);
  writeFileSync(
    join(dir, 'depth_gt.npy'),
    encodeNpy({ shape: [3, 4], dtype: 'float32', data: new Float32Array(12).fill(1) }),
  );
  await fuzz(
    t,
    {
      format: 'pair.json',
      seeds: [
        pairDoc(),
        pairDoc({
          encoding: 'srgb',
          exposure_time_aif_s: 0.5,
          exposure_time_blurred_s: 0.0625,
          eval_mask: 'mask.png',
        }),
        pairDoc({ depth_gt: null, simulation: { renderer: 'layered', noise: { sigma: 0.01 } }, notes: 'x' }),
      ],
      parse: (bytes, name) => withFile(name, bytes, () => loadPairSpec(name)),
      nameFor: (i) => join(dir, `pair-${i}.json`),
      mutate: {
        headerBytes: 400,
        fieldEdits: [jsonTreeEdit(PAIR_KEYS), jsonTreeEdit(PAIR_KEYS), ...jsonTextEdits],
      },
    },
    11,
  );
});

// ---------- YAML experiment configs, with base: inheritance ----------
const CONFIG_KEYS = [
  'base',
  'backend',
  'seed',
  'data',
  'optics',
  'prior',
  'optimizer',
  'variants',
  'metrics',
  'output',
  'limits',
  'name',
  'root',
  'files',
  'iterations',
  'processing_resolution',
  'max_tensor_bytes',
  'working_max_side',
  'focus',
  'f_number_aif',
  'f_number_blurred',
  'type',
  'lr',
  'latent',
  'checkpoint_every',
  'model',
  'scenes',
  'limit',
];
const OPTICS_YAML =
  'optics:\n  focal_length_mm: 50\n  pixel_pitch_um: 6.4\n  f_number_aif: 22\n  f_number_blurred: 8\n  focus: median\n';
const PRIOR_YAML =
  'base: optics.yaml\nprior:\n  processing_resolution: 64\n  steps: 1\noptimizer:\n  iterations: 10\n  lr: {latent: 0.0015, scale_shift: 0.005}\n';
const CHILD_YAMLS = [
  'base: [base/prior.yaml]\ndata:\n  name: pairs\n  root: ./pairs\nvariants: [scale-shift, full]\nlimits:\n  max_tensor_bytes: 100000000\n',
  'base:\n  - base/optics.yaml\n  - base/prior.yaml\ndata: {name: middlebury2014, root: ./mb, downscale: 4, scenes: [ArtL]}\noptimizer:\n  iterations: 3\n  schedule: {kind: cosine, warmup: 2}\nvariants:\n  - oracle\n  - {name: ss, type: scale-shift, optimizer: {iterations: 2}}\nseed: 7\n',
  '# comment\nbase: base/optics.yaml\ndata:\n  name: nyuv2-labeled\n  file: ${HOME}/nyu.mat\n  split: test\nprior: {model: ../models/x}\nmetrics: {align: scale-shift, max_depth_m: 10}\noutput: {figures: false}\n',
];

function configTree(name: string): string {
  const dir = join(tmp.dir, name);
  mkdirSync(join(dir, 'base'), { recursive: true });
  writeFileSync(join(dir, 'base/optics.yaml'), OPTICS_YAML);
  writeFileSync(join(dir, 'base/prior.yaml'), PRIOR_YAML);
  return dir;
}

/** A config error may rightly name the base file that set the key at fault: count it as naming the case. */
function namingTree(name: string, files: string[], fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (
      err instanceof ApertureDepthError &&
      !err.message.includes(name) &&
      files.some((f) => err.message.includes(f))
    ) {
      throw new ApertureDepthError(`(via a file of its tree) ${err.message}`, { file: name });
    }
    throw err;
  }
}

test.serial('YAML config (with base: inheritance)', async (t) => {
  const dir = configTree('yaml');
  const bases = [join(dir, 'base/optics.yaml'), join(dir, 'base/prior.yaml')];
  await fuzz(
    t,
    {
      format: 'YAML config',
      seeds: CHILD_YAMLS.map(enc),
      parse: (bytes, name) => withFile(name, bytes, () => namingTree(name, bases, () => loadConfig(name))),
      nameFor: (i) => join(dir, `config-${i}.yaml`),
      mutate: {
        headerBytes: 200,
        fieldEdits: [yamlTreeEdit(CONFIG_KEYS), yamlTreeEdit(CONFIG_KEYS), ...yamlTextEdits],
      },
    },
    12,
    YAML_CASES,
  );
});

test.serial('YAML base file (mutated base under a valid config)', async (t) => {
  const dir = configTree('yaml-base');
  const child = join(dir, 'child.yaml');
  writeFileSync(child, CHILD_YAMLS[1]!);
  const prior = join(dir, 'base/prior.yaml');
  await fuzz(
    t,
    {
      format: 'YAML base',
      seeds: [enc(OPTICS_YAML), enc(PRIOR_YAML)],
      parse: (bytes, name) => {
        writeFileSync(name, bytes);
        try {
          namingTree(name, [child, prior], () => loadConfig(child));
        } finally {
          writeFileSync(name, OPTICS_YAML);
        }
      },
      nameFor: () => join(dir, 'base/optics.yaml'),
      mutate: { headerBytes: 200, fieldEdits: [yamlTreeEdit(CONFIG_KEYS), ...yamlTextEdits] },
    },
    13,
    Math.min(CASES, 1200),
  );
});

test.serial('--set overrides', async (t) => {
  const dir = configTree('yaml-set');
  const child = join(dir, 'child.yaml');
  writeFileSync(child, CHILD_YAMLS[0]!);
  const bases = [child, join(dir, 'base/optics.yaml'), join(dir, 'base/prior.yaml')];
  const dec = new TextDecoder();
  await fuzz(
    t,
    {
      format: '--set',
      seeds: [
        'optimizer.iterations=100',
        'variants=[oracle, {type: full, name: f}]',
        'data.root=../x',
        'limits.max_tensor_bytes=1e9',
        'optics.focus={percentile: 50}',
        'seed=',
      ].map(enc),
      parse: (bytes) => namingTree('--set', bases, () => loadConfig(child, { set: [dec.decode(bytes)] })),
      nameFor: () => '--set',
      mutate: {
        headerBytes: 30,
        fieldEdits: [
          (b, rng) =>
            replaceText(
              b,
              /=.*$/s,
              `=${pick(rng, ['{a: [', '*x', '!!binary x', '1e999', '.nan', '[[[[[[', '-1', '~', "'", '"', '${NOPE_X}'])}`,
              'value',
            ),
        ],
      },
    },
    14,
    YAML_CASES,
  );
});

// ---------- diffusers config.json (UNet, VAE, CLIP text encoder) and scheduler_config.json ----------
const CONFIG_JSON_KEYS = [
  'block_out_channels',
  'down_block_types',
  'up_block_types',
  'layers_per_block',
  'attention_head_dim',
  'num_attention_heads',
  'cross_attention_dim',
  'norm_num_groups',
  'in_channels',
  'out_channels',
  'latent_channels',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'max_position_embeddings',
  'vocab_size',
  'scaling_factor',
  'num_train_timesteps',
  'trained_betas',
  'beta_schedule',
  'timestep_spacing',
  'original_inference_steps',
  '_class_name',
  'transformer_layers_per_block',
  'mid_block_type',
  'conv_in_kernel',
  'time_embedding_dim',
  'sample_size',
];
const jsonEdits = [jsonTreeEdit(CONFIG_JSON_KEYS), jsonTreeEdit(CONFIG_JSON_KEYS), ...jsonTextEdits];
const componentSeeds = (component: string) =>
  ['sd2-tiny', 'marigold-test'].map(
    (m) =>
      new Uint8Array(
        readFileSync(
          join(import.meta.dirname, `../data/diffusers-tiny/${m}/checkpoint/${component}/config.json`),
        ),
      ),
  );

for (const [offset, component, parse] of [
  [15, 'unet', parseUNetConfig],
  [16, 'vae', parseVaeConfig],
  [17, 'text_encoder', parseClipTextConfig],
] as const) {
  test.serial(`config.json (${component})`, async (t) => {
    const dir = join(tmp.dir, `cfg-${component}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'config.json');
    await fuzz(
      t,
      {
        format: `config.json (${component})`,
        seeds: componentSeeds(component),
        parse: (bytes) =>
          withFile(file, bytes, () => {
            const { raw, file: f } = readComponentConfig(dir);
            return parse(raw, f);
          }),
        nameFor: () => file,
        mutate: { headerBytes: 300, fieldEdits: jsonEdits },
      },
      offset,
    );
  });
}

test.serial('scheduler_config.json (parsed, then the schedule built)', async (t) => {
  const dir = join(tmp.dir, 'cfg-scheduler');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'scheduler_config.json');
  await fuzz(
    t,
    {
      format: 'scheduler_config.json',
      seeds: ['scheduler', 'scheduler_lcm'].map(
        (s) => new Uint8Array(readFileSync(join(CKPT, s, 'scheduler_config.json'))),
      ),
      parse: (bytes) =>
        withFile(file, bytes, () => {
          const scheduler = schedulerFromConfig(readSchedulerConfig(dir));
          scheduler.setTimesteps(4);
        }),
      nameFor: () => file,
      mutate: { headerBytes: 300, fieldEdits: jsonEdits },
    },
    18,
  );
});

// ---------- model_index.json, through openModelFolder on a skeleton folder ----------
test.serial('model_index.json (a whole model folder opened)', async (t) => {
  const root = join(tmp.dir, 'model');
  for (const c of ['unet', 'vae', 'text_encoder', 'scheduler', 'scheduler_lcm', 'tokenizer']) {
    cpSync(join(CKPT, c), join(root, c), { recursive: true, filter: (src) => !src.endsWith('.safetensors') });
  }
  for (const [c, f] of [
    ['unet', 'diffusion_pytorch_model'],
    ['vae', 'diffusion_pytorch_model'],
    ['text_encoder', 'model'],
  ]) {
    writeFileSync(join(root, c!, `${f}.safetensors`), ''); // only its existence is checked here
  }
  const file = join(root, 'model_index.json');
  await fuzz(
    t,
    {
      format: 'model_index.json',
      seeds: [new Uint8Array(readFileSync(join(CKPT, 'model_index.json')))],
      parse: (bytes) => withFile(file, bytes, () => openModelFolder(root)),
      nameFor: () => root,
      mutate: {
        headerBytes: 200,
        fieldEdits: [
          jsonTreeEdit([
            '_class_name',
            'prediction_type',
            'default_denoising_steps',
            'default_processing_resolution',
            'unet',
            'vae',
            'scheduler',
          ]),
          ...jsonTextEdits,
        ],
      },
    },
    19,
  );
});

// ---------- safetensors ----------
function safetensorsBytes(
  tensors: Parameters<typeof writeSafetensors>[1],
  metadata?: Record<string, string>,
): Uint8Array {
  const f = join(tmp.dir, `seed-${Math.random().toString(36).slice(2)}.safetensors`);
  writeSafetensors(f, tensors, metadata);
  const b = new Uint8Array(readFileSync(f));
  rmSync(f);
  return b;
}
const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => i / 7 - 1);
const safetensorsSeeds = () => [
  safetensorsBytes({ a: { shape: [2, 3], data: ramp(6) }, b: { shape: [4], data: ramp(4), dtype: 'F16' } }),
  safetensorsBytes(
    {
      w: { shape: [3, 2, 2], data: ramp(12), dtype: 'BF16' },
      ids: { shape: [1, 5], data: ramp(5), dtype: 'I64' },
      e: { shape: [0], data: new Float32Array(0) },
    },
    { format: 'pt', note: 'x' },
  ),
  safetensorsBytes({ s: { shape: [], data: new Float32Array([3]) } }),
];
/** Rewrites the JSON header (structural edit, new length); undefined when the header is already broken. */
const headerEdit =
  (edit: FieldEdit): FieldEdit =>
  (bytes, rng) => {
    if (bytes.length < 8) return undefined;
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    if (n > bytes.length - 8) return undefined;
    const edited = edit(bytes.subarray(8, 8 + n), rng);
    if (!edited) return undefined;
    const out = new Uint8Array(8 + edited.bytes.length + bytes.length - 8 - n);
    new DataView(out.buffer).setBigUint64(0, BigInt(edited.bytes.length), true);
    out.set(edited.bytes, 8);
    out.set(bytes.subarray(8 + n), 8 + edited.bytes.length);
    return { bytes: out, what: `header ${edited.what}` };
  };
const safetensorsEdits: FieldEdit[] = [
  headerEdit(jsonTreeEdit(['dtype', 'shape', 'data_offsets', '__metadata__'])),
  headerEdit(jsonTreeEdit(['dtype', 'shape', 'data_offsets'])),
  headerEdit((b, rng) =>
    replaceText(
      b,
      /"data_offsets":\s*\[\d+,\s*\d+\]/,
      `"data_offsets":[${pick(rng, ['0,100000000000', '4,2', '0,1e999', '-8,0', '0,9007199254740993', '0,0'])}]`,
      'offsets',
    ),
  ),
  headerEdit((b, rng) =>
    replaceText(
      b,
      /"shape":\s*\[[^\]]*\]/,
      `"shape":[${pick(rng, ['100000,100000,10', '1e9', '-1', '0', '1.5', '4294967296', '"2"'])}]`,
      'shape',
    ),
  ),
  headerEdit((b, rng) =>
    replaceText(
      b,
      /"dtype":\s*"[^"]*"/,
      `"dtype":"${pick(rng, ['F8_E4M3', 'C64', 'U64', 'f32', '', 'BOOL', 'I8'])}"`,
      'dtype',
    ),
  ),
  (b, rng) => {
    if (b.length < 8) return undefined;
    const out = b.slice();
    new DataView(out.buffer).setBigUint64(
      0,
      pick(rng, [100_000_000_000n, 0n, 1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(b.length)]),
      true,
    );
    return { bytes: out, what: 'header length' };
  },
];

test.serial('safetensors (header and data)', async (t) => {
  const dir = join(tmp.dir, 'st');
  mkdirSync(dir, { recursive: true });
  await fuzz(
    t,
    {
      format: 'safetensors',
      seeds: safetensorsSeeds(),
      parse: (bytes, name) =>
        withFile(name, bytes, () => {
          const f = openSafetensors(name);
          try {
            for (const n of f.names()) {
              f.info(n);
              f.read(n);
            }
            f.metadata();
          } finally {
            f.close();
          }
        }),
      nameFor: (i) => join(dir, `fuzz-${i}.safetensors`),
      mutate: { headerBytes: 160, fieldEdits: safetensorsEdits },
    },
    20,
  );
});

test.serial('safetensors sharded index (.safetensors.index.json)', async (t) => {
  const dir = join(tmp.dir, 'st-index');
  mkdirSync(dir, { recursive: true });
  const [a, b] = safetensorsSeeds();
  writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), a!);
  writeFileSync(join(dir, 'model-00002-of-00002.safetensors'), b!);
  const index = {
    metadata: { total_size: 100 },
    weight_map: {
      a: 'model-00001-of-00002.safetensors',
      b: 'model-00001-of-00002.safetensors',
      w: 'model-00002-of-00002.safetensors',
      ids: 'model-00002-of-00002.safetensors',
    },
  };
  const file = join(dir, 'model.safetensors.index.json');
  await fuzz(
    t,
    {
      format: 'safetensors index',
      seeds: [enc(JSON.stringify(index, null, 2))],
      parse: (bytes) =>
        withFile(file, bytes, () => {
          const f = openSafetensors(file);
          try {
            for (const n of f.names()) f.read(n);
            f.metadata();
          } finally {
            f.close();
          }
        }),
      nameFor: () => file,
      mutate: {
        headerBytes: 200,
        fieldEdits: [
          jsonTreeEdit(['weight_map', 'metadata', 'a', 'w']),
          jsonTreeEdit(['weight_map']),
          ...jsonTextEdits,
        ],
      },
    },
    21,
  );
});

// ---------- optimizer checkpoints (what --resume reads) ----------
test.serial('checkpoint.json (what --resume reads)', async (t) => {
  const dir = join(tmp.dir, 'ckpt');
  mkdirSync(dir, { recursive: true });
  const seedFile = join(dir, 'seed.json');
  writeCheckpoint(seedFile, {
    iteration: 3,
    params: { latent: { shape: [2, 2], data: ramp(4) }, scale_shift: { shape: [2], data: ramp(2) } },
    adam: {
      step: 3,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      groups: [
        { name: 'latent', lr: 0.05, shape: [2, 2], m: ramp(4), v: ramp(4).map(Math.abs) },
        { name: 'scale_shift', lr: 0.005, shape: [2], m: ramp(2), v: ramp(2).map(Math.abs) },
      ],
    } as never,
    rng: [1, 2, 3, 4],
    lossHistory: [0.3, 0.2, 0.1],
    stopper: null,
    stoppedEarly: false,
    borderPx: 2,
    edgeRadiusPx: null,
    gridInit: { scale: 1, shift: 0.5, loss: 0.01 },
    fingerprint: { variant: 'pixel', shape: [2, 2] },
  });
  const seed = new Uint8Array(readFileSync(seedFile));
  await fuzz(
    t,
    {
      format: 'checkpoint.json',
      seeds: [seed],
      parse: (bytes, name) => withFile(name, bytes, () => readCheckpoint(name)),
      nameFor: (i) => join(dir, `checkpoint-${i}.json`),
      mutate: {
        headerBytes: 200,
        fieldEdits: [
          jsonTreeEdit([
            'iteration',
            'params',
            'adam',
            'groups',
            'shape',
            'data',
            'm',
            'v',
            'format',
            'version',
          ]),
          jsonTreeEdit(),
          ...jsonTextEdits,
        ],
      },
    },
    22,
  );
});

// ---------- headers that claim 100 GB: refused before allocating ----------
const GB100 = 100_000_000_000;

/** Runs `fn`, expects an ApertureDepthError naming `name`, and checks memory did not jump by what was claimed. */
function refusedWithoutAllocating(
  t: import('ava').ExecutionContext,
  name: string,
  fn: () => unknown,
  message?: RegExp,
): void {
  const before = process.memoryUsage();
  const err = t.throws(fn, { instanceOf: ApertureDepthError });
  const after = process.memoryUsage();
  t.true(err!.message.includes(name), err!.message);
  if (message) t.regex(err!.message, message);
  const grew = after.arrayBuffers + after.heapUsed - before.arrayBuffers - before.heapUsed;
  t.true(grew < 256 * 2 ** 20, `memory grew by ${grew} bytes`);
}

test.serial('a safetensors header claiming 100 GB is refused before allocating', (t) => {
  const dir = join(tmp.dir, 'huge');
  mkdirSync(dir, { recursive: true });
  // 1. The header length itself claims 100 GB.
  const lenOnly = new Uint8Array(64);
  new DataView(lenOnly.buffer).setBigUint64(0, BigInt(GB100), true);
  const f1 = join(dir, 'len.safetensors');
  writeFileSync(f1, lenOnly);
  refusedWithoutAllocating(t, f1, () => openSafetensors(f1), /header length 100000000000 runs past the end/);
  // 2. A tensor of 25e9 float32 whose offsets claim 100 GB of data that is not there.
  const header = enc(
    JSON.stringify({ big: { dtype: 'F32', shape: [250000, 100000], data_offsets: [0, GB100] } }),
  );
  const body = new Uint8Array(8 + header.length + 16);
  new DataView(body.buffer).setBigUint64(0, BigInt(header.length), true);
  body.set(header, 8);
  const f2 = join(dir, 'offsets.safetensors');
  writeFileSync(f2, body);
  refusedWithoutAllocating(t, f2, () => openSafetensors(f2), /run past the end of the data/);
});

test.serial(
  'a model folder whose configs claim absurd sizes is refused while loading, before building the network',
  async (t) => {
    const { loadUNet, loadTextEncoder } = await import('../../diffusion/models/load.ts');
    const { setupEngine } = await import('../helpers/engine.ts');
    await setupEngine();
    const dir = join(tmp.dir, 'huge-unet');
    mkdirSync(dir, { recursive: true });
    symlinkSync(
      join(CKPT, 'unet/diffusion_pytorch_model.safetensors'),
      join(dir, 'diffusion_pytorch_model.safetensors'),
    );
    const cfg = JSON.parse(readFileSync(join(CKPT, 'unet/config.json'), 'utf8'));
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ ...cfg, block_out_channels: [320000, 640000, 1280000, 1280000], norm_num_groups: 32 }),
    );
    const before = process.memoryUsage();
    const err = await t.throwsAsync(() => loadUNet(dir), { instanceOf: ApertureDepthError });
    t.regex(err!.message, /huge-unet/);
    const after = process.memoryUsage();
    t.true(after.arrayBuffers - before.arrayBuffers < 256 * 2 ** 20);

    const te = join(tmp.dir, 'huge-te');
    mkdirSync(te, { recursive: true });
    copyFileSync(join(CKPT, 'text_encoder/model.safetensors'), join(te, 'model.safetensors'));
    const teCfg = JSON.parse(readFileSync(join(CKPT, 'text_encoder/config.json'), 'utf8'));
    writeFileSync(
      join(te, 'config.json'),
      JSON.stringify({ ...teCfg, max_position_embeddings: 2 ** 31, vocab_size: 2 ** 31 }),
    );
    const err2 = await t.throwsAsync(() => loadTextEncoder(te), { instanceOf: ApertureDepthError });
    t.regex(err2!.message, /huge-te/);
  },
);

test.serial('a checkpoint naming a parameter of 100 GB (a huge shape) is refused by its data size', (t) => {
  const dir = join(tmp.dir, 'huge-ckpt');
  mkdirSync(dir, { recursive: true });
  const f = join(dir, 'checkpoint.json');
  const base = JSON.parse(readFileSync(join(tmp.dir, 'ckpt/seed.json'), 'utf8'));
  base.params.latent.shape = [250000, 100000];
  writeFileSync(f, JSON.stringify(base));
  refusedWithoutAllocating(t, f, () => readCheckpoint(f));
});

test.serial('fuzz helpers are deterministic for a seed', async (t) => {
  const seeds = [pairDoc()];
  const run = async () => {
    const log: string[] = [];
    await runFuzz(
      {
        format: 'x',
        seeds,
        parse: (b) => log.push(Buffer.from(b).toString('base64')),
        nameFor: (i) => `x${i}`,
        mutate: { fieldEdits: [jsonTreeEdit(PAIR_KEYS)] },
      },
      { seed: 5, cases: 50 },
    );
    return log;
  };
  t.deepEqual(await run(), await run());
  t.is(
    randInt(() => 0.5, 10),
    5,
  );
});
