import test from 'ava';
import { Rng } from '../../../core/tensor/rng.ts';
import { ApertureDepthError } from '../../../core/errors.ts';

test('same seed, same sequence; different seeds differ', (t) => {
  t.deepEqual(Array.from(new Rng(7).normalArray(16)), Array.from(new Rng(7).normalArray(16)));
  t.notDeepEqual(Array.from(new Rng(7).normalArray(16)), Array.from(new Rng(8).normalArray(16)));
});

test('state round trip continues the sequence exactly', (t) => {
  const a = new Rng(3);
  a.normalArray(5);
  const b = Rng.fromState(JSON.parse(JSON.stringify(a.state())));
  t.deepEqual(Array.from(a.uniformArray(10)), Array.from(b.uniformArray(10)));
});

test('normal samples have about zero mean and unit variance', (t) => {
  const x = new Rng(1).normalArray(20000);
  let s = 0;
  let ss = 0;
  for (const v of x) {
    s += v;
    ss += v * v;
  }
  const mean = s / x.length;
  t.true(Math.abs(mean) < 0.03);
  t.true(Math.abs(ss / x.length - mean * mean - 1) < 0.05);
  const u = new Rng(2).uniformArray(1000);
  t.true(u.every((v) => v >= 0 && v < 1));
});

test('bad state is rejected', (t) => {
  t.throws(() => Rng.fromState([1, 2, 3] as unknown as [number, number, number, number]), {
    instanceOf: ApertureDepthError,
  });
});
