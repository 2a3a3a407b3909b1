import { z } from 'zod';

/**
 * The one schema of an experiment config (snake_case, as written in YAML). Every object is strict: an
 * unknown key is an error, so a typo never silently falls back to a default. Defaults are filled on load,
 * so the resolved config written into a run folder states every value the run used.
 *
 * Layout: `backend`, `seed`, `data`, `optics`, `prior`, `optimizer`, `variants`, `metrics`, `output`, `limits`.
 */

const positive = () => z.number().positive();
const nonNegative = () => z.number().nonnegative();
const positiveInt = () => z.number().int().positive();
/** A file or folder; relative values are resolved against the config file that sets them. */
const pathString = () => z.string().min(1);

export const BACKEND_NAMES = ['wasm', 'cpu', 'tensorflow'] as const;
export const VARIANT_TYPES = ['scale-shift', 'full', 'pixel', 'oracle'] as const;
export type VariantType = (typeof VARIANT_TYPES)[number];
export const DATASET_NAMES = ['pairs', 'middlebury2014', 'rgbd-folder', 'nyuv2-labeled'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];
export const RENDERER_NAMES = ['scatter', 'gather', 'layered'] as const;
export const PSF_NAMES = ['disc', 'gaussian'] as const;

// ---------------------------------------------------------------------------------------------------------
// data

/** Keys every dataset accepts: which scenes, and how many. */
const datasetCommon = {
  scenes: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe('keep only these scene ids, in this order (default: every scene of the dataset)'),
  limit: positiveInt().optional().describe('keep at most this many scenes (after `scenes`)'),
};

/** Keys of the RGB-D datasets (simulated into pairs): size and depth range. */
const rgbdCommon = {
  ...datasetCommon,
  downscale: positiveInt()
    .default(1)
    .describe('integer factor: RGB is box-averaged, depth averaged over blocks that are valid throughout'),
  max_depth_m: positive().optional().describe('ground-truth depth beyond this is marked invalid'),
};

const intrinsicsSchema = z
  .strictObject({
    fx: positive().describe('focal length in pixels along x'),
    fy: positive().describe('focal length in pixels along y'),
    cx: z.number().describe('principal point x, pixels'),
    cy: z.number().describe('principal point y, pixels'),
  })
  .describe('pinhole intrinsics of the RGB image, in pixels');
export type IntrinsicsConfig = z.infer<typeof intrinsicsSchema>;

const pairsData = z
  .strictObject({
    name: z.literal('pairs'),
    root: pathString().optional().describe('folder searched recursively for pair.json files'),
    files: z.array(pathString()).min(1).optional().describe('pair.json files (or folders holding one)'),
    ...datasetCommon,
  })
  .refine((d) => d.root !== undefined || d.files !== undefined, {
    message: 'expected `root` (a folder of pair.json files) or `files` (a list of them)',
  })
  .describe('aperture pairs described by pair.json (users\u2019 own captures, or `simulate` output)');

const middleburyData = z
  .strictObject({
    name: z.literal('middlebury2014'),
    root: pathString().describe('folder holding one sub-folder per scene (im0.png, disp0GT.pfm, calib.txt)'),
    mask: z
      .enum(['all', 'nocc'])
      .default('all')
      .describe('ground truth kept: every finite disparity, or only non-occluded pixels (mask0nocc.png)'),
    ...rgbdCommon,
  })
  .describe('Middlebury 2014 stereo scenes turned into metric depth: Z = baseline * f / (d + doffs)');

const depthEncodingSchema = z
  .enum(['plain', 'sun-rotate'])
  .describe(
    'how depth is stored: plain (value / depth_scale), or SUN RGB-D (16-bit rotate right by 3 first)',
  );

const rgbdFrameSchema = z.strictObject({
  id: z.string().min(1).optional().describe('scene id (default: the RGB file name without suffix)'),
  rgb: pathString(),
  depth: pathString(),
  depth_scale: positive().optional(),
  depth_encoding: depthEncodingSchema.optional(),
});

