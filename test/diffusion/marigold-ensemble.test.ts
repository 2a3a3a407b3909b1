import test from 'ava';
import { ApertureDepthError } from '../../core/errors.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { ensembleDepth } from '../../diffusion/marigold/ensemble-depth.ts';

/** Marigold's test-time ensembling (`ensembleDepth`): alignment, reductions, normalization, spread. */

const N = 20 * 15;
/** A smooth map with a bump, values in [0.2, 0.9]. */
const base = Float32Array.from({ length: N }, (_, p) => {
  const x = (p % 20) / 19;
  const y = Math.floor(p / 20) / 14;
  return 0.2 + 0.5 * y + 0.2 * Math.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) * 20);
});
const normalized = (m: Float32Array): Float32Array => {
  const lo = Math.min(...m);
  const hi = Math.max(...m);
  return m.map((v) => (v - lo) / (hi - lo));
};
const maxAbsDiff = (a: Float32Array, b: Float32Array): number =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const meanAbsDiff = (a: Float32Array, b: Float32Array): number =>
  a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
const affine = (m: Float32Array, s: number, t: number): Float32Array => m.map((v) => s * v + t);

test('affine members of one map ensemble to that map normalized, with zero spread, both reductions', (t) => {
  const members = [affine(base, 1, 0), affine(base, 0.5, 0.3), affine(base, 2, -0.4), affine(base, 0.8, 0.1)];
  for (const reduction of ['median', 'mean'] as const) {
    const r = ensembleDepth(members, { reduction, uncertainty: true });
    t.true(maxAbsDiff(r.depth, normalized(base)) < 1e-5, reduction);
    t.true(Math.max(...r.uncertainty!) < 1e-5, reduction);
    t.is(Math.min(...r.depth), 0);
    t.is(Math.max(...r.depth), 1);
  }
});

test('the fits bring every member onto a common map: member 2 (2 x base - 0.4) gets half the scale of member 0', (t) => {
  const r = ensembleDepth([affine(base, 1, 0), affine(base, 2, -0.4), affine(base, 1, 0)], {
    reduction: 'mean',
  });
  const [f0, f1] = r.fits;
  t.true(Math.abs(f1!.scale / f0!.scale - 0.5) < 1e-4);
  // 2 (base) - 0.4 mapped by (s1, t1) equals base mapped by (s0, t0): t1 = t0 + 0.4 s1 ... at every pixel.
  for (const p of [0, 77, N - 1]) {
    const a = f0!.scale * base[p]! + f0!.shift;
    const b = f1!.scale * (2 * base[p]! - 0.4) + f1!.shift;
    t.true(Math.abs(a - b) < 1e-4, `pixel ${p}`);
  }
});

test('noise averages out: 9 noisy members land closer to the truth than any one of them', (t) => {
  const rng = new Rng(3);
  const members = Array.from({ length: 9 }, (_, i) =>
    base.map((v) => (1 + 0.1 * i) * (v + 0.05 * rng.normal()) + 0.02 * i),
  );
  const truth = normalized(base);
  const singles = members.map((m) => meanAbsDiff(normalized(m), truth));
  for (const reduction of ['median', 'mean'] as const) {
    const err = meanAbsDiff(ensembleDepth(members, { reduction }).depth, truth);
    t.true(err < 0.6 * Math.min(...singles), `${reduction}: ${err} vs best single ${Math.min(...singles)}`);
  }
});

test('the median ignores one member with a wild patch where the mean does not (absolute members)', (t) => {
  const rng = new Rng(5);
  const wild = base.map((v, p) => (p % 20 < 5 && p < 100 ? v + 2 : v)); // a 5 x 5 patch 2 too far
  const members = [...Array.from({ length: 4 }, () => base.map((v) => v + 0.01 * rng.normal())), wild];
  const med = maxAbsDiff(ensembleDepth(members, { reduction: 'median', alignment: 'none' }).depth, base);
  const mean = maxAbsDiff(ensembleDepth(members, { reduction: 'mean', alignment: 'none' }).depth, base);
  t.true(med < 0.03, `median ${med}`);
  t.true(Math.abs(mean - 0.4) < 0.03, `mean ${mean}`); // 2 / 5 on the patch
});

test('one round fits each member to the plain mean by least squares; a disagreeing member is shrunk', (t) => {
  const wild = base.map((v, p) => (p % 20 < 5 && p < 100 ? v + 2 : v)); // a 5 x 5 patch 2 too far
  const r = ensembleDepth([base, base, base, base, wild], { reduction: 'mean', iterations: 1 });
  const ref = base.map((v, p) => (4 * v + wild[p]!) / 5);
  const lsq = (m: Float32Array) => {
    const mm = m.reduce((a, v) => a + v, 0) / N;
    const mr = ref.reduce((a, v) => a + v, 0) / N;
    let cov = 0;
    let vm = 0;
    m.forEach((v, p) => {
      cov += (v - mm) * (ref[p]! - mr);
      vm += (v - mm) ** 2;
    });
    return { scale: cov / vm, shift: mr - (cov / vm) * mm };
  };
  for (const i of [0, 4]) {
    const want = lsq(i === 4 ? wild : base);
    t.true(
      Math.abs(r.fits[i]!.scale - want.scale) < 1e-4 && Math.abs(r.fits[i]!.shift - want.shift) < 1e-4,
      `member ${i}`,
    );
  }
  t.true(r.fits[4]!.scale < 0.25, `the wild member's scale ${r.fits[4]!.scale}`);
});

test('scale alignment divides by the max; none keeps absolute values (the plain mean)', (t) => {
  const scaled = ensembleDepth([affine(base, 1, 0), affine(base, 3, 0)], {
    alignment: 'scale',
    reduction: 'mean',
  });
  const maxBase = Math.max(...base);
  t.true(
    maxAbsDiff(
      scaled.depth,
      base.map((v) => v / maxBase),
    ) < 1e-5,
  );
  const none = ensembleDepth([affine(base, 1, 0), affine(base, 1, 0.2)], {
    alignment: 'none',
    reduction: 'mean',
  });
  t.true(maxAbsDiff(none.depth, affine(base, 1, 0.1)) < 1e-6);
  t.deepEqual(none.fits, [
    { scale: 1, shift: 0 },
    { scale: 1, shift: 0 },
  ]);
});

test('a constant member does not break the fit (identity scale, shifted to the reduction)', (t) => {
  const r = ensembleDepth([affine(base, 1, 0), new Float32Array(N).fill(0.5), affine(base, 1, 0)], {
    reduction: 'median',
  });
  t.true(r.depth.every(Number.isFinite));
  t.true(maxAbsDiff(r.depth, normalized(base)) < 1e-5);
  t.is(r.fits[1]!.scale, 1);
});

test('bad input names what is wrong', (t) => {
  const err = (f: () => unknown, pattern: RegExp) => {
    const e = t.throws(f, { instanceOf: ApertureDepthError });
    t.regex(e!.message, pattern);
  };
  err(() => ensembleDepth([]), /ensemble.*no members/);
  err(() => ensembleDepth([base, base.subarray(1)]), /member 1 has 299 values, member 0 has 300/);
  err(
    () => ensembleDepth([base], { reduction: 'max' as never }),
    /ensemble\.reduction.*median, mean, got max/,
  );
  err(
    () => ensembleDepth([base], { alignment: 'log' as never }),
    /ensemble\.alignment.*affine, scale, none, got log/,
  );
  err(() => ensembleDepth([base], { iterations: 1.5 }), /ensemble\.iterations.*integer >= 0, got 1.5/);
});
