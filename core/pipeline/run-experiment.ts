import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApertureDepthError, check } from '../errors.ts';
import { removeStaleTempFiles, writeFileAtomic } from '../io/atomic.ts';
import { InterruptedError } from '../interrupt.ts';
import { readImage, toFloat } from '../io/image.ts';
import { readJsonFile } from '../io/json-file.ts';
import { loadPairSpec } from './pair.ts';
import { configToYaml, parseConfigYaml, type LoadedConfig } from '../config/load.ts';
import type { ExperimentConfig, ResolvedVariant } from '../config/schema.ts';
import type { Dataset, DepthMap, SceneRef } from '../datasets/dataset.ts';
import { createDataset } from '../datasets/registry.ts';
import { linearToDisplay, type Rgb8 } from '../report/colormap.ts';
import { lossPlotSvg } from '../report/loss-plot.ts';
import { writeReport } from '../report/report-html.ts';
import { sceneFigurePng } from '../report/scene-figure.ts';
import { svgToPng } from '../report/svg.ts';
import { versions } from '../run-record/versions.ts';
import { evaluateDepth, readDepthFile, readMaskFile } from './eval-depth.ts';
import {
  readDoneMarker,
  resultsCsv,
  sceneDir,
  sortResults,
  summarize,
  summaryMarkdown,
  writeDoneMarker,
  type MetricValues,
  type RunSummary,
  type SceneResult,
} from './run-results.ts';
import { shardItems, type Shard } from './shard.ts';
import { SimulatedDataset } from './simulated-dataset.ts';

/** What a scene estimator is asked to do: one pair, one variant, outputs into `outDir`. */
export interface SceneEstimateRequest {
  pairFile: string;
  outDir: string;
  variant: ResolvedVariant;
  config: ExperimentConfig;
  /** The run's seed (the optimizer's initial latent). */
  seed: number;
  /** Continue a checkpointed optimization in `outDir` when there is one. */
  resume: boolean;
  /** Iteration progress bar on stderr. */
  progress: boolean | 'auto';
  /** Informational lines (fallbacks, search result, resume point). */
  log?: (line: string) => void;
  /** The config file, recorded in the scene's run record. */
  configFile?: string;
  /** Aborted on SIGINT: the estimator stops after its current iteration with a checkpoint written. */
  signal?: AbortSignal;
}

/** What the runner needs back to evaluate and draw a scene. */
export interface SceneEstimateOutput {
  /** Metric depth, metres, row-major `[height, width]`. */
  depthM: Float32Array;
  width: number;
  height: number;
  lossHistory: number[];
  iterations: number;
  finalLoss: number | null;
  scale: number | null;
  shift: number | null;
  /** Something the reader of the results must know (e.g. a fallback to another prior). */
  note?: string;
}

/** Runs the estimate pipeline on one pair (the default calls `core/pipeline/estimate.ts`). */
export type SceneEstimator = (request: SceneEstimateRequest) => Promise<SceneEstimateOutput>;

export interface RunExperimentOptions {
  loaded: LoadedConfig;
  /** The run folder. */
  outDir: string;
  /** Skip scenes whose outputs and done marker exist; continue checkpointed ones. @default false */
  resume?: boolean;
  /** Run every N-th scene only. */
  shard?: Shard;
  /** @default the estimate pipeline */
  estimator?: SceneEstimator;
  /** Progress lines (stderr in the CLI). @default none */
  log?: (line: string) => void;
  /** Iteration progress bars. @default 'auto' */
  progress?: boolean | 'auto';
  /** Aborting it stops the run cleanly (checkpoint written, summaries up to date) with an `InterruptedError`. */
  signal?: AbortSignal;
}

export interface RunExperimentResult {
  outDir: string;
  rows: SceneResult[];
  summary: RunSummary;
  /** Scene x variant pairs skipped because they were finished (resume). */
  skipped: number;
  failed: number;
}

/** Metadata of a run folder (which shard, which versions), read back by `merge`. */
export interface RunInfo {
  config_file: string;
  overrides: string[];
  shard: Shard | null;
  scenes_in_dataset: number;
  scenes_in_run: string[];
  started_at: string;
  versions: Record<string, string | null>;
}

const RUN_INFO = 'run_info.json';

/** The name of a config file in titles: its base name without `.yaml` / `.yml`. */
export function configName(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(/\.ya?ml$/, '');
}

/** Title of a run in summaries and reports. */
function runTitle(loaded: Pick<LoadedConfig, 'file'>, shard?: Shard | null): string {
  return `aperture-depth: ${configName(loaded.file)}${shard ? ` (shard ${shard.index}/${shard.count})` : ''}`;
}