const rgbdFolderData = z
  .strictObject({
    name: z.literal('rgbd-folder'),
    root: pathString().describe('folder of RGB and 16-bit depth PNG files'),
    rgb_suffix: z.string().default('_color').describe('RGB file = <id><rgb_suffix>.(png|jpg|jpeg)'),
    depth_suffix: z.string().default('_depth').describe('depth file = <id><depth_suffix>.png (16-bit)'),
    depth_scale: positive()
      .default(1000)
      .describe('stored units per metre: 1000 for millimetres, 5000 for TUM'),
    depth_encoding: depthEncodingSchema.default('plain'),
    frames: z
      .array(rgbdFrameSchema)
      .min(1)
      .optional()
      .describe('explicit frames (paths relative to root) instead of matching suffixes'),
    intrinsics: intrinsicsSchema.optional().describe('default: PrimeSense 525 px, centred'),
    ...rgbdCommon,
  })
  .describe('RGB + 16-bit depth PNGs with a depth scale (TUM, SUN RGB-D, NYU style)');

const nyuData = z
  .strictObject({
    name: z.literal('nyuv2-labeled'),
    file: pathString().describe('nyu_depth_v2_labeled.mat (MATLAB v7.3 = HDF5)'),
    split: z
      .enum(['test', 'train', 'all', 'file'])
      .default('test')
      .describe(
        'test: the official 654 images (splits.mat testNdxs); train: the other 795; file: split_file',
      ),
    split_file: pathString()
      .optional()
      .describe('text file of 1-based image indices, one per line (split: file)'),
    eigen_crop: z
      .boolean()
      .default(true)
      .describe('evaluate inside the standard crop (rows 45..470, cols 41..600 of 480x640)'),
    ...rgbdCommon,
  })
  .refine((d) => d.split !== 'file' || d.split_file !== undefined, {
    message: 'split: file needs split_file (a text file of 1-based indices)',
    path: ['split_file'],
  })
  .describe('NYU Depth v2 labeled set (1449 RGB-D frames, Kinect)');

export const dataSchema = z
  .discriminatedUnion('name', [pairsData, middleburyData, rgbdFolderData, nyuData])
  .describe('the scenes: a dataset chosen by `name`, with its own options');
export type DataConfig = z.infer<typeof dataSchema>;

// ---------------------------------------------------------------------------------------------------------
// optics (the camera, and the simulation that turns RGB-D scenes into aperture pairs)

const focusSchema = z
  .union([
    positive().describe('focus distance in metres'),
    z.enum(['median', 'mean']).describe('the median (or mean) of the valid ground-truth depth'),
    z.strictObject({ percentile: z.number().min(0).max(100) }).describe('a percentile of the valid depth'),
  ])
  .describe('focus distance: metres, or a rule over the scene\u2019s ground-truth depth');

const noiseSchema = z
  .strictObject({
    sigma: nonNegative().default(0).describe('Gaussian read-noise standard deviation, linear [0, 1] units'),
    photons_per_unit: positive().optional().describe('photons at full scale, for shot noise (absent: none)'),
  })
  .describe('sensor noise added to both simulated images (seeded per scene)');

export const opticsSchema = z
  .strictObject({
    focal_length_mm: positive().default(50),
    pixel_pitch_um: positive()
      .default(6.4)
      .describe(
        'pixel pitch of the dataset images at their stored size (paper camera: 6.4); data.downscale k makes it k times larger',
      ),
    focus: focusSchema.default('median'),
    f_number_aif: positive().default(22).describe('small aperture: the all-in-focus image'),
    f_number_blurred: positive().default(8).describe('large aperture: the defocused image'),
    psf: z.enum(PSF_NAMES).default('disc').describe('PSF of the simulation'),
    renderer: z
      .enum(RENDERER_NAMES)
      .default('layered')
      .describe(
        'renderer of the simulation: layered (occlusion-aware) so that data is not made by the optimizer\u2019s own model',
      ),
    noise: noiseSchema.prefault({}),
  })
  .refine((o) => o.f_number_aif > o.f_number_blurred, {
    message:
      'f_number_aif must be larger than f_number_blurred (the all-in-focus image has the smaller aperture)',
    path: ['f_number_aif'],
  })
  .describe('camera and simulation of RGB-D scenes (ignored for `pairs`, which carry their own camera)');
