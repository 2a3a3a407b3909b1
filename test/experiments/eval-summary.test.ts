import test from 'ava';
import { summarize, type SceneResult } from '../../experiments/training/eval-prior.ts';
import { formatMeanAndError, meanAndError, meanOf } from '../../core/metrics/mean-and-error.ts';

/** The evaluation summary's paired differences (prior - plane) with their standard errors. */

test('meanAndError: sample standard deviation over sqrt(n)', (t) => {
  const r = meanAndError([1, 2, 3, 4]);
  t.is(r.mean, 2.5);
  t.true(Math.abs(r.stderr - Math.sqrt(5 / 3) / 2) < 1e-12); // sd = sqrt(5/3), n = 4
  t.deepEqual(meanAndError([0.3]), { mean: 0.3, stderr: 0 });
  t.deepEqual(meanAndError([]), { mean: 0, stderr: 0 });
  t.is(meanOf([1, 2, 3, 6]), 3);
  t.true(Number.isNaN(meanOf([])));
  t.is(formatMeanAndError({ mean: 0.01234, stderr: 0.0045 }), '+0.0123 ± 0.0045');
  t.is(formatMeanAndError({ mean: -0.00001, stderr: 0.1 }), '0.0000 ± 0.1000');
  t.is(formatMeanAndError({ mean: -0.02, stderr: 0 }), '-0.0200 ± 0.0000');
});

const scene = (name: string, prior: [number, number], plane: [number, number]): SceneResult => ({
  name,
  width: 4,
  height: 3,
  prior: { abs_rel: prior[0], delta1: prior[1], count: 12 },
  plane: { abs_rel: plane[0], delta1: plane[1], count: 12 },
});

test('summarize: means, paired differences and the verdict on both metrics', (t) => {
  const s = summarize([scene('a', [0.1, 0.9], [0.2, 0.8]), scene('b', [0.3, 0.7], [0.2, 0.8])]);
  t.true(Math.abs(s.prior.abs_rel - 0.2) < 1e-12);
  t.true(Math.abs(s.difference.abs_rel.mean) < 1e-12); // +0.1 and -0.1
  t.true(Math.abs(s.difference.abs_rel.stderr - 0.1) < 1e-12); // sd sqrt(0.02), over sqrt(2)
  t.true(Math.abs(s.difference.delta1.stderr - 0.1) < 1e-12);
  t.false(s.beatsPlane); // a tie is not a win
  const better = summarize([scene('a', [0.1, 0.9], [0.2, 0.8]), scene('b', [0.15, 0.85], [0.2, 0.8])]);
  t.true(better.beatsPlane);
  t.true(Math.abs(better.difference.abs_rel.mean + 0.075) < 1e-12);
  t.is(better.ceiling, undefined);
  const withCeiling = summarize([{ ...scene('a', [0.1, 0.9], [0.2, 0.8]), ceiling: { abs_rel: 0.03, delta1: 0.99, count: 12 } }]);
  t.deepEqual(withCeiling.ceiling, { abs_rel: 0.03, delta1: 0.99 });
});
