import { ApertureDepthError } from '../../core/errors.ts';
import { BoundedMapping, type BoundedMappingOptions } from './bounded-mapping.ts';
import { FreeMapping, type FreeMappingOptions } from './free-mapping.ts';
import type { MetricMapping } from './metric-mapping.ts';

export type { MetricMapping, ScaleShift } from './metric-mapping.ts';
export { BoundedMapping, type BoundedMappingOptions } from './bounded-mapping.ts';
export { FreeMapping, type FreeMappingOptions } from './free-mapping.ts';
export { candidateDepths, gridSearchScaleShift } from './grid-init.ts';
export type {
  CandidateDepthsOptions,
  SceneSide,
  GridSearchOptions,
  GridSearchResult,
  GridCandidate,
} from './grid-init.ts';

/** Names of the metric mappings. `free` is the default (see the comparison in the optimizer's README). */
export const MAPPINGS = Object.freeze(['free', 'bounded'] as const);
export type MappingName = (typeof MAPPINGS)[number];

/** Builds a mapping by name. */
export function createMapping(
  name: MappingName,
  options: BoundedMappingOptions & FreeMappingOptions = {},
): MetricMapping {
  switch (name) {
    case 'bounded':
      return new BoundedMapping(options);
    case 'free':
      return new FreeMapping(options);
    default:
      throw new ApertureDepthError(
        `unknown mapping "${String(name)}"; expected one of ${MAPPINGS.join(', ')}`,
        {
          key: 'mapping',
        },
      );
  }
}
