import { ApertureDepthError, check } from '../core/errors.ts';
import type { AdamOptions } from './adam.ts';
import type { PlateauOptions } from './early-stopping.ts';
import type { LossFn, LossName } from './losses/index.ts';
import type { MappingName, SceneSide } from './mappings/index.ts';
import type { ScheduleSpec } from './schedules.ts';

/**
 * What is optimized (paper Table 3 and the baselines), a configuration, not a fork of the loop:
 * - `full`: the prior's latent and the metric scale/shift (row 2, the method);
 * - `scale-shift`: scale/shift only, the latent frozen at its seeded start (row 1);
 * - `pixel`: per-pixel depth logits (a {@link PixelPrior}) and scale/shift, with a TV term: classical
 *   depth from defocus, no learned prior;
 * - `oracle`: no optimization; the initial relative depth aligned to ground truth by least squares (the
 *   usual monocular evaluation; needs ground truth).
 */
export const VARIANTS = Object.freeze(['full', 'scale-shift', 'pixel', 'oracle'] as const);
export type Variant = (typeof VARIANTS)[number];

/** How the metric mapping starts. */
export type MappingInit = 'grid' | 'default';

/**
 * Every knob of the optimization, with the paper's values as defaults (METHOD.md). A plain object so a
 * config file (YAML) can map onto it key by key; {@link resolveOptimizerConfig} fills the defaults.
 */
export interface OptimizerConfig {
  /** @default 'full' */
  variant: Variant;
  /** Adam steps (paper: 200). @default 200 */
  iterations: number;
  /** Seed of the initial latent. @default 0 */
  seed: number;
  /** Metric mapping: `free` (log-scale/log-shift, no scene bounds) or `bounded` (paper eq. 9). @default 'free' */
  mapping: MappingName;
  /** `grid`: coarse-to-fine search of the defocus loss; `default`: the mapping's own start (a = b = 0). @default 'grid' for free, 'default' for bounded */
  mappingInit: MappingInit;
  /** Bounds of the `bounded` mapping, metres (paper: 1.49 and 3.5). */
  bounds: { sMin: number; sMax: number };
  /**
   * Learning rates per parameter group. Paper: 1.5e-3 latent, 5e-3 scale/shift (its bounded mapping).
   * @default latent 1.5e-3 (pixel prior 0.05); scaleShift 0.02 for `free`, 5e-3 for `bounded`, 0 (fixed) for `pixel`
   */
  lr: { latent: number; scaleShift: number };
  adam: Required<AdamOptions>;
  /** @default { kind: 'constant' } */
  schedule: ScheduleSpec;
  /** Stop on a loss plateau; null = always run every iteration. @default null */
  earlyStopping: PlateauOptions | null;
  /** Data term: a built-in name or a function of the {@link LossContext}. @default 'l2' */
  loss: LossName | LossFn;
  /** TV weight on relative depth (0 = off). @default 0, 1e-3 for the pixel variant */
  tvWeight: number;
  /** Extra terms added to the loss (user regularizers). @default [] */
  regularizers: LossFn[];
  masks: {
    /** Ignore pixels at or above this linear value in either image; null = keep all. @default 0.99 */
    saturation: number | null;
    /** Border width in pixels, or 'auto' (half the largest CoC at the start, at most a quarter of the short side). @default 'auto' */
    border: number | 'auto';
    /**
     * Ignore pixels near depth discontinuities of the initial relative depth (where the scatter model,
     * having no occlusion, cannot fit): a window of `radius` pixels ('auto' = half the largest CoC at the
     * start) whose relative-depth range exceeds `threshold`. Dropped (with a log line) when it would leave
     * under 10 % of the pixels. null = off. @default { threshold: 0.1, radius: 'auto' }
     */
    depthEdges: { threshold: number; radius: number | 'auto' } | null;
  };
  /** Renderer of the forward model (see physics/renderers). @default 'scatter' (the paper's), 'gather' for `pixel` */
  renderer: string;
  /** PSF of the forward model (paper: disc; a Gaussian degraded their results). @default 'disc' */
  psf: 'disc' | 'gaussian';
  /**
   * Model the small-aperture image as blurred too: the large-aperture image is rendered from it with the
   * CoC difference `sqrt(c_b^2 - c_aif^2)` (an effective f-number `1 / sqrt(1/N_b^2 - 1/N_aif^2)`).
   * @default true: on simulated ArtL it cut abs_rel from 0.043 to 0.019 (see optimizers/README.md); false
   * reproduces the paper, which treats the small-aperture image as sharp
   */
  relativeBlur: boolean;
  /**
   * Where the scene lies relative to the focus plane, if known (`behind` = farther than the focus distance).
   * Near and far of the focus plane give the same blur; a relative-depth prior tells them apart through the
   * ordering, the pixel prior cannot (its flat start is ambiguous), so tell it. Restricts the search.
   * @default 'both'
   */
  sceneSide: SceneSide;
  /** The coarse scale/shift search. */
  grid: {
    /** Long side (pixels) of the downscaled images the search renders. @default 48 */
    maxSide: number;
    /** Blur levels (pixels at the search resolution) to place candidate depths at. @default [0.5, 1, 2, 4, 8] */
    levelsPx: number[];
    /** @default 2 */
    refineRounds: number;
    /**
     * Basins to try: the search refines its best pair and the next best local minima of its coarse (near,
     * far) grid, this many in all, runs `basinIterations` Adam steps of scale and shift alone from each (on
     * the search's downsampled images and masks, with the initial relative depth), and starts the
     * optimization where the lowest loss ends. 1 = the search's best pair. @default 1
     */
    basins: number;
    /** Adam iterations of each basin's trial (with `basins` > 1). @default 30 */
    basinIterations: number;
  };
  /**
   * Start of the pixel prior: `search` = per-pixel best of constant-depth renders (classical depth from
   * defocus), `flat` = the seeded flat start. @default 'search'
   */
  pixelInit: 'search' | 'flat';
  /** Alignment used by the `oracle` variant. @default 'scale-shift' */
  oracleAlignment: 'scale' | 'scale-shift';
}

