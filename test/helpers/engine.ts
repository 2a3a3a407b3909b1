import * as tf from '@tensorflow/tfjs';
import { initEngine, type BackendName } from '../../core/engine/backend.ts';

/** Starts the engine for a test file: wasm unless TEST_BACKEND says otherwise. */
export async function setupEngine(): Promise<typeof tf> {
  await initEngine((process.env.TEST_BACKEND as BackendName | undefined) ?? 'wasm');
  return tf;
}

/** Runs `fn` and returns how many tensors it left behind (0 = no leak). */
export async function leakedTensors(fn: () => unknown | Promise<unknown>): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}
