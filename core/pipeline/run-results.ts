import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';

/** The metrics of a row, in the order the CSV and the tables use. */
export const METRIC_KEYS = Object.freeze([
  'abs_rel',
  'sq_rel',
  'rmse',
  'rmse_log',
  'log10',
  'delta1',
  'delta2',
  'delta3',
] as const);
export type MetricKey = (typeof METRIC_KEYS)[number];
export type MetricValues = Record<MetricKey, number> & { count: number };

/**
 * One scene x variant of a run: what `done.json` holds and `per_scene.csv` lists. Written once the scene's
 * outputs are all in place, so its presence marks the scene as finished (`--resume` skips it).
 */
export interface SceneResult {
  scene: string;
  /** Position in the dataset's full order (rows sort by it, so shards merge into the unsharded order). */
  index: number;
  variant: string;
  status: 'ok' | 'failed';
  /** Metrics against ground truth; null without ground truth or on failure. */
  metrics: MetricValues | null;
  /** Wall time of the estimate, seconds. */
  runtime_s: number;
  iterations: number;
  final_loss: number | null;
  scale: number | null;
  shift: number | null;
  /** Output folder relative to the run folder (`scenes/<scene>/<variant>`). */
  dir: string;
  /** The error message of a failed scene. */
  error?: string;
  /** What the estimate reported that changes how to read the row (e.g. a fallback to the pixel prior). */
  note?: string;
}

export const DONE_MARKER = 'done.json';

/** The output folder of one scene x variant, relative to the run folder. */
export function sceneDir(scene: string, variant: string): string {
  return join('scenes', scene, variant);
}

/** Reads a finished scene's marker, or undefined when it is absent (the scene is not finished). */
export function readDoneMarker(runDir: string, scene: string, variant: string): SceneResult | undefined {
  const path = join(runDir, sceneDir(scene, variant), DONE_MARKER);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SceneResult;
  } catch (err) {
    throw new ApertureDepthError(
      `unreadable done marker (delete it to rerun the scene): ${(err as Error).message}`,
      {
        file: path,
        cause: err,
      },
    );
  }
}

export function writeDoneMarker(runDir: string, result: SceneResult): void {
  writeFileAtomic(join(runDir, result.dir, DONE_MARKER), `${JSON.stringify(result, null, 2)}\n`);
}

/** Rows in a fixed order: dataset order, then the config's variant order. */
export function sortResults(rows: SceneResult[], variantOrder: readonly string[]): SceneResult[] {
  const v = (name: string) => {
    const i = variantOrder.indexOf(name);
    return i < 0 ? variantOrder.length : i;
  };
  return [...rows].sort(
    (a, b) => a.index - b.index || a.scene.localeCompare(b.scene) || v(a.variant) - v(b.variant),
  );
}

const fmt = (x: number | null | undefined): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '' : String(x);

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** `per_scene.csv`: one row per scene x variant. */
export function resultsCsv(rows: SceneResult[]): string {
  const header = [
    'scene',
    'index',
    'variant',
    'status',
    ...METRIC_KEYS,
    'valid_pixels',
    'runtime_s',
    'iterations',
    'final_loss',
    'scale',
    'shift',
    'dir',
    'error',
    'note',
  ];
  const lines = rows.map((r) =>
    [
      r.scene,
      String(r.index),
      r.variant,
      r.status,
      ...METRIC_KEYS.map((k) => fmt(r.metrics?.[k])),
      fmt(r.metrics?.count),
      fmt(r.runtime_s),
      String(r.iterations),
      fmt(r.final_loss),
      fmt(r.scale),
      fmt(r.shift),
      r.dir,
      r.error ?? '',
      r.note ?? '',
    ]
      .map(csvField)
      .join(','),
  );
  return `${[header.join(','), ...lines].join('\n')}\n`;
}

/** Per-variant means over the scenes that finished with metrics. */
export interface VariantSummary {
  variant: string;
  type: string;
  /** Scenes run (ok + failed). */
  scenes: number;
  failed: number;
  /** Scenes with metrics (the means run over these). */
  evaluated: number;
  metrics: Record<MetricKey, number | null>;
  runtime_s: { mean: number | null; total: number };
}

export interface RunSummary {
  /** Scenes in the run (each scene counted once). */
  scenes: number;
  variants: VariantSummary[];
}

/**
 * Means per variant. Rows are summed in dataset order, so a merged set of shards gives the same numbers as
 * one unsharded run.
 */
export function summarize(
  rows: SceneResult[],
  variants: readonly { name: string; type: string }[],
): RunSummary {
  const sorted = sortResults(
    rows,
    variants.map((v) => v.name),
  );
  const scenes = new Set(sorted.map((r) => r.scene)).size;
  return {
    scenes,
    variants: variants.map(({ name, type }) => {
      const mine = sorted.filter((r) => r.variant === name);
      const evald = mine.filter((r) => r.status === 'ok' && r.metrics && r.metrics.count > 0);
      const metrics = {} as Record<MetricKey, number | null>;
      for (const k of METRIC_KEYS) {
        metrics[k] = evald.length ? evald.reduce((s, r) => s + r.metrics![k], 0) / evald.length : null;
      }
      const total = mine.reduce((s, r) => s + r.runtime_s, 0);
      return {
        variant: name,
        type,
        scenes: mine.length,
        failed: mine.filter((r) => r.status === 'failed').length,
        evaluated: evald.length,
        metrics,
        runtime_s: { mean: mine.length ? total / mine.length : null, total },
      };
    }),
  };
}

const num = (x: number | null, digits = 3): string =>
  x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits);

/** `summary.md`: the paper's columns (RMSE, REL, log10, d1, d2, d3) plus runtime, one row per variant. */
export function summaryMarkdown(summary: RunSummary, title: string): string {
  const lines = [
    `# ${title}`,
    '',
    `${summary.scenes} scene(s). RMSE in metres; REL = mean |p - g| / g; log10 = mean |log10 p - log10 g|; ` +
      'd_k = fraction with max(p/g, g/p) < 1.25^k; runtime = mean seconds per scene.',
    '',
    '| variant | RMSE | REL | log10 | d1 | d2 | d3 | runtime (s) | scenes | failed |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const v of summary.variants) {
    const m = v.metrics;
    lines.push(
      `| ${v.variant} | ${num(m.rmse)} | ${num(m.abs_rel)} | ${num(m.log10)} | ${num(m.delta1)} | ${num(m.delta2)} | ${num(m.delta3)} | ${num(v.runtime_s.mean, 1)} | ${v.evaluated}/${v.scenes} | ${v.failed} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