/** A partial config: any subset, nested objects partial too. */
export type OptimizerConfigInput = Partial<
  Omit<OptimizerConfig, 'lr' | 'adam' | 'masks' | 'grid' | 'bounds'>
> & {
  lr?: Partial<OptimizerConfig['lr']>;
  adam?: Partial<OptimizerConfig['adam']>;
  masks?: Partial<Omit<OptimizerConfig['masks'], 'depthEdges'>> & {
    depthEdges?: { threshold?: number; radius?: number | 'auto' } | null;
  };
  grid?: Partial<OptimizerConfig['grid']>;
  bounds?: Partial<OptimizerConfig['bounds']>;
};

/**
 * Defaults that depend on the variant and mapping. The pixel prior keeps its mapping fixed (the logits
 * already span the range, a trainable scale/shift would only add a gauge freedom) and renders with
 * `gather`, where each pixel's own depth picks the kernel that forms it (with `scatter` a pixel's depth
 * only moves light onto its neighbours, a poor per-pixel signal). The free mapping works in log space,
 * where a step is relative: it takes a larger rate than the paper's sigmoid parameters.
 */
function variantDefaults(
  variant: Variant,
  mapping: MappingName,
): { lrLatent: number; lrScaleShift: number; tvWeight: number; renderer: string } {
  if (variant === 'pixel') return { lrLatent: 0.05, lrScaleShift: 0, tvWeight: 1e-3, renderer: 'gather' };
  return {
    lrLatent: 1.5e-3,
    lrScaleShift: mapping === 'free' ? 0.02 : 5e-3,
    tvWeight: 0,
    renderer: 'scatter',
  };
}

