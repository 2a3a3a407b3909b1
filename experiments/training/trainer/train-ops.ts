/**
 * The executor used for TRAINING: `tfjsOps` itself, whose conv2d / linear / matMul gradients
 * (`diffusion/ops/grad/`) already serve trainable weights: their custom gradients `save` their inputs (tfjs
 * disposes forward intermediates before the backward pass), the conv filter gradient is one convolution
 * (2-40x faster than im2col on wasm), and a trainable kernel is flipped for the input gradient by a small
 * matMul (wasm's Reverse/Gather are slow). Frozen weights are closed over and get no gradient.
 * The networks themselves are the project's, unchanged. Kept as its own executor (named `tfjs-train`) so
 * training-only changes have one place to go.
 */
import * as tf from '@tensorflow/tfjs';
import type { Ops } from '../../../diffusion/ops/ops.ts';
import { tfjsOps } from '../../../diffusion/ops/tfjs-ops.ts';

export const trainOps: Ops<tf.Tensor> = Object.freeze({ ...tfjsOps, name: 'tfjs-train' });
