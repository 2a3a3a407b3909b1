import * as tf from '@tensorflow/tfjs';
import { conv2dFilterGrad } from './conv2d-filter-grad.ts';
import { conv2dInputGrad, convPadding, type InputGradMethod } from './conv2d-input-grad.ts';
import { customGrad1, customGrad2 } from './custom-grad.ts';
import { isFrozenWeight } from './weight-cache.ts';

let inputGradMethod: InputGradMethod = 'flipped-conv';

/** Chooses how conv input gradients are computed (for the benchmark; default `flipped-conv`). */
export function setConvInputGradMethod(method: InputGradMethod): void {
  inputGradMethod = method;
}

/**
 * NHWC convolution without bias, with a custom gradient that runs on every tfjs backend:
 * input gradient by `conv2dInputGrad`, filter gradient by one convolution (`conv2dFilterGrad`). A frozen
 * filter (a registered, non-trainable network weight) is closed over, so only `dx` is ever computed; a
 * trainable one is an input, `save`d with `x` (tfjs disposes forward intermediates, such as the activation
 * feeding the conv, before the backward pass). `pad` is `[top, bottom, left, right]`.
 */
export function conv2dWithGrad(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  stride: number,
  pad: readonly [number, number, number, number],
): tf.Tensor4D {
  const padArg = convPadding(pad);
  const forward = (xi: tf.Tensor4D, wi: tf.Tensor4D) => tf.conv2d(xi, wi, stride, padArg);
  const shape = x.shape;
  if (isFrozenWeight(w)) {
    const f = customGrad1(
      (xi) => forward(xi as tf.Tensor4D, w),
      (dy) => conv2dInputGrad(dy as tf.Tensor4D, w, shape, stride, pad, inputGradMethod),
    );
    return f(x) as tf.Tensor4D;
  }
  const f = customGrad2(
    (xi, wi) => forward(xi as tf.Tensor4D, wi as tf.Tensor4D),
    (dy, xi, wi) => [
      conv2dInputGrad(dy as tf.Tensor4D, wi as tf.Tensor4D, shape, stride, pad, inputGradMethod),
      conv2dFilterGrad(xi as tf.Tensor4D, dy as tf.Tensor4D, (wi as tf.Tensor4D).shape, stride, pad),
    ],
  );
  return f(x, w) as tf.Tensor4D;
}
