import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApertureDepthError, check } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readJsonFile } from '../io/json-file.ts';
import { configToYaml, parseConfigYaml, type LoadedConfig } from '../config/load.ts';
import type { ExperimentConfig } from '../config/schema.ts';
import { writeReport } from '../report/report-html.ts';
import {
  comparableConfig,
  configName,
  firstDifference,
  writeSummaries,
  type RunInfo,
} from './run-experiment.ts';
import { DONE_MARKER, sortResults, type RunSummary, type SceneResult } from './run-results.ts';

export interface MergeResult {
  outDir: string;
  rows: SceneResult[];
  summary: RunSummary;
  /** Shards expected but not among the inputs (empty when complete). */
  missingShards: number[];
}

/** Files of a scene folder copied into the merged run, so its report stands alone. */
const COPIED = [DONE_MARKER, 'figure.png', 'loss.png', 'metrics.json', 'run.json'];

/** The config (and run info, when written) of a run folder. */
export function loadRun(dir: string): { loaded: LoadedConfig; info?: RunInfo } {
  const cfg = join(dir, 'config.yaml');
  check(existsSync(cfg), () => 'not a run folder (no config.yaml)', { file: dir });
  const loaded = parseConfigYaml(readFileSync(cfg, 'utf8'), cfg);
  const infoPath = join(dir, 'run_info.json');
  const info = existsSync(infoPath) ? (readJsonFile(infoPath, 'run info') as RunInfo) : undefined;
  return { loaded, info };
}

/** Every finished scene x variant of a run folder (its done markers). */
export function finishedRows(dir: string): SceneResult[] {
  const scenesDir = join(dir, 'scenes');
  if (!existsSync(scenesDir)) return [];
  const rows: SceneResult[] = [];
  for (const scene of readdirSync(scenesDir).sort()) {
    const sdir = join(scenesDir, scene);
    for (const variant of readdirSync(sdir).sort()) {
      const marker = join(sdir, variant, DONE_MARKER);
      if (existsSync(marker)) rows.push(readJsonFile(marker, 'done marker') as SceneResult);
    }
  }
  return rows;
}

/**
 * Checks that every run's config equals the first's (output settings aside, and the top-level keys in
 * `ignore`); the first difference is an error naming the run's config.yaml, the key and `why`.
 */
export function checkSameConfig(
  runs: readonly { dir: string; loaded: { config: ExperimentConfig } }[],
  why: string,
  ignore: readonly string[] = [],
): void {
  const comparable = (config: ExperimentConfig) => {
    const c = comparableConfig(config);
    for (const k of ignore) delete c[k];
    return c;
  };
  const first = runs[0]!;
  for (const r of runs.slice(1)) {
    const diff = firstDifference(comparable(first.loaded.config), comparable(r.loaded.config));
    check(diff === undefined, () => `config differs from ${first.dir}'s at ${diff}; ${why}`, {
      file: join(r.dir, 'config.yaml'),
      key: diff,
    });
  }
}

/**
 * Combines run folders (the shards of one config) into `outDir`: one config.yaml, per_scene.csv, summary and
 * report over every finished scene. The runs must share their config (output settings aside); a scene x
 * variant found twice is an error. Figures and markers are copied, the large per-scene outputs stay where
 * they are (the report links to the copies; `origin` in each row names the shard folder).
 */
export function mergeRuns(dirs: readonly string[], outDir: string): MergeResult {
  check(dirs.length > 0, () => 'name at least one run folder to merge', { key: 'merge' });
  const out = resolve(outDir);
  const runs = dirs.map((d) => ({ dir: resolve(d), ...loadRun(resolve(d)) }));
  const first = runs[0]!;
  checkSameConfig(runs, 'only runs of one config merge');
  const counts = new Set(runs.map((r) => r.info?.shard?.count ?? 1));
  check(
    counts.size === 1,
    () => `the runs were split into different shard counts (${[...counts].join(', ')})`,
    { key: 'merge' },
  );
  const count = [...counts][0]!;
  const have = new Set(runs.map((r) => r.info?.shard?.index ?? 0));
  const missingShards = Array.from({ length: count }, (_, i) => i).filter((i) => !have.has(i));

  const rows: SceneResult[] = [];
  const seen = new Map<string, string>();
  for (const r of runs) {
    for (const row of finishedRows(r.dir)) {
      const key = `${row.scene}/${row.variant}`;
      const prev = seen.get(key);
      if (prev)
        throw new ApertureDepthError(`scene ${key} is in two runs (${prev} and ${r.dir})`, { key: 'merge' });
      seen.set(key, r.dir);
      if (r.dir !== out) {
        const dest = join(out, row.dir);
        mkdirSync(dest, { recursive: true });
        for (const f of COPIED)
          if (existsSync(join(r.dir, row.dir, f))) copyFileSync(join(r.dir, row.dir, f), join(dest, f));
      }
      rows.push({ ...row, origin: r.dir } as SceneResult);
    }
  }
  mkdirSync(out, { recursive: true });
  writeFileAtomic(join(out, 'config.yaml'), configToYaml(first.loaded));
  const variants = first.loaded.variants.map((v) => ({ name: v.name, type: v.type }));
  const title = `aperture-depth: ${configName(first.info?.config_file ?? first.loaded.file)} (merged from ${runs.length} run${runs.length > 1 ? 's' : ''})`;
  const sorted = sortResults(
    rows,
    variants.map((v) => v.name),
  );
  const summary = writeSummaries(out, sorted, variants, title, {
    config_file: first.info?.config_file ?? first.loaded.file,
    merged_from: runs.map((r) => r.dir),
    missing_shards: missingShards,
  });
  writeReport(out, {
    title,
    summary,
    rows: sorted,
    notes: [
      `merged from: ${runs.map((r) => r.dir).join(', ')}`,
      ...(missingShards.length ? [`missing shards: ${missingShards.join(', ')} of ${count}`] : []),
    ],
  });
  return { outDir: out, rows: sorted, summary, missingShards };
}
