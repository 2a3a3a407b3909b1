export { loadConfig, parseConfigObject, parseConfigYaml, configToYaml, writeResolvedConfig } from './load.ts';
export type { LoadedConfig, LoadConfigOptions } from './load.ts';
export { configJsonSchema } from './json-schema.ts';
export { deepMerge } from './merge.ts';
export { parseOverride, applyOverride } from './overrides.ts';
export * from './schema.ts';
