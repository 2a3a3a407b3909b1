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
  .describe('how depth is stored: plain (value / depth_scale), or SUN RGB-D (16-bit rotate right by 3 first)');

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
    depth_scale: positive().default(1000).describe('stored units per metre: 1000 for millimetres, 5000 for TUM'),
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
      .describe('test: the official 654 images (splits.mat testNdxs); train: the other 795; file: split_file'),
    split_file: pathString().optional().describe('text file of 1-based image indices, one per line (split: file)'),
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
      .describe('pixel pitch of the dataset images at their stored size (paper camera: 6.4); data.downscale k makes it k times larger'),
    focus: focusSchema.default('median'),
    f_number_aif: positive().default(22).describe('small aperture: the all-in-focus image'),
    f_number_blurred: positive().default(8).describe('large aperture: the defocused image'),
    psf: z.enum(PSF_NAMES).default('disc').describe('PSF of the simulation'),
    renderer: z
      .enum(RENDERER_NAMES)
      .default('layered')
      .describe('renderer of the simulation: layered (occlusion-aware) so that data is not made by the optimizer\u2019s own model'),
    noise: noiseSchema.prefault({}),
  })
  .refine((o) => o.f_number_aif > o.f_number_blurred, {
    message: 'f_number_aif must be larger than f_number_blurred (the all-in-focus image has the smaller aperture)',
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
      .default('default')
      .describe('checkpoint folder (diffusers layout) or a known name; ./ ../ / paths are resolved against the config'),
    scheduler: z.enum(['lcm', 'ddim']).optional().describe('default: what the checkpoint names'),
    steps: positiveInt().max(1000).default(1).describe('denoising steps per prediction'),
    processing_resolution: z
      .number()
      .int()
      .nonnegative()
      .default(768)
      .describe('long side the prior runs at (0 = input resolution)'),
  })
  .describe('the diffusion depth prior (used by the full variant; oracle uses it too)');
export type PriorConfig = z.infer<typeof priorSchema>;

// ---------------------------------------------------------------------------------------------------------
// optimizer

const lrSchema = z
  .strictObject({
    latent: positive()
      .optional()
      .describe('Adam learning rate of the latent (default by variant: 1.5e-3 as in the paper, 0.05 for pixel)'),
    scale_shift: positive().default(5e-3).describe('Adam learning rate of the metric scale/shift (paper: 5e-3)'),
  })
  .describe('learning rate per parameter group');

const adamSchema = z
  .strictObject({
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    epsilon: positive().default(1e-8),
  })
  .describe('Adam constants (paper: the defaults)');

const scheduleSchema = z
  .strictObject({
    kind: z.enum(['constant', 'cosine', 'step']).default('constant'),
    warmup: z.number().int().nonnegative().default(0).describe('cosine: iterations of linear warm-up'),
    min_factor: z.number().min(0).max(1).default(0).describe('cosine: final rate as a fraction of the start'),
    every: positiveInt().default(50).describe('step: iterations between decays'),
    gamma: z.number().gt(0).max(1).default(0.5).describe('step: decay factor'),
  })
  .describe('learning-rate schedule, a factor on every group\u2019s rate');

const earlyStopSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    patience: positiveInt().default(25).describe('iterations without improvement before stopping'),
    min_rel_delta: nonNegative().default(1e-4).describe('relative decrease of the best loss that counts'),
    min_iterations: z.number().int().nonnegative().default(0).describe('never stop before this many'),
  })
  .describe('stop on a loss plateau');

const mappingSchema = z
  .strictObject({
    kind: z
      .enum(['free', 'bounded'])
      .default('free')
      .describe('free: log-scale and log-shift, no scene bounds; bounded: the paper\u2019s eq. 9'),
    init: z
      .enum(['grid', 'default'])
      .optional()
      .describe('grid: coarse search of the defocus loss; default: a = b = 0 (default: grid for free, default for bounded)'),
    s_min: positive().default(1.49).describe('bounded: upper bound of the shift, metres (paper: 1.49)'),
    s_max: positive().default(3.5).describe('bounded: upper bound of the scale, metres (paper: 3.5)'),
  })
  .describe('relative depth to metres');