/** The config with what does not change results removed: output settings. Runs with equal keys are comparable. */
export function comparableConfig(config: ExperimentConfig): Record<string, unknown> {
  const { output: _output, ...rest } = config;
  void _output;
  return JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
}

/** The first key path where two plain values differ, or undefined when they are equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path ? `${path}.${k}` : k,
      );
      if (d !== undefined) return d;
    }
  }
  return path || '(top level)';
}

/**
 * The dataset of a config, seen as pairs: RGB-D datasets are simulated through `optics` into
 * `runDir/scenes/<id>/pair/`.
 */
export async function experimentDataset(config: ExperimentConfig, runDir: string): Promise<Dataset> {
  const dataset = await createDataset(config.data);
  if (config.data.name === 'pairs') return dataset;
  const downscale = 'downscale' in config.data ? config.data.downscale : 1;
  return new SimulatedDataset(
    dataset,
    config.optics,
    config.seed,
    (id) => join(runDir, 'scenes', id, 'pair'),
    downscale,
  );
}

/** The bits of a pair.json the runner reads for evaluation and figures. */
interface PairFiles {
  aif: string;
  encoding: string;
  depthGt?: string;
  evalMask?: string;
}

function pairFiles(pairFile: string): PairFiles {
  const spec = loadPairSpec(pairFile);
  return {
    aif: spec.aif,
    encoding: spec.encoding,
    depthGt: spec.depthGt ?? undefined,
    evalMask: spec.evalMask ?? undefined,
  };
}

/**
 * `limits.max_tensor_bytes`: refuses a scene whose working image (`[H, W, 3]` float32, after
 * `limits.working_max_side`) would exceed the limit, naming the largest working size that fits.
 */
export function checkTensorLimit(aifFile: string, config: ExperimentConfig): void {
  const max = config.limits.max_tensor_bytes;
  if (max === undefined) return;
  const img = readImage(aifFile);
  const side = config.limits.working_max_side;
  const k = side ? Math.max(1, Math.ceil(Math.max(img.width, img.height) / side)) : 1;
  const [w, h] = [Math.floor(img.width / k), Math.floor(img.height / k)];
  const bytes = w * h * 3 * 4;
  if (bytes <= max) return;
  const fit = Math.floor(Math.max(w, h) * Math.sqrt(max / bytes));
  throw new ApertureDepthError(
    `the working image ${w}x${h}x3 float32 needs ${bytes} bytes, over limits.max_tensor_bytes = ${max}; ` +
      `set limits.working_max_side to at most ${fit} (or raise the limit)`,
    { file: aifFile, key: 'limits.max_tensor_bytes' },
  );
}

function displayImage(files: PairFiles): Rgb8 {
  const img = toFloat(readImage(files.aif));
  if (files.encoding === 'linear') return linearToDisplay(img.data, img.width, img.height, img.channels);
  const data = new Uint8Array(img.width * img.height * 3);
  for (let i = 0; i < img.width * img.height; i++) {
    for (let c = 0; c < 3; c++)
      data[i * 3 + c] = Math.round(img.data[i * img.channels + (img.channels === 1 ? 0 : c)]! * 255);
  }
  return { width: img.width, height: img.height, data };
}

/** Metrics of one prediction under the config's `metrics` section, or null without ground truth. */
function sceneMetrics(
  pred: DepthMap,
  gt: DepthMap | undefined,
  mask: Uint8Array | undefined,
  config: ExperimentConfig,
): MetricValues | null {
  if (!gt) return null;
  const r = evaluateDepth(pred, gt, {
    align: config.metrics.align,
    minDepthM: config.metrics.min_depth_m,
    maxDepthM: config.metrics.max_depth_m,
    mask,
  });
  const { align: _a, scale: _s, shift: _t, ...metrics } = r;
  void _a;
  void _s;
  void _t;
  return metrics;
}

/** Writes per_scene.csv, summary.json and summary.md for `rows` (atomically). */
export function writeSummaries(
  runDir: string,
  rows: SceneResult[],
  variants: readonly { name: string; type: string }[],
  title: string,
  extra: Record<string, unknown> = {},
): RunSummary {
  const sorted = sortResults(
    rows,
    variants.map((v) => v.name),
  );
  const summary = summarize(sorted, variants);
  writeFileAtomic(join(runDir, 'per_scene.csv'), resultsCsv(sorted));
  writeFileAtomic(
    join(runDir, 'summary.json'),
    `${JSON.stringify({ title, ...extra, ...summary }, null, 2)}\n`,
  );
  writeFileAtomic(join(runDir, 'summary.md'), summaryMarkdown(summary, title));
  return summary;
}

/**
 * Checks a run folder before writing into it: a folder that already holds a run is continued only with
 * `resume`, and only with the same config (except output settings) and shard.
 */
