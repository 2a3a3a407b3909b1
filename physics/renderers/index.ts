import { check } from '../../core/errors.ts';
import { gatherRenderer } from './gather.ts';
import { layeredRenderer } from './layered.ts';
import type { Renderer } from './renderer.ts';
import { scatterBruteForceRenderer } from './scatter-brute-force.ts';
import { scatterRenderer } from './scatter.ts';

export type { Renderer, RenderOptions } from './renderer.ts';

/** Every renderer by name. `scatter` is the paper's model; `layered` simulates data; `gather` is an ablation. */
export const RENDERERS: Readonly<Record<string, Renderer>> = Object.freeze({
  scatter: scatterRenderer,
  gather: gatherRenderer,
  layered: layeredRenderer,
  'scatter-brute-force': scatterBruteForceRenderer,
});

export type RendererName = 'scatter' | 'gather' | 'layered' | 'scatter-brute-force';

/** The renderer called `name`; an unknown name is an error that lists the known ones under `key`. */
export function getRenderer(name: string, key = 'renderer'): Renderer {
  check(
    typeof name === 'string' && Object.hasOwn(RENDERERS, name),
    () => `unknown renderer ${JSON.stringify(name)}; expected one of ${Object.keys(RENDERERS).join(', ')}`,
    { key },
  );
  return RENDERERS[name];
}
