import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../core/engine/backend.ts';
import { matMul2d } from '../../../diffusion/ops/grad/matmul.ts';
await initEngine('wasm');
const x = tf.variable(tf.randomUniform([4, 3]));
const { value, grads } = tf.variableGrads(() => {
  const h = tf.sigmoid(x); const k = tf.tanh(x);
  return tf.sum(matMul2d(h as tf.Tensor2D, tf.transpose(k) as tf.Tensor2D)) as tf.Scalar;
}, [x]);
console.log('ok', value.dataSync()[0], Object.keys(grads));
