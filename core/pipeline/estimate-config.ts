import { ApertureDepthError, check } from '../errors.ts';
import { isPlainObject, readYamlFile } from '../config/yaml-file.ts';
import type { OptimizerConfigInput } from '../../optimizers/config.ts';
import type { ScheduleSpec } from '../../optimizers/schedules.ts';

/** Prior settings an estimate config may carry. */
export interface EstimatePriorSettings {
  model?: string;
  scheduler?: 'ddim' | 'lcm';
  steps?: number;
  processingResolution?: number;
  /** `prior.margin`: reflected margin in processing pixels (`marigoldGeometry`). */
  margin?: number;
  /** `prior.engine`: executor of the networks (`--engine` wins). */
  engine?: 'auto' | 'tfjs' | 'onnx';
}

/** What `--config FILE` contributes to an estimate. */
export interface EstimateFileConfig {
  optimizer: OptimizerConfigInput;
  prior: EstimatePriorSettings;
  checkpointEvery?: number;
  /** `limits.max_tensor_bytes` (`--max-tensor-bytes` wins). */
  maxTensorBytes?: number;
  /** `limits.working_max_side` (`--working-size` wins). */
  workingMaxSide?: number;
}

type Obj = Record<string, unknown>;

/** A strict reader of one YAML mapping: every key must be read, or it is reported as unknown. */
class Section {
  private readonly used = new Set<string>();
  constructor(
    readonly obj: Obj,
    readonly path: string,
    readonly file: string,
  ) {}

  private key(k: string): string {
    return this.path ? `${this.path}.${k}` : k;
  }

  has(k: string): boolean {
    this.used.add(k);
    return this.obj[k] !== undefined;
  }

  number(k: string): number | undefined {
    if (!this.has(k)) return undefined;
    const v = this.obj[k];
    check(typeof v === 'number' && Number.isFinite(v), () => `expected a number, got ${JSON.stringify(v)}`, {
      file: this.file,
      key: this.key(k),
    });
    return v;
  }

  string<T extends string>(k: string, choices?: readonly T[]): T | undefined {
    if (!this.has(k)) return undefined;
    const v = this.obj[k];
    check(
      typeof v === 'string' && (!choices || (choices as readonly string[]).includes(v)),
      () => `expected ${choices ? `one of ${choices.join(', ')}` : 'a string'}, got ${JSON.stringify(v)}`,
      { file: this.file, key: this.key(k) },
    );
    return v as T;
  }

  boolean(k: string): boolean | undefined {
    if (!this.has(k)) return undefined;
    const v = this.obj[k];
    check(typeof v === 'boolean', () => `expected true or false, got ${JSON.stringify(v)}`, {
      file: this.file,
      key: this.key(k),
    });
    return v;
  }

  raw(k: string): unknown {
    this.used.add(k);
    return this.obj[k];
  }

  section(k: string): Section | undefined {
    if (!this.has(k)) return undefined;
    const v = this.obj[k];
    check(isPlainObject(v), () => `expected a mapping, got ${JSON.stringify(v)}`, {
      file: this.file,
      key: this.key(k),
    });
    return new Section(v, this.key(k), this.file);
  }

  /** Throws on any key not read. */
  done(): void {
    for (const k of Object.keys(this.obj)) {
      if (!this.used.has(k))
        throw new ApertureDepthError('unknown key', { file: this.file, key: this.key(k) });
    }
  }
}

const drop = <T extends Obj>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/**
 * Maps the `optimizer` section (snake_case, the experiment config's layout) onto {@link OptimizerConfigInput}.
 * Only keys present are set, so the optimizer's own defaults (which depend on the variant and mapping) stay
 * in force for the rest. Unknown keys are errors naming the file and the key path.
 */