export type OpticsConfig = z.infer<typeof opticsSchema>;

// ---------------------------------------------------------------------------------------------------------
// prior

export const priorSchema = z
  .strictObject({
    model: z
      .string()
      .min(1)
      .optional()
      .describe(
        'checkpoint folder (diffusers layout) or a known name (marigold-depth-lcm-v1-0, ...); ./ ../ / paths are ' +
          'resolved against the config (default: the embedded default model of `estimate`)',
      ),
    scheduler: z.enum(['lcm', 'ddim']).optional().describe('default: what the checkpoint names'),
    steps: positiveInt()
      .max(1000)
      .optional()
      .describe('denoising steps per prediction (default: the checkpoint\u2019s)'),
    processing_resolution: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('long side the prior runs at; 0 = input size (default: the checkpoint\u2019s, else 768)'),
    margin: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        'reflected margin in processing pixels around the resized image, cropped off the prediction again ' +
          '(for decoders with border artifacts; not in diffusers; default 0)',
      ),
    engine: z
      .enum(['auto', 'tfjs', 'onnx'])
      .optional()
      .describe(
        'executor of the prior networks: onnx (onnxruntime-node graphs), tfjs (the `backend`), or auto (default: ' +
          'onnx when onnxruntime-node loads, else tfjs); `run --engine` sets it',
      ),
  })
  .describe('the diffusion depth prior (full, scale-shift and oracle variants)');
export type PriorConfig = z.infer<typeof priorSchema>;

// ---------------------------------------------------------------------------------------------------------
// optimizer

// Every optimizer key is optional: unset keys take the optimizer's own defaults (optimizers/config.ts), some
// of which depend on the variant and the mapping (the pixel prior's learning rate, the free mapping's step).
// The resolved values of each run are recorded in its run.json.

const lrSchema = z
  .strictObject({
    latent: positive()
      .optional()
      .describe(
        'Adam learning rate of the latent (default: the prior folder\u2019s defocus_defaults.json, else the paper\u2019s 1.5e-3; pixel variant: its own default)',
      ),
    scale_shift: nonNegative()
      .optional()
      .describe(
        'Adam learning rate of the metric scale/shift (paper, bounded mapping: 5e-3; the free mapping has its own default)',
      ),
  })
  .describe('learning rate per parameter group');

const adamSchema = z
  .strictObject({
    beta1: z.number().min(0).lt(1).optional().describe('default 0.9'),
    beta2: z.number().min(0).lt(1).optional().describe('default 0.999'),
    epsilon: positive().optional().describe('default 1e-8'),
  })
  .describe('Adam constants (paper: the defaults)');

const scheduleSchema = z
  .strictObject({
    kind: z.enum(['constant', 'cosine', 'step']),
    warmup: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('cosine: iterations of linear warm-up (default 0)'),
    min_factor: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('cosine: final rate as a fraction of the start (default 0)'),
    every: positiveInt().optional().describe('step: iterations between decays (required for step)'),
    gamma: z.number().gt(0).max(1).optional().describe('step: decay factor (default 0.5)'),
  })
  .refine((s) => s.kind !== 'step' || s.every !== undefined, {
    message: 'a step schedule needs `every`',
    path: ['every'],
  })
  .describe('learning-rate schedule, a factor on every group\u2019s rate (default: constant)');

const earlyStopSchema = z
  .strictObject({
    enabled: z.boolean(),
    patience: positiveInt().optional().describe('iterations without improvement before stopping'),
    min_rel_delta: nonNegative().optional().describe('relative decrease of the best loss that counts'),
    min_iterations: z.number().int().nonnegative().optional().describe('never stop before this many'),
  })
  .describe('stop on a loss plateau (default: off)');

const mappingSchema = z
  .strictObject({
    kind: z
      .enum(['free', 'bounded'])
      .optional()
      .describe('free (default): log-scale and log-shift, no scene bounds; bounded: the paper\u2019s eq. 9'),
    init: z
      .enum(['grid', 'default'])
      .optional()
      .describe(
        'grid: coarse search of the defocus loss; default: a = b = 0 (default: grid for free, default for bounded)',
      ),
    s_min: positive().optional().describe('bounded: upper bound of the shift, metres (paper: 1.49)'),
    s_max: positive().optional().describe('bounded: upper bound of the scale, metres (paper: 3.5)'),
  })
  .describe('relative depth to metres');

