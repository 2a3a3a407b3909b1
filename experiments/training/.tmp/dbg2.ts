import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../core/engine/backend.ts';
import { conv2dWithGrad } from '../../../diffusion/ops/grad/conv2d.ts';
import { registerWeight } from '../../../diffusion/ops/grad/weight-cache.ts';
await initEngine('wasm');
const x = tf.randomUniform([2, 8, 8, 3]);
const w1 = tf.variable(tf.randomNormal([3, 3, 3, 4])); registerWeight(w1, true);
const w2 = tf.variable(tf.randomNormal([3, 3, 4, 4])); registerWeight(w2, true);
const { value, grads } = tf.variableGrads(() => {
  const h = tf.sigmoid(conv2dWithGrad(x as tf.Tensor4D, w1 as unknown as tf.Tensor4D, 1, [1, 1, 1, 1]));
  return tf.sum(conv2dWithGrad(h as tf.Tensor4D, w2 as unknown as tf.Tensor4D, 1, [1, 1, 1, 1])) as tf.Scalar;
}, [w1, w2]);
console.log('ok', value.dataSync()[0], Object.keys(grads));