const lossSchema = z
  .strictObject({
    kind: z.enum(['l2', 'l1', 'charbonnier', 'gradient']).default('l2').describe('data term (paper: l2)'),
    tv_weight: nonNegative().optional().describe('total variation on relative depth (default by variant: 2e-4 for pixel, else 0)'),
    saturation: z
      .union([positive(), z.null()])
      .default(0.99)
      .describe('ignore pixels at or above this linear value in either image (null: keep all)'),
    border: z
      .union([z.number().int().nonnegative(), z.literal('auto')])
      .default('auto')
      .describe('ignore this many border pixels; auto: half the largest blur at the start'),
  })
  .describe('the objective');

const gridSchema = z
  .strictObject({
    max_side: z.number().int().min(8).default(48).describe('long side of the images the search renders'),
    levels_px: z.array(positive()).min(1).default([0.5, 1, 2, 4, 8]).describe('blur levels candidate depths sit at'),
    refine_rounds: z.number().int().nonnegative().default(2),
  })
  .describe('the coarse scale/shift search that starts the free mapping');

export const optimizerSchema = z
  .strictObject({
    iterations: z.number().int().nonnegative().max(1_000_000).default(200).describe('Adam steps (paper: 200)'),
    lr: lrSchema.prefault({}),
    adam: adamSchema.prefault({}),
    schedule: scheduleSchema.prefault({}),
    early_stop: earlyStopSchema.prefault({}),
    mapping: mappingSchema.prefault({}),
    loss: lossSchema.prefault({}),
    grid: gridSchema.prefault({}),
    renderer: z
      .enum(['scatter', 'gather'])
      .default('scatter')
      .describe('forward model inside the loop: scatter (paper eq. 6) or gather'),
    psf: z.enum(PSF_NAMES).default('disc').describe('PSF of the forward model (paper: disc)'),
    relative_blur: z
      .boolean()
      .default(false)
      .describe('model the small-aperture image\u2019s own blur instead of treating it as sharp'),
    scene_side: z
      .enum(['both', 'behind', 'front'])
      .default('both')
      .describe('where the scene lies relative to the focus plane, if known (behind = farther)'),
    oracle_alignment: z.enum(['scale', 'scale-shift']).default('scale-shift').describe('oracle variant: alignment kind'),
    checkpoint_every: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe('write the whole optimization state every N iterations (0 = never)'),
  })
  .describe('inference-time optimization');
export type OptimizerConfig = z.infer<typeof optimizerSchema>;

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
    for (const [k, v] of Object.entries(s.shape as Record<string, z.ZodType>)) shape[k] = overridesOf(v).optional();
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
    figures: z.boolean().default(true).describe('image | ground truth | prediction | error tiles and loss curves'),
    report: z.boolean().default(true).describe('report.html'),
    save_pair: z.boolean().default(true).describe('keep the simulated pair of each scene (aif.png, blurred.png, ...)'),
  })
  .describe('what a run writes');
export type OutputConfig = z.infer<typeof outputSchema>;

export const limitsSchema = z
  .strictObject({
    max_tensor_bytes: positive()
      .optional()
      .describe('refuse up front when one image at processing resolution would need more (bytes)'),
  })
  .describe('resource limits');
export type LimitsConfig = z.infer<typeof limitsSchema>;

// ---------------------------------------------------------------------------------------------------------
// the whole config

export const configSchema = z
  .strictObject({
    backend: z.enum(BACKEND_NAMES).default('wasm').describe('TensorFlow.js backend (--backend wins)'),
    seed: z.number().int().nonnegative().max(2 ** 31 - 1).default(0).describe('base seed; each scene derives its own'),
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
  optimizer: OptimizerConfig;
}