function prepareRunDir(outDir: string, loaded: LoadedConfig, resume: boolean, shard?: Shard): void {
  const cfgPath = join(outDir, 'config.yaml');
  if (!existsSync(cfgPath)) return;
  check(
    resume,
    () =>
      'this folder already holds a run (config.yaml); pass --resume to finish it, or choose another --out',
    {
      file: outDir,
      key: '--out',
    },
  );
  const previous = parseConfigYaml(readFileSync(cfgPath, 'utf8'), cfgPath);
  const diff = firstDifference(comparableConfig(previous.config), comparableConfig(loaded.config));
  check(
    diff === undefined,
    () => `--resume with a different config: ${diff} differs from the run's config.yaml`,
    {
      file: cfgPath,
      key: diff,
    },
  );
  const infoPath = join(outDir, RUN_INFO);
  if (existsSync(infoPath)) {
    const info = readJsonFile(infoPath, 'run info') as RunInfo;
    const was = info.shard ? `${info.shard.index}/${info.shard.count}` : 'none';
    const now = shard ? `${shard.index}/${shard.count}` : 'none';
    check(was === now, () => `--resume with --shard ${now}, but this folder ran shard ${was}`, {
      file: infoPath,
      key: '--shard',
    });
  }
}

/**
 * Runs every scene x variant of a config (or of one shard), writing into `outDir`:
 * `config.yaml` (resolved; rerunning it reproduces the run), `run_info.json`, per-scene outputs in
 * `scenes/<scene>/<variant>/` (as `estimate` writes them, plus `figure.png`, `loss.png` and `done.json`),
 * and after every scene `per_scene.csv`, `summary.json`, `summary.md`; `report.html` at the end.
 * A scene that fails is recorded (status failed, not marked done) and the run goes on.
 */
