import * as tf from '@tensorflow/tfjs';

/**
 * A typed `tf.customGrad` for two tensor inputs whose gradient needs both: the inputs are `save`d
 * (tfjs keeps clones for the backward pass; closing over them would read tensors the forward tidy
 * already disposed) and handed back to `grad`.
 */
export function customGrad2(
  forward: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  grad: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => [tf.Tensor, tf.Tensor],
): (a: tf.Tensor, b: tf.Tensor) => tf.Tensor {
  const g = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    save([a, b]);
    return {
      value: forward(a, b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => grad(dy, saved[0]!, saved[1]!),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (a, b) => g(a, b);
}

/**
 * A typed `tf.customGrad` for one tensor input whose gradient does not read it (only persistent
 * tensors closed over, such as a frozen weight).
 */
export function customGrad1(
  forward: (x: tf.Tensor) => tf.Tensor,
  grad: (dy: tf.Tensor) => tf.Tensor,
): (x: tf.Tensor) => tf.Tensor {
  const g = tf.customGrad(((x: tf.Tensor) => ({ value: forward(x), gradFunc: (dy: tf.Tensor) => grad(dy) })) as unknown as Parameters<
    typeof tf.customGrad
  >[0]);
  return (x) => g(x);
}
