import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initEngine, parseBackend, nativeTfjsPackage } from '../../core/engine/backend.ts';
import { ApertureDepthError } from '../../core/errors.ts';

test('wasm is the default backend and computes', async (t) => {
  t.is(await initEngine(), 'wasm');
  t.is(tf.getBackend(), 'wasm');
  t.deepEqual(Array.from(tf.tidy(() => tf.add(tf.tensor([1, 2]), 1).dataSync())), [2, 3]);
});

test('unknown backend names the argument', (t) => {
  const err = t.throws(() => parseBackend('gpu', '--backend'), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /--backend.*wasm, cpu, tensorflow.*"gpu"/);
});

test('tensorflow backend without tfjs-node is a clear error', async (t) => {
  if (nativeTfjsPackage()) return t.pass('tfjs-node installed here');
  const err = await t.throwsAsync(() => initEngine('tensorflow'), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /tfjs-node/);
  t.is(await initEngine('wasm'), 'wasm');
});