export async function runExperiment(options: RunExperimentOptions): Promise<RunExperimentResult> {
  const { loaded } = options;
  const { config, variants } = loaded;
  const outDir = resolve(options.outDir);
  const resume = options.resume ?? false;
  const log = options.log ?? (() => {});
  const estimator = options.estimator ?? (await defaultEstimator());
  prepareRunDir(outDir, loaded, resume, options.shard);
  mkdirSync(outDir, { recursive: true });
  if (resume) removeStaleTempFiles(outDir, 4); // what a killed run left half-written
  writeFileAtomic(join(outDir, 'config.yaml'), configToYaml(loaded));

  // 1. Scenes of this shard, in dataset order. [refs]
  const dataset = await experimentDataset(config, outDir);
  const all = dataset.scenes();
  const refs: SceneRef[] = shardItems(all, options.shard);
  const info: RunInfo = {
    config_file: loaded.file,
    overrides: loaded.overrides,
    shard: options.shard ?? null,
    scenes_in_dataset: all.length,
    scenes_in_run: refs.map((r) => r.id),
    started_at: new Date().toISOString(),
    versions: versions(),
  };
  writeFileAtomic(join(outDir, RUN_INFO), `${JSON.stringify(info, null, 2)}\n`);
  const title = runTitle(loaded, options.shard);
  const variantInfo = variants.map((v) => ({ name: v.name, type: v.type }));
  const extra = { config_file: loaded.file, shard: options.shard ?? null };

  // 2. Every scene x variant: skip finished ones, estimate, evaluate, draw, mark done.
  const rows: SceneResult[] = [];
  let skipped = 0;
  let failed = 0;
  for (const [k, ref] of refs.entries()) {
    if (options.signal?.aborted) throw interrupted(outDir, k, refs.length);
    const pending = variants.filter((v) => {
      const done = resume ? readDoneMarker(outDir, ref.id, v.name) : undefined;
      if (done) rows.push(done);
      return !done;
    });
    skipped += variants.length - pending.length;
    if (pending.length === 0) {
      log(`[${k + 1}/${refs.length}] ${ref.id}: finished before, skipped`);
      continue;
    }
    let pairFile: string;
    let files: PairFiles;
    let gt: DepthMap | undefined;
    let mask: Uint8Array | undefined;
    try {
      const scene = await dataset.load(ref);
      check(scene.kind === 'pair', () => `scene ${ref.id} did not become a pair`, { key: 'data' });
      pairFile = scene.pairFile;
      files = pairFiles(pairFile);
      checkTensorLimit(files.aif, config);
      gt = files.depthGt ? readDepthFile(files.depthGt, 'depth_gt') : undefined;
      mask = files.evalMask ? readMaskFile(files.evalMask).data : undefined;
    } catch (err) {
      for (const v of pending) rows.push(failedRow(ref, v, err, 0));
      failed += pending.length;
      log(`[${k + 1}/${refs.length}] ${ref.id}: cannot load: ${(err as Error).message}`);
      writeSummaries(outDir, rows, variantInfo, title, extra);
      continue;
    }
    for (const v of pending) {
      const dir = sceneDir(ref.id, v.name);
      const abs = join(outDir, dir);
      log(`[${k + 1}/${refs.length}] ${ref.id} · ${v.name} ...`);
      const t0 = performance.now();
      try {
        const est = await estimator({
          pairFile,
          outDir: abs,
          variant: v,
          config,
          seed: config.seed,
          resume,
          progress: options.progress ?? 'auto',
          log: (line) => log(`    ${line}`),
          configFile: loaded.file,
          signal: options.signal,
        });
        const runtime = (performance.now() - t0) / 1000;
        const pred: DepthMap = { width: est.width, height: est.height, data: est.depthM };
        const metrics = sceneMetrics(pred, gt, mask, config);
        if (config.output.figures) {
          const title2 =
            `${ref.id} · ${v.name}` +
            (metrics
              ? ` · RMSE ${metrics.rmse.toFixed(3)} m · REL ${metrics.abs_rel.toFixed(3)} · δ1 ${metrics.delta1.toFixed(3)}`
              : '');
          writeFileAtomic(
            join(abs, 'figure.png'),
            sceneFigurePng({
              image: displayImage(files),
              gt: gt?.data,
              pred: pred.data,
              width: pred.width,
              height: pred.height,
              evalMask: mask,
              title: title2,
            }),
          );
          if (est.lossHistory.length > 0) {
            const png = svgToPng(
              lossPlotSvg([{ name: v.name, values: est.lossHistory }], `${ref.id} · ${v.name}: loss`),
            );
            if (png) writeFileAtomic(join(abs, 'loss.png'), png);
          }
        }
        const row: SceneResult = {
          scene: ref.id,
          index: ref.index,
          variant: v.name,
          status: 'ok',
          metrics,
          runtime_s: runtime,
          iterations: est.iterations,
          final_loss: est.finalLoss,
          scale: est.scale,
          shift: est.shift,
          dir,
          ...(est.note ? { note: est.note } : {}),
        };
        writeDoneMarker(outDir, row);
        rows.push(row);
        log(
          `[${k + 1}/${refs.length}] ${ref.id} · ${v.name}: ${runtime.toFixed(1)} s` +
            (metrics ? `, RMSE ${metrics.rmse.toFixed(3)} m, REL ${metrics.abs_rel.toFixed(3)}` : ''),
        );
      } catch (err) {
        if (err instanceof InterruptedError) {
          writeSummaries(outDir, rows, variantInfo, title, extra);
          throw new InterruptedError(`${ref.id} · ${v.name}: ${err.message}`, {
            file: outDir,
            key: '--resume',
          });
        }
        if (!(err instanceof ApertureDepthError) && !(err instanceof Error)) throw err;
        failed++;
        rows.push(failedRow(ref, v, err, (performance.now() - t0) / 1000));
        log(`[${k + 1}/${refs.length}] ${ref.id} · ${v.name}: failed: ${(err as Error).message}`);
      }
      writeSummaries(outDir, rows, variantInfo, title, extra);
    }
  }

  // 3. Summaries (also when every scene was skipped) and the report.
  const summary = writeSummaries(outDir, rows, variantInfo, title, extra);
  if (config.output.report) {
    writeReport(outDir, {
      title,
      summary,
      rows: sortResults(
        rows,
        variants.map((v) => v.name),
      ),
      notes: [
        `config: ${loaded.file}${loaded.overrides.length ? ` with --set ${loaded.overrides.join(' --set ')}` : ''}`,
        `generated ${new Date().toISOString()}`,
      ],
    });
  }
  return { outDir, rows, summary, skipped, failed };
}

function interrupted(outDir: string, done: number, total: number): InterruptedError {
  return new InterruptedError(
    `interrupted after ${done} of ${total} scene(s); rerun with --resume to finish (finished scenes are kept)`,
    { file: outDir, key: '--resume' },
  );
}

function failedRow(ref: SceneRef, v: ResolvedVariant, err: unknown, runtime: number): SceneResult {
  return {
    scene: ref.id,
    index: ref.index,
    variant: v.name,
    status: 'failed',
    metrics: null,
    runtime_s: runtime,
    iterations: 0,
    final_loss: null,
    scale: null,
    shift: null,
    dir: sceneDir(ref.id, v.name),
    error: (err as Error).message ?? String(err),
  };
}

/** The estimate pipeline as a scene estimator (loaded on first use: it pulls in the networks). */
async function defaultEstimator(): Promise<SceneEstimator> {
  const mod = await import('./run-estimate.ts');
  return mod.estimateScene;
}
