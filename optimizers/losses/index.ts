import { ApertureDepthError } from '../../core/errors.ts';
import type { LossFn } from './loss.ts';
import { charbonnierLoss, gradientLoss, l1Loss, l2Loss } from './photometric.ts';

export { composeLoss, maskedMean, type LossContext, type LossFn } from './loss.ts';
export { l2Loss, l1Loss, charbonnierLoss, gradientLoss, imageGradients } from './photometric.ts';
export type { CharbonnierOptions, GradientLossOptions } from './photometric.ts';
export { saturationMask, borderMask, combineMasks, depthEdgeMask } from './masks.ts';
export { tvRegularizer, type TvOptions } from './regularizers.ts';

/** Built-in data terms by name (`l2` is the paper's). */
export const LOSSES = Object.freeze({
  l2: () => l2Loss(),
  l1: () => l1Loss(),
  charbonnier: () => charbonnierLoss(),
  gradient: () => gradientLoss(),
} as const);
export type LossName = keyof typeof LOSSES;

/** A built-in loss by name, or the function itself when one is given. */
export function resolveLoss(loss: LossName | LossFn): LossFn {
  if (typeof loss === 'function') return loss;
  const make = (LOSSES as Record<string, (() => LossFn) | undefined>)[loss];
  if (!make) {
    throw new ApertureDepthError(
      `unknown loss "${loss}"; expected one of ${Object.keys(LOSSES).join(', ')}`,
      {
        key: 'loss',
      },
    );
  }
  return make();
}