export function optimizerInputFromSection(
  obj: Obj,
  file: string,
  path = 'optimizer',
): { input: OptimizerConfigInput; checkpointEvery?: number } {
  const s = new Section(obj, path, file);
  const input: OptimizerConfigInput = {};
  input.iterations = s.number('iterations');
  input.seed = s.number('seed');
  input.variant = s.string('variant', ['full', 'scale-shift', 'pixel', 'oracle'] as const);
  const lr = s.section('lr');
  if (lr) {
    input.lr = drop({ latent: lr.number('latent'), scaleShift: lr.number('scale_shift') });
    lr.done();
  }
  const adam = s.section('adam');
  if (adam) {
    input.adam = drop({
      beta1: adam.number('beta1'),
      beta2: adam.number('beta2'),
      epsilon: adam.number('epsilon'),
    });
    adam.done();
  }
  const schedule = s.section('schedule');
  if (schedule) {
    const kind = schedule.string('kind', ['constant', 'cosine', 'step'] as const) ?? 'constant';
    const warmup = schedule.number('warmup');
    const minFactor = schedule.number('min_factor');
    const every = schedule.number('every');
    const gamma = schedule.number('gamma');
    schedule.done();
    const spec: ScheduleSpec =
      kind === 'cosine'
        ? drop({ kind, warmup, minFactor })
        : kind === 'step'
          ? drop({ kind, every: every ?? 50, gamma })
          : { kind: 'constant' };
    input.schedule = spec;
  }
  const early = s.section('early_stop');
  if (early) {
    const enabled = early.boolean('enabled') ?? true;
    const o = drop({
      patience: early.number('patience'),
      minRelDelta: early.number('min_rel_delta'),
      minIterations: early.number('min_iterations'),
    });
    early.done();
    input.earlyStopping = enabled ? o : null;
  }
  const mapping = s.section('mapping');
  if (mapping) {
    input.mapping = mapping.string('kind', ['free', 'bounded'] as const);
    input.mappingInit = mapping.string('init', ['grid', 'default'] as const);
    const sMin = mapping.number('s_min');
    const sMax = mapping.number('s_max');
    if (sMin !== undefined || sMax !== undefined) input.bounds = drop({ sMin, sMax });
    mapping.done();
  }
  const loss = s.section('loss');
  if (loss) {
    input.loss = loss.string('kind', ['l2', 'l1', 'charbonnier', 'gradient'] as const);
    input.tvWeight = loss.number('tv_weight');
    const masks: NonNullable<OptimizerConfigInput['masks']> = {};
    if (loss.has('saturation')) {
      const v = loss.raw('saturation');
      check(
        v === null || (typeof v === 'number' && v > 0),
        () => `expected a number > 0 or null, got ${JSON.stringify(v)}`,
        {
          file,
          key: `${path}.loss.saturation`,
        },
      );
      masks.saturation = v as number | null;
    }
    if (loss.has('border')) {
      const v = loss.raw('border');
      check(
        v === 'auto' || (typeof v === 'number' && v >= 0),
        () => `expected auto or a number >= 0, got ${JSON.stringify(v)}`,
        {
          file,
          key: `${path}.loss.border`,
        },
      );
      masks.border = v as number | 'auto';
    }
    if (loss.has('depth_edges')) {
      const v = loss.raw('depth_edges');
      if (v === null || v === false) masks.depthEdges = null;
      else {
        check(isPlainObject(v), () => `expected null or { threshold, radius }, got ${JSON.stringify(v)}`, {
          file,
          key: `${path}.loss.depth_edges`,
        });
        const de = new Section(v, `${path}.loss.depth_edges`, file);
        const threshold = de.number('threshold');
        const radius = de.has('radius') ? (de.raw('radius') as number | 'auto') : undefined;
        de.done();
        masks.depthEdges = drop({ threshold, radius });
      }
    }
    if (Object.keys(masks).length) input.masks = masks;
    loss.done();
  }
  const grid = s.section('grid');
  if (grid) {
    const levels = grid.raw('levels_px');
    check(
      levels === undefined || (Array.isArray(levels) && levels.every((x) => typeof x === 'number')),
      () => 'expected a list of numbers',
      {
        file,
        key: `${path}.grid.levels_px`,
      },
    );
    input.grid = drop({
      maxSide: grid.number('max_side'),
      levelsPx: levels as number[] | undefined,
      refineRounds: grid.number('refine_rounds'),
      basins: grid.number('basins'),
      basinIterations: grid.number('basin_iterations'),
    });
    grid.done();
  }
  input.renderer = s.string('renderer', ['scatter', 'gather', 'layered'] as const);
  input.psf = s.string('psf', ['disc', 'gaussian'] as const);
  input.relativeBlur = s.boolean('relative_blur');
  input.sceneSide = s.string('scene_side', ['both', 'behind', 'front'] as const);
  input.oracleAlignment = s.string('oracle_alignment', ['scale', 'scale-shift'] as const);
  input.pixelInit = s.string('pixel_init', ['search', 'flat'] as const);
  const checkpointEvery = s.number('checkpoint_every');
  s.done();
  return { input: drop(input as Obj) as OptimizerConfigInput, checkpointEvery: checkpointEvery || undefined };
}

/**
 * Reads `--config FILE` for `estimate`: its `optimizer` and `prior` sections (snake_case, as in an
 * experiment config; other top-level sections such as `data` or `variants` are ignored, so an experiment
 * file works as is).
 */
export function readEstimateConfig(file: string): EstimateFileConfig {
  const top = new Section(readYamlFile(file), '', file);
  const opt = top.section('optimizer');
  const { input, checkpointEvery } = opt
    ? optimizerInputFromSection(opt.obj, file)
    : { input: {}, checkpointEvery: undefined };
  const prior: EstimatePriorSettings = {};
  const p = top.section('prior');
  if (p) {
    prior.model = p.string('model');
    prior.scheduler = p.string('scheduler', ['ddim', 'lcm'] as const);
    prior.steps = p.number('steps');
    prior.processingResolution = p.number('processing_resolution');
    prior.margin = p.number('margin');
    prior.engine = p.string('engine', ['auto', 'tfjs', 'onnx'] as const);
    p.done();
  }
  const limits = top.section('limits');
  const maxTensorBytes = limits?.number('max_tensor_bytes');
  const workingMaxSide = limits?.number('working_max_side');
  limits?.done();
  return drop({
    optimizer: input,
    prior: drop(prior as Obj) as EstimatePriorSettings,
    checkpointEvery,
    maxTensorBytes,
    workingMaxSide,
  }) as EstimateFileConfig;
}
