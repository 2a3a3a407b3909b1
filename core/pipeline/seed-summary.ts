import {
  meanAndError,
  meanOf,
  formatMeanAndError,
  sampleSd,
  type MeanAndError,
} from '../metrics/mean-and-error.ts';
import { METRIC_KEYS, summarize, type MetricKey, type SceneResult } from './run-results.ts';

/**
 * One config run at several seeds, summarized: per variant the mean over seeds of each seed's scene mean with
 * the standard deviation over seeds, and each variant against the first one, paired per scene and seed. A
 * single seed's verdict between two close variants can be noise of the optimizer's initial latent; this says
 * how much.
 */

/** The finished rows of one seed's run. */
export interface SeedRows {
  seed: number;
  rows: SceneResult[];
}

/** Lower is better for the errors, higher for the threshold accuracies. */
export const HIGHER_IS_BETTER: ReadonlySet<MetricKey> = new Set(['delta1', 'delta2', 'delta3']);

export interface SeedStat {
  /** Mean over seeds of the per-seed means (null when no seed evaluated the variant). */
  mean: number | null;
  /** Sample standard deviation over seeds (null below two seeds). */
  sd: number | null;
  /** Each seed's mean over its scenes, in `seeds` order. */
  per_seed: (number | null)[];
}

export interface SeedVariantSummary {
  variant: string;
  type: string;
  /** Scenes with metrics, per seed. */
  evaluated: number[];
  metrics: Record<MetricKey, SeedStat>;
}

/** `variant - reference` over the scene x seed pairs where both have metrics. */
export interface PairedComparison {
  variant: string;
  reference: string;
  /** Scene x seed pairs compared. */
  pairs: number;
  metrics: Record<
    MetricKey,
    {
      /** Mean difference with its standard error over the pairs (treated as independent). */
      difference: MeanAndError;
      /** Pairs where the variant is strictly better. */
      wins: number;
      /** Mean difference within each seed, in `seeds` order (null: no pair at that seed). */
      per_seed: (number | null)[];
    }
  >;
}

export interface SeedSummary {
  seeds: number[];
  /** Distinct scenes over all seeds. */
  scenes: number;
  variants: SeedVariantSummary[];
  comparisons: PairedComparison[];
}

const hasMetrics = (r: SceneResult): boolean => r.status === 'ok' && !!r.metrics && r.metrics.count > 0;

/** Summarizes the runs of one config at several seeds (variants in the config's order, the first the reference). */
export function summarizeSeeds(
  runs: readonly SeedRows[],
  variants: readonly { name: string; type: string }[],
): SeedSummary {
  const perSeed = runs.map((r) => summarize(r.rows, variants));
  const summaries: SeedVariantSummary[] = variants.map(({ name, type }, vi) => {
    const metrics = {} as Record<MetricKey, SeedStat>;
    for (const k of METRIC_KEYS) {
      const values = perSeed.map((s) => s.variants[vi]!.metrics[k]);
      const present = values.filter((v): v is number => v !== null);
      metrics[k] = {
        mean: present.length ? meanOf(present) : null,
        sd: sampleSd(present),
        per_seed: values,
      };
    }
    return {
      variant: name,
      type,
      evaluated: perSeed.map((s) => s.variants[vi]!.evaluated),
      metrics,
    };
  });

  const reference = variants[0]?.name;
  const comparisons: PairedComparison[] = [];
  for (const { name } of variants.slice(1)) {
    // [seed][scene] -> (variant, reference) rows
    const pairsBySeed = runs.map((r) => {
      const ref = new Map(
        r.rows.filter((x) => x.variant === reference && hasMetrics(x)).map((x) => [x.scene, x]),
      );
      return r.rows
        .filter((x) => x.variant === name && hasMetrics(x) && ref.has(x.scene))
        .map((x) => [x, ref.get(x.scene)!] as const);
    });
    const all = pairsBySeed.flat();
    const metrics = {} as PairedComparison['metrics'];
    for (const k of METRIC_KEYS) {
      const diff = ([v, r]: readonly [SceneResult, SceneResult]) => v.metrics![k] - r.metrics![k];
      const better = (d: number) => (HIGHER_IS_BETTER.has(k) ? d > 0 : d < 0);
      metrics[k] = {
        difference: meanAndError(all.map(diff)),
        wins: all.filter((p) => better(diff(p))).length,
        per_seed: pairsBySeed.map((ps) =>
          ps.length ? ps.reduce((a, p) => a + diff(p), 0) / ps.length : null,
        ),
      };
    }
    comparisons.push({ variant: name, reference: reference!, pairs: all.length, metrics });
  }
  const scenes = new Set(runs.flatMap((r) => r.rows.map((x) => x.scene))).size;
  return { seeds: runs.map((r) => r.seed), scenes, variants: summaries, comparisons };
}

const num = (x: number | null, digits = 3): string =>
  x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits);
const signed = (x: number | null): string => (x === null ? '-' : `${x > 0 ? '+' : ''}${x.toFixed(4)}`);

/** The paper's columns, in its order. */
const COLUMNS: readonly [MetricKey, string][] = [
  ['rmse', 'RMSE'],
  ['abs_rel', 'REL'],
  ['log10', 'log10'],
  ['delta1', 'd1'],
  ['delta2', 'd2'],
  ['delta3', 'd3'],
];

/** `seeds_summary.md`: mean ± sd over seeds per variant, then each variant against the first, paired. */
export function seedSummaryMarkdown(s: SeedSummary, title: string): string {
  const stat = (v: SeedStat) => (v.sd === null ? num(v.mean) : `${num(v.mean)} ± ${num(v.sd)}`);
  const lines = [
    `# ${title}`,
    '',
    `${s.seeds.length} seed(s) (${s.seeds.join(', ')}) x ${s.scenes} scene(s). Each cell: the mean over seeds of ` +
      "each seed's mean over its scenes, ± the standard deviation over seeds. RMSE in metres; REL = mean |p - g| / g; " +
      'd_k = fraction with max(p/g, g/p) < 1.25^k.',
    '',
    `| variant | ${COLUMNS.map(([, h]) => h).join(' | ')} | scenes per seed |`,
    `|---|${COLUMNS.map(() => '---').join('|')}|---|`,
  ];
  for (const v of s.variants) {
    lines.push(
      `| ${v.variant} | ${COLUMNS.map(([k]) => stat(v.metrics[k])).join(' | ')} | ${v.evaluated.join(', ')} |`,
    );
  }
  const uneven = s.variants.some((v) => new Set(v.evaluated).size > 1);
  if (uneven)
    lines.push(
      '',
      'Warning: the seeds evaluated different numbers of scenes; their means are over different sets.',
    );
  for (const c of s.comparisons) {
    lines.push(
      '',
      `## ${c.variant} - ${c.reference}, paired over ${c.pairs} scene x seed pair(s)`,
      '',
      'Difference: mean ± standard error over the pairs (scenes and seeds taken as independent draws); ' +
        `better in: pairs where ${c.variant} is strictly better (lower errors, higher d_k); per seed: the mean ` +
        'difference within each seed.',
      '',
      '| metric | difference | better in | per seed |',
      '|---|---|---|---|',
    );
    for (const [k, h] of COLUMNS) {
      const m = c.metrics[k];
      lines.push(
        `| ${h} | ${formatMeanAndError(m.difference)} | ${m.wins}/${c.pairs} | ${m.per_seed.map(signed).join(', ')} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
