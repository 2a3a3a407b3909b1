import * as tf from '@tensorflow/tfjs';
import { check } from '../core/errors.ts';
import { Adam, type AdamOptions } from './adam.ts';
import type { GridCandidate } from './mappings/grid-init.ts';
import type { MetricMapping, ScaleShift } from './mappings/metric-mapping.ts';

/** One basin's trial: where it started (the search's refined pair) and where a few Adam steps took it. */
export interface BasinTrial extends ScaleShift {
  /** The search's candidate (its loss is the downsampled search loss). */
  start: GridCandidate;
  /** The trial's loss at its final scale and shift (full resolution). */
  loss: number;
}

/** Options of {@link tryBasins}. */
export interface BasinTrialOptions {
  mapping: MetricMapping;
  /** The loss as a function of the mapping's parameters `[P]` (the relative depth held fixed). */
  loss: (mappingParams: tf.Tensor1D) => tf.Scalar;
  /** Adam steps per basin (0 = score each start as it is). */
  iterations: number;
  /** Learning rate of the mapping's parameters. */
  lr: number;
  adam?: AdamOptions;
}

/**
 * Runs `iterations` Adam steps of the mapping's parameters alone from each start and scores where each
 * ends; returns the trials lowest loss first (non-finite losses last). The search's coarse loss can rank
 * basins differently from the full-resolution loss, and a start's loss says little about the bottom of its
 * basin: a few steps of the real objective tell them apart. Deterministic; leaves no tensors behind.
 */
export function tryBasins(starts: readonly GridCandidate[], options: BasinTrialOptions): BasinTrial[] {
  const { mapping, iterations, lr } = options;
  check(starts.length > 0, () => 'no basins to try', { key: 'grid.basins' });
  check(Number.isInteger(iterations) && iterations >= 0, () => `must be a non-negative integer, got ${iterations}`, {
    key: 'grid.basinIterations',
  });
  const lossOf = (p: tf.Tensor1D): number => tf.tidy(() => options.loss(p).dataSync()[0]);
  const trials = starts.map((start): BasinTrial => {
    const adam = new Adam([{ name: 'p', lr }], options.adam);
    let p = tf.tensor1d(mapping.paramsFor(start));
    try {
      for (let i = 0; i < iterations; i++) {
        const { value, grads } = tf.tidy(() => tf.valueAndGrads((x: tf.Tensor) => options.loss(x as tf.Tensor1D))([p]));
        const finite = Number.isFinite(value.dataSync()[0]) && tf.tidy(() => tf.all(tf.isFinite(grads[0])).dataSync()[0]) === 1;
        if (!finite) {
          tf.dispose([value, ...grads]);
          break; // keep the last finite parameters
        }
        const next = adam.step({ p }, { p: grads[0] }).p as tf.Tensor1D;
        tf.dispose([value, ...grads, p]);
        p = next;
      }
      const loss = lossOf(p);
      return { start, ...mapping.scaleShift(p.dataSync()), loss: Number.isFinite(loss) ? loss : Infinity };
    } finally {
      p.dispose();
      adam.dispose();
    }
  });
  return trials.sort((a, b) => a.loss - b.loss);
}
