import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { Adam } from '../../optimizers/adam.ts';
import { HostAdam } from '../../optimizers/host-adam.ts';
import { ApertureDepthError } from '../../core/errors.ts';

/** Deterministic values over many binades (tiny, ordinary and large gradients, both signs). */
function values(n: number, seed: number, spread: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const e = (s / 2 ** 32) * spread - spread / 2;
    out[i] = (u < 0.5 ? -1 : 1) * (0.1 + u) * 10 ** e;
  }
  return out;
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

test.serial(
  'bit-identical to the tensor Adam over 12 steps, two groups, varying rate factors, clipped steps',
  async (t) => {
    await setupEngine();
    const groups = [
      { name: 'w', lr: 1e-3 },
      { name: 'b', lr: 3e-2 },
    ];
    const sizes = { w: 4099, b: 37 };
    const host = new HostAdam(groups, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    const ref = new Adam(groups, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    const hp = { w: values(sizes.w, 1, 6), b: values(sizes.b, 2, 6) };
    const leaked = await leakedTensors(() => {
      let tp: Record<string, tf.Tensor> = {
        w: tf.tensor(hp.w.slice(), [sizes.w]),
        b: tf.tensor(hp.b.slice(), [sizes.b]),
      };
      for (let step = 0; step < 12; step++) {
        // gradients from 1e-12 to 1e4 (spread 16 decades), a zero and a sign flip per step
        const gw = values(sizes.w, 100 + step, 16);
        const gb = values(sizes.b, 200 + step, 16);
        gw[step] = 0;
        const factor = [1, 0.5, 0.05, 1e-3][step % 4]!;
        // Every third step clipped: the host scales inside the update, the tensor run gets a scaled float32 copy.
        const scale = step % 3 === 1 ? 0.3719 : 1;
        host.step({ w: hp.w, b: hp.b }, { w: gw, b: gb }, factor, { w: [sizes.w], b: [sizes.b] }, scale);
        const scaled = (a: Float32Array) => (scale === 1 ? a : a.map((v) => v * scale));
        const g = { w: tf.tensor(scaled(gw), [sizes.w]), b: tf.tensor(scaled(gb), [sizes.b]) };
        const next = ref.step(tp, g, factor);
        tf.dispose([...Object.values(tp), ...Object.values(g)]);
        tp = next;
      }
      const refW = tp.w!.dataSync() as Float32Array;
      const refB = tp.b!.dataSync() as Float32Array;
      t.deepEqual(bits(hp.w), bits(refW));
      t.deepEqual(bits(hp.b), bits(refB));
      const hs = host.getState();
      const rs = ref.getState();
      t.is(hs.step, rs.step);
      for (let k = 0; k < 2; k++) {
        t.deepEqual(bits(hs.groups[k]!.m), bits(rs.groups[k]!.m), `m of ${hs.groups[k]!.name}`);
        t.deepEqual(bits(hs.groups[k]!.v), bits(rs.groups[k]!.v), `v of ${hs.groups[k]!.name}`);
        t.deepEqual(hs.groups[k]!.shape, rs.groups[k]!.shape);
      }
      tf.dispose(Object.values(tp));
      ref.dispose();
    });
    t.is(leaked, 0);
  },
);

test.serial(
  'states are interchangeable: the host Adam resumes a tensor Adam run bit-identically',
  async (t) => {
    await setupEngine();
    const groups = [{ name: 'p', lr: 1e-2 }];
    const ref = new Adam(groups);
    let p = tf.tensor(values(300, 5, 4), [300]);
    const host = new HostAdam(groups);
    let hp = new Float32Array(0);
    for (let step = 0; step < 6; step++) {
      if (step === 3) {
        host.setState(ref.getState()); // the tensor run's state after 3 steps
        hp = (p.dataSync() as Float32Array).slice();
      }
      const gv = values(300, 50 + step, 8);
      if (step >= 3) host.step({ p: hp }, { p: gv }, 0.7);
      const g = tf.tensor(gv, [300]);
      const next = ref.step({ p }, { p: g }, 0.7);
      tf.dispose([p, g]);
      p = next.p!;
    }
    t.is(host.stepCount, 6);
    t.deepEqual(bits(hp), bits(p.dataSync() as Float32Array));
    t.deepEqual(bits(host.getState().groups[0]!.v), bits(ref.getState().groups[0]!.v));
    p.dispose();
    ref.dispose();
  },
);

test('bad groups, state or gradients are refused by key', (t) => {
  t.throws(() => new HostAdam([{ name: 'z', lr: -1 }]), { instanceOf: ApertureDepthError, message: /lr\.z/ });
  t.throws(() => new HostAdam([{ name: 'z', lr: 1 }], { beta2: 1 }), {
    instanceOf: ApertureDepthError,
    message: /adam\.beta2/,
  });
  const adam = new HostAdam([{ name: 'a', lr: 1 }]);
  t.throws(() => adam.step({ a: new Float32Array(3) }, { a: new Float32Array(2) }), {
    instanceOf: ApertureDepthError,
    message: /2 values, parameter 3/,
  });
  t.throws(() => adam.step({}, {}), { instanceOf: ApertureDepthError, message: /group "a"/ });
  t.is(adam.stepCount, 0, 'a refused step does not count');
  const state = {
    step: 1,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    groups: [{ name: 'b', lr: 1, shape: [1], m: new Float32Array(1), v: new Float32Array(1) }],
  };
  t.throws(() => adam.setState(state), { instanceOf: ApertureDepthError, message: /group "b"/ });
});
