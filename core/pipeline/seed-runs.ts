import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApertureDepthError, check } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import type { LoadedConfig } from '../config/load.ts';
import { versions } from '../run-record/versions.ts';
import { checkSameConfig, finishedRows, loadRun } from './merge-runs.ts';
import {
  configName,
  runExperiment,
  type RunExperimentOptions,
  type RunExperimentResult,
} from './run-experiment.ts';
import { resultsCsv, sortResults } from './run-results.ts';
import { seedSummaryMarkdown, summarizeSeeds, type SeedSummary } from './seed-summary.ts';

/**
 * A config run at several seeds (`run --seeds 0,1,2`): one ordinary run folder per seed, `<out>/seed-<N>/`,
 * and beside them `seeds_summary.json`, `seeds_summary.md` and `seeds_per_scene.csv` over the seeds
 * (`seed-summary.ts`). The seed drives the optimizer's initial latent and the simulated sensor noise.
 */

/** The folder of one seed's run inside a seeds folder. */
export const seedDir = (seed: number): string => `seed-${seed}`;

/** Parses `0,1,2` or `0-4` (or a mix, `0-2,7`): distinct non-negative integers, in the order given. */
export function parseSeeds(text: string, key = '--seeds'): number[] {
  const seeds: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) {
      throw new ApertureDepthError(
        `expected seeds as a list or ranges of non-negative integers (0,1,2 or 0-4), got ${JSON.stringify(text)}`,
        { key },
      );
    }
    const [a, b] = [Number(m[1]), m[2] === undefined ? Number(m[1]) : Number(m[2])];
    check(b >= a, () => `the range ${a}-${b} is empty (expected low-high)`, { key });
    check(b - a < 1000, () => `the range ${a}-${b} has over 1000 seeds`, { key });
    for (let s = a; s <= b; s++) seeds.push(s);
  }
  const repeated = seeds.find((s, i) => seeds.indexOf(s) !== i);
  check(repeated === undefined, () => `seed ${repeated} is listed twice`, { key });
  check(
    seeds.every((s) => s <= 2 ** 31 - 1),
    () => 'seeds must be at most 2^31 - 1 (the config key seed)',
    { key },
  );
  return seeds;
}

export interface RunSeedsOptions extends Omit<RunExperimentOptions, 'loaded' | 'outDir' | 'shard'> {
  seeds: readonly number[];
  /** The config at one seed (the CLI reloads its file with `--set seed=N`, so each run's record says so). */
  load: (seed: number) => LoadedConfig;
  /** The seeds folder. */
  outDir: string;
}

export interface RunSeedsResult {
  outDir: string;
  runs: RunExperimentResult[];
  summary: SeedSummary;
  failed: number;
}

/**
 * Runs the config once per seed into `<out>/seed-<N>/` (each an ordinary run folder: `--resume` continues it,
 * `merge` and `seeds` read it) and summarizes over the seeds after each one, so a stopped run's finished
 * seeds are summarized.
 */
export async function runSeeds(options: RunSeedsOptions): Promise<RunSeedsResult> {
  const { seeds, load } = options;
  const out = resolve(options.outDir);
  check(seeds.length > 0, () => 'name at least one seed', { key: '--seeds' });
  check(
    !existsSync(join(out, 'config.yaml')),
    () => 'this folder holds a single run (config.yaml); choose another --out for a run over seeds',
    { file: out, key: '--out' },
  );
  const log = options.log ?? (() => {});
  const runs: RunExperimentResult[] = [];
  let summary: SeedSummary | undefined;
  for (const [i, seed] of seeds.entries()) {
    log(`seed ${seed} (${i + 1}/${seeds.length}) -> ${join(out, seedDir(seed))}`);
    runs.push(await runExperiment({ ...options, loaded: load(seed), outDir: join(out, seedDir(seed)) }));
    summary = summarizeSeedRuns(
      seeds.slice(0, i + 1).map((s) => join(out, seedDir(s))),
      out,
    ).summary;
  }
  return { outDir: out, runs, summary: summary!, failed: runs.reduce((a, r) => a + r.failed, 0) };
}

/**
 * Summarizes run folders of one config that differ only in `seed` (written by `run --seeds`, or by separate
 * `run --set seed=N` calls) into `outDir`: `seeds_summary.json`, `seeds_summary.md`, `seeds_per_scene.csv`.
 * Finished scenes only (their done markers); a shard folder must be merged first.
 */
export function summarizeSeedRuns(
  dirs: readonly string[],
  outDir: string,
): { outDir: string; summary: SeedSummary } {
  check(dirs.length > 0, () => 'name at least one run folder', { key: 'seeds' });
  const out = resolve(outDir);
  const runs = dirs.map((d) => ({ dir: resolve(d), ...loadRun(resolve(d)) }));
  const first = runs[0]!;
  checkSameConfig(runs, 'only the seed may differ', ['seed']);
  const bySeed = new Map<number, string>();
  for (const r of runs) {
    const shard = r.info?.shard;
    check(
      !shard || shard.count === 1,
      () =>
        `a shard (${shard!.index}/${shard!.count}); merge the shards of this seed first (aperture-depth merge)`,
      { file: r.dir, key: 'shard' },
    );
    const seed = r.loaded.config.seed;
    const prev = bySeed.get(seed);
    check(prev === undefined, () => `seed ${seed} is in two runs (${prev} and ${r.dir})`, {
      file: r.dir,
      key: 'seed',
    });
    bySeed.set(seed, r.dir);
  }
  runs.sort((a, b) => a.loaded.config.seed - b.loaded.config.seed);
  const variants = first.loaded.variants.map((v) => ({ name: v.name, type: v.type }));
  const names = variants.map((v) => v.name);
  const perSeed = runs.map((r) => ({
    seed: r.loaded.config.seed,
    rows: sortResults(finishedRows(r.dir), names),
  }));
  const summary = summarizeSeeds(perSeed, variants);

  const configFile = first.info?.config_file ?? first.loaded.file;
  const title = `aperture-depth: ${configName(configFile)} over seeds ${summary.seeds.join(', ')}`;
  mkdirSync(out, { recursive: true });
  const record = {
    title,
    config_file: configFile,
    runs: runs.map((r) => ({ seed: r.loaded.config.seed, dir: r.dir })),
    written_at: new Date().toISOString(),
    versions: versions(),
    ...summary,
  };
  writeFileAtomic(join(out, 'seeds_summary.json'), `${JSON.stringify(record, null, 2)}\n`);
  writeFileAtomic(join(out, 'seeds_summary.md'), seedSummaryMarkdown(summary, title));
  const csv = perSeed.flatMap(({ seed, rows }, i) =>
    resultsCsv(rows)
      .trimEnd()
      .split('\n')
      .slice(i === 0 ? 0 : 1)
      .map((line, k) => (i === 0 && k === 0 ? `seed,${line}` : `${seed},${line}`)),
  );
  writeFileAtomic(join(out, 'seeds_per_scene.csv'), `${csv.join('\n')}\n`);
  return { outDir: out, summary };
}