const lossSchema = z
  .strictObject({
    kind: z
      .enum(['l2', 'l1', 'charbonnier', 'gradient'])
      .optional()
      .describe('data term (paper and default: l2)'),
    tv_weight: nonNegative().optional().describe('total variation on relative depth (default by variant)'),
    saturation: z
      .union([positive(), z.null()])
      .optional()
      .describe('ignore pixels at or above this linear value in either image; null keeps all (default 0.99)'),
    border: z
      .union([z.number().int().nonnegative(), z.literal('auto')])
      .optional()
      .describe('ignore this many border pixels; auto (default): half the largest blur at the start'),
    depth_edges: z
      .union([
        z.strictObject({
          threshold: positive().optional().describe('relative-depth range in a window that marks an edge'),
          radius: z.union([z.number().int().nonnegative(), z.literal('auto')]).optional(),
        }),
        z.null(),
      ])
      .optional()
      .describe('ignore pixels near depth discontinuities of the initial relative depth; null = off'),
  })
  .describe('the objective');

const gridSchema = z
  .strictObject({
    max_side: z.number().int().min(8).optional().describe('long side of the images the search renders'),
    levels_px: z.array(positive()).min(1).optional().describe('blur levels candidate depths sit at'),
    refine_rounds: z.number().int().nonnegative().optional(),
    basins: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('the best coarse pair and next best local minima to refine and try (Adam on scale/shift, search images); the lowest loss wins'),
    basin_iterations: z.number().int().nonnegative().optional().describe('Adam steps of scale/shift per basin trial'),
  })
  .describe('the coarse scale/shift search that starts the free mapping');

export const optimizerSchema = z
  .strictObject({
    iterations: z
      .number()
      .int()
      .nonnegative()
      .max(1_000_000)
      .optional()
      .describe('Adam steps (paper and default: 200)'),
    lr: lrSchema.optional(),
    adam: adamSchema.optional(),
    schedule: scheduleSchema.optional(),
    early_stop: earlyStopSchema.optional(),
    mapping: mappingSchema.optional(),
    loss: lossSchema.optional(),
    grid: gridSchema.optional(),
    renderer: z
      .enum(['scatter', 'gather', 'layered'])
      .optional()
      .describe(
        'forward model inside the loop: scatter (paper eq. 6), gather or layered (default by variant)',
      ),
    psf: z.enum(PSF_NAMES).optional().describe('PSF of the forward model (paper and default: disc)'),
    relative_blur: z
      .boolean()
      .optional()
      .describe(
        'model the small-aperture image\u2019s own blur (false: treat it as sharp, as the paper does)',
      ),
    scene_side: z
      .enum(['both', 'behind', 'front'])
      .optional()
      .describe(
        'where the scene lies relative to the focus plane, if known (behind = farther; default both)',
      ),
    pixel_init: z
      .enum(['search', 'flat'])
      .optional()
      .describe('pixel variant: how the per-pixel depth starts'),
    oracle_alignment: z
      .enum(['scale', 'scale-shift'])
      .optional()
      .describe('oracle variant: alignment kind (default scale-shift)'),
    checkpoint_every: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('write the whole optimization state every N iterations (0 = never)'),
  })
  .describe('inference-time optimization; unset keys take the optimizer\u2019s defaults');
export type OptimizerSection = z.infer<typeof optimizerSchema>;

// ---------------------------------------------------------------------------------------------------------
// variants

/** Every object key of a schema made optional, recursively, and no defaults: a variant's overrides. */
function overridesOf<T extends z.ZodType>(schema: T): z.ZodType {
  let s: z.ZodType = schema;
  // Defaults belong to the base config; an override states only what it changes.
  for (;;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional) {
      s = (s as unknown as { unwrap(): z.ZodType }).unwrap();
    } else if (s instanceof z.ZodPipe) {
      s = s.in as z.ZodType;
    } else break;
  }
  if (s instanceof z.ZodObject) {
    const shape: Record<string, z.ZodType> = {};
    for (const [k, v] of Object.entries(s.shape as Record<string, z.ZodType>))
      shape[k] = overridesOf(v).optional();
    const out = z.strictObject(shape);
    return s.description ? out.describe(s.description) : out;
  }
  return s;
}

const variantNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const variantObject = z.strictObject({
  name: z
    .string()
    .regex(variantNamePattern, 'a name of letters, digits, dot, dash or underscore')
    .optional()
    .describe('folder and column name (default: the type)'),
  type: z.enum(VARIANT_TYPES),
  prior: overridesOf(priorSchema).optional().describe('changes to `prior` for this variant only'),
  optimizer: overridesOf(optimizerSchema).optional().describe('changes to `optimizer` for this variant only'),
});

export const variantSchema = z
  .union([z.enum(VARIANT_TYPES), variantObject])
  .describe(
    'scale-shift: optimize scale/shift only (paper Table 3 row 1); full: latent too (row 2); pixel: the prior-free ' +
      'baseline; oracle: least-squares alignment of the prior to ground truth',
  );
export type VariantInput = z.infer<typeof variantSchema>;

// ---------------------------------------------------------------------------------------------------------
// metrics, output, limits

export const metricsSchema = z
  .strictObject({
    align: z
      .enum(['none', 'scale', 'scale-shift'])
      .default('none')
      .describe('alignment to ground truth before the metrics (none: metric depth as predicted)'),
    min_depth_m: nonNegative().default(1e-3).describe('ground truth at or below this is ignored'),
    max_depth_m: positive().optional().describe('ground truth beyond this is ignored'),
  })
  .describe('evaluation against ground truth');
export type MetricsConfig = z.infer<typeof metricsSchema>;

export const outputSchema = z
  .strictObject({
    dir: z.string().min(1).optional().describe('run folder (relative to the working directory); --out wins'),
    figures: z
      .boolean()
      .default(true)
      .describe('image | ground truth | prediction | error tiles and loss curves'),
    report: z.boolean().default(true).describe('report.html'),
  })
  .describe('what a run writes');
export type OutputConfig = z.infer<typeof outputSchema>;

export const limitsSchema = z
  .strictObject({
    working_max_side: z
      .number()
      .int()
      .min(8)
      .optional()
      .describe('optimize at a box-downsampled size whose long side is at most this; depth is resized back'),
    max_tensor_bytes: positive()
      .optional()
      .describe('refuse a scene up front when its working image ([H, W, 3] float32) would need more bytes'),
  })
  .describe('resource limits');
export type LimitsConfig = z.infer<typeof limitsSchema>;

// ---------------------------------------------------------------------------------------------------------
// the whole config

export const configSchema = z
  .strictObject({
    backend: z.enum(BACKEND_NAMES).default('wasm').describe('TensorFlow.js backend (--backend wins)'),
    seed: z
      .number()
      .int()
      .nonnegative()
      .max(2 ** 31 - 1)
      .default(0)
      .describe('base seed; each scene derives its own'),
    data: dataSchema,
    optics: opticsSchema.prefault({}),
    prior: priorSchema.prefault({}),
    optimizer: optimizerSchema.prefault({}),
    variants: z.array(variantSchema).min(1).default(['scale-shift', 'full']),
    metrics: metricsSchema.prefault({}),
    output: outputSchema.prefault({}),
    limits: limitsSchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.variants.forEach((v, i) => {
      const name = typeof v === 'string' ? v : (v.name ?? v.type);
      const first = seen.get(name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['variants', i],
          message: `variant name "${name}" is used twice (also variants.${first}); give one a distinct \`name\``,
        });
      } else seen.set(name, i);
    });
  })
  .describe('an aperture-depth experiment');

/** The validated config, defaults filled (snake_case, as in YAML). */
export type ExperimentConfig = z.infer<typeof configSchema>;

/** A variant with its own prior and optimizer settings merged in. */
export interface ResolvedVariant {
  name: string;
  type: VariantType;
  prior: PriorConfig;
  optimizer: OptimizerSection;
}
