import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../io/atomic.ts';
import { loadConfigTree } from './inherit.ts';
import { mergeSources, type KeySources } from './merge.ts';
import { applyOverride, OVERRIDE_ORIGIN, parseOverride } from './overrides.ts';
import { resolvePathsIn } from './paths.ts';
import type { ExperimentConfig, ResolvedVariant } from './schema.ts';
import { resolveVariants, validateConfig } from './validate.ts';
import { parseYamlText } from './yaml-file.ts';

/** A validated experiment config and where it came from. */
export interface LoadedConfig {
  /** The config file named by the user (absolute). */
  file: string;
  /** Every file read (bases first). */
  files: string[];
  /** The `--set` overrides applied, as given. */
  overrides: string[];
  /** Validated, defaults filled, paths absolute. Writing it out and loading that file gives it back. */
  config: ExperimentConfig;
  /** The variants with their prior/optimizer overrides merged in. */
  variants: ResolvedVariant[];
  /** Which file set each key (`--set` for overrides). */
  sources: KeySources;
}

export interface LoadConfigOptions {
  /** `key.path=value` overrides, applied in order after inheritance (values are YAML). */
  set?: readonly string[];
  /** Folder that relative paths in `set` are resolved against. @default process.cwd() */
  cwd?: string;
}

/**
 * Loads an experiment config: the file and its `base` chain merged (later keys win), then `--set`
 * overrides, then validation against the schema (errors name the file, the key path and what was expected).
 *
 * @example
 * const { config, variants } = loadConfig('experiments/configs/smoke.yaml', { set: ['optimizer.iterations=5'] });
 * config.optimizer.iterations; // 5
 * variants.map((v) => v.name); // ['scale-shift', 'oracle']
 */
export function loadConfig(file: string, options: LoadConfigOptions = {}): LoadedConfig {
  const tree = loadConfigTree(file);
  return finish(tree.value, tree.sources, resolve(file), tree.files, options);
}

/** Validates a config given as an object (for scripts), as {@link loadConfig} does for a file. */
export function parseConfigObject(
  raw: Record<string, unknown>,
  options: LoadConfigOptions & { origin?: string } = {},
): LoadedConfig {
  const origin = options.origin ?? '<config object>';
  const cwd = options.cwd ?? process.cwd();
  const value = resolvePathsIn(structuredClone(raw), [], cwd, origin) as Record<string, unknown>;
  const sources: KeySources = new Map();
  return finish(value, sources, origin, [], options);
}

/** Parses YAML text as a config (used by `merge` and tests). */
export function parseConfigYaml(text: string, origin: string, options: LoadConfigOptions = {}): LoadedConfig {
  return parseConfigObject(parseYamlText(text, origin), { ...options, origin });
}

function finish(
  value: Record<string, unknown>,
  sources: KeySources,
  file: string,
  files: string[],
  options: LoadConfigOptions,
): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  let srcs = sources;
  // Variants in one form (`- full` is `- {type: full}`), so `--set variants.1.name=x` finds a mapping and
  // configs that say the same thing compare equal.
  const canonicalVariants = () => {
    if (Array.isArray(value.variants)) {
      value.variants = value.variants.map((v) => (typeof v === 'string' ? { type: v } : v));
    }
  };
  canonicalVariants();
  for (const text of options.set ?? []) {
    const o = parseOverride(text);
    o.value = resolvePathsIn(o.value, o.path, cwd, OVERRIDE_ORIGIN);
    applyOverride(value, o);
    srcs = mergeSources(srcs, new Map([[o.path.join('.'), OVERRIDE_ORIGIN]]));
  }
  canonicalVariants();
  const origin = { file, sources: srcs };
  const config = validateConfig(value, origin);
  const variants = resolveVariants(config, origin);
  return { file, files, overrides: [...(options.set ?? [])], config, variants, sources: srcs };
}

/**
 * The resolved config as YAML, with a header saying where it came from. Loading this text gives the same
 * config back, so it reproduces the run.
 */
export function configToYaml(loaded: Pick<LoadedConfig, 'config' | 'file' | 'overrides'>): string {
  const header = [
    '# Resolved aperture-depth experiment config: every default filled in, every path absolute.',
    `# From: ${loaded.file}${loaded.overrides.length ? ` with ${loaded.overrides.map((o) => `--set ${o}`).join(' ')}` : ''}`,
    '# Rerun: aperture-depth run --config <this file> --out <folder>',
  ];
  return `${header.join('\n')}\n${stringify(loaded.config, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

/** Writes {@link configToYaml} atomically. */
export function writeResolvedConfig(
  path: string,
  loaded: Pick<LoadedConfig, 'config' | 'file' | 'overrides'>,
): void {
  writeFileAtomic(path, configToYaml(loaded));
}