/** Fills every default and validates the values (errors name the key). */
export function resolveOptimizerConfig(input: OptimizerConfigInput = {}): OptimizerConfig {
  const variant = input.variant ?? 'full';
  check(
    (VARIANTS as readonly string[]).includes(variant),
    () => `unknown variant "${variant}"; expected one of ${VARIANTS.join(', ')}`,
    {
      key: 'variant',
    },
  );
  const mapping = input.mapping ?? 'free';
  const vd = variantDefaults(variant, mapping);
  const config: OptimizerConfig = {
    variant,
    iterations: input.iterations ?? 200,
    seed: input.seed ?? 0,
    mapping,
    mappingInit: input.mappingInit ?? (mapping === 'free' ? 'grid' : 'default'),
    bounds: { sMin: input.bounds?.sMin ?? 1.49, sMax: input.bounds?.sMax ?? 3.5 },
    lr: { latent: input.lr?.latent ?? vd.lrLatent, scaleShift: input.lr?.scaleShift ?? vd.lrScaleShift },
    adam: {
      beta1: input.adam?.beta1 ?? 0.9,
      beta2: input.adam?.beta2 ?? 0.999,
      epsilon: input.adam?.epsilon ?? 1e-8,
    },
    schedule: input.schedule ?? { kind: 'constant' },
    earlyStopping: input.earlyStopping ?? null,
    loss: input.loss ?? 'l2',
    tvWeight: input.tvWeight ?? vd.tvWeight,
    regularizers: input.regularizers ?? [],
    masks: {
      saturation: input.masks?.saturation === undefined ? 0.99 : input.masks.saturation,
      border: input.masks?.border ?? 'auto',
      depthEdges:
        input.masks?.depthEdges === undefined
          ? { threshold: 0.1, radius: 'auto' }
          : input.masks.depthEdges && {
              threshold: input.masks.depthEdges.threshold ?? 0.1,
              radius: input.masks.depthEdges.radius ?? 'auto',
            },
    },
    renderer: input.renderer ?? vd.renderer,
    psf: input.psf ?? 'disc',
    relativeBlur: input.relativeBlur ?? true,
    sceneSide: input.sceneSide ?? 'both',
    grid: {
      maxSide: input.grid?.maxSide ?? 48,
      levelsPx: input.grid?.levelsPx ?? [0.5, 1, 2, 4, 8],
      refineRounds: input.grid?.refineRounds ?? 2,
      basins: input.grid?.basins ?? 1,
      basinIterations: input.grid?.basinIterations ?? 30,
    },
    pixelInit: input.pixelInit ?? 'search',
    oracleAlignment: input.oracleAlignment ?? 'scale-shift',
  };
  check(
    Number.isInteger(config.iterations) && config.iterations >= 0,
    () => `must be an integer >= 0, got ${config.iterations}`,
    {
      key: 'iterations',
    },
  );
  check(Number.isInteger(config.seed), () => `must be an integer, got ${config.seed}`, { key: 'seed' });
  check(
    ['free', 'bounded'].includes(config.mapping),
    () => `unknown mapping "${config.mapping}"; expected free or bounded`,
    {
      key: 'mapping',
    },
  );
  check(
    ['grid', 'default'].includes(config.mappingInit),
    () => `expected grid or default, got "${config.mappingInit}"`,
    {
      key: 'mappingInit',
    },
  );
  for (const k of ['latent', 'scaleShift'] as const) {
    const v = config.lr[k];
    check(Number.isFinite(v) && v >= 0, () => `must be a finite number >= 0, got ${v}`, { key: `lr.${k}` });
  }
  check(['disc', 'gaussian'].includes(config.psf), () => `expected disc or gaussian, got "${config.psf}"`, {
    key: 'psf',
  });
  check(config.tvWeight >= 0, () => `must be >= 0, got ${config.tvWeight}`, { key: 'tvWeight' });
  const b = config.masks.border;
  check(
    b === 'auto' || (typeof b === 'number' && b >= 0),
    () => `must be 'auto' or a number >= 0, got ${b}`,
    {
      key: 'masks.border',
    },
  );
  const s = config.masks.saturation;
  check(s === null || (typeof s === 'number' && s > 0), () => `must be null or a number > 0, got ${s}`, {
    key: 'masks.saturation',
  });
  const de = config.masks.depthEdges;
  check(
    de === null || (de.threshold > 0 && (de.radius === 'auto' || de.radius >= 0)),
    () => `must be null or { threshold > 0, radius: 'auto' | number >= 0 }, got ${JSON.stringify(de)}`,
    {
      key: 'masks.depthEdges',
    },
  );
  check(config.grid.maxSide >= 8, () => `must be >= 8, got ${config.grid.maxSide}`, { key: 'grid.maxSide' });
  check(Number.isInteger(config.grid.basins) && config.grid.basins >= 1, () => `must be a positive integer, got ${config.grid.basins}`, {
    key: 'grid.basins',
  });
  check(
    Number.isInteger(config.grid.basinIterations) && config.grid.basinIterations >= 0,
    () => `must be a non-negative integer, got ${config.grid.basinIterations}`,
    { key: 'grid.basinIterations' },
  );
  check(
    config.grid.levelsPx.length > 0 && config.grid.levelsPx.every((x) => x > 0),
    () => 'must be positive numbers',
    {
      key: 'grid.levelsPx',
    },
  );
  if (!['scale', 'scale-shift'].includes(config.oracleAlignment)) {
    throw new ApertureDepthError(`expected scale or scale-shift, got "${config.oracleAlignment}"`, {
      key: 'oracleAlignment',
    });
  }
  return config;
}

/** The config as plain JSON (a custom loss function is recorded by name). */
export function configToJson(config: OptimizerConfig): Record<string, unknown> {
  return {
    ...config,
    loss: typeof config.loss === 'function' ? `custom:${config.loss.name || 'anonymous'}` : config.loss,
    regularizers: config.regularizers.map((r) => `custom:${r.name || 'anonymous'}`),
  };
}
