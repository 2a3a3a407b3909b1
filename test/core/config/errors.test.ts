import test from 'ava';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { loadConfig } from '../../../core/config/load.ts';
import { writeConfigTree } from './helpers.ts';

const DATA = 'data: {name: middlebury2014, root: scenes}\n';

function fails(
  t: import('ava').ExecutionContext,
  files: Record<string, string>,
  main: string,
  set: string[] = [],
) {
  const dir = writeConfigTree(files);
  const err = t.throws(() => loadConfig(join(dir, main), { set }), { instanceOf: ApertureDepthError })!;
  return { err, dir };
}

test('an unknown key names the file that has it, the key path and the nearest known key', (t) => {
  const { err, dir } = fails(
    t,
    { 'base.yaml': 'optimizer: {iterations: 5, lr: {latnet: 0.1}}\n', 'x.yaml': `base: base.yaml\n${DATA}` },
    'x.yaml',
  );
  t.is(err.file, join(dir, 'base.yaml'));
  t.is(err.key, 'optimizer.lr.latnet');
  t.regex(
    err.message,
    /base\.yaml: optimizer\.lr\.latnet: unknown key \(did you mean "latent"\?\); expected one of latent, scale_shift/,
  );
});

test('an unknown top-level key and an unknown dataset key', (t) => {
  let { err } = fails(t, { 'x.yaml': `${DATA}optimiser: {iterations: 3}\n` }, 'x.yaml');
  t.regex(err.message, /x\.yaml: optimiser: unknown key \(did you mean "optimizer"\?\)/);
  ({ err } = fails(
    t,
    { 'x.yaml': 'data: {name: middlebury2014, root: s, mask: nocc, scene: [a]}\n' },
    'x.yaml',
  ));
  t.regex(err.message, /data\.scene: unknown key \(did you mean "scenes"\?\)/);
});

test('a wrong type says what was expected and what was found', (t) => {
  let { err } = fails(t, { 'x.yaml': `${DATA}optimizer: {iterations: many}\n` }, 'x.yaml');
  t.regex(err.message, /x\.yaml: optimizer\.iterations: expected a number, got "many"/);
  ({ err } = fails(t, { 'x.yaml': `${DATA}optimizer: {iterations: 2.5}\n` }, 'x.yaml'));
  t.regex(err.message, /optimizer\.iterations: expected an integer, got 2\.5/);
  ({ err } = fails(t, { 'x.yaml': `${DATA}optics: 3\n` }, 'x.yaml'));
  t.regex(err.message, /optics: expected a mapping, got 3/);
  ({ err } = fails(t, { 'x.yaml': `${DATA}optics: {focus: far}\n` }, 'x.yaml'));
  t.regex(err.message, /optics\.focus: expected a number or "median" or "mean" or a mapping.*got "far"/);
});

test('an out-of-range value names the bound', (t) => {
  let { err } = fails(t, { 'x.yaml': `${DATA}optimizer: {lr: {latent: -1}}\n` }, 'x.yaml');
  t.regex(err.message, /optimizer\.lr\.latent: expected a number > 0, got -1/);
  ({ err } = fails(t, { 'x.yaml': `${DATA}optics: {focus: {percentile: 101}}\n` }, 'x.yaml'));
  t.regex(err.message, /optics\.focus\.percentile: expected a number <= 100, got 101/);
  ({ err } = fails(t, { 'x.yaml': `${DATA}optics: {f_number_aif: 4, f_number_blurred: 8}\n` }, 'x.yaml'));
  t.regex(err.message, /optics\.f_number_aif: f_number_aif must be larger than f_number_blurred/);
  ({ err } = fails(t, { 'x.yaml': `${DATA}variants: []\n` }, 'x.yaml'));
  t.regex(err.message, /variants: expected a list of at least 1 items/);
});

test('an unknown enum value and an unknown dataset name list the choices', (t) => {
  let { err } = fails(t, { 'x.yaml': `${DATA}optimizer: {psf: airy}\n` }, 'x.yaml');
  t.regex(err.message, /optimizer\.psf: expected one of "disc", "gaussian", got "airy"/);
  ({ err } = fails(t, { 'x.yaml': 'data: {name: kitti}\n' }, 'x.yaml'));
  t.regex(
    err.message,
    /data\.name: expected one of "pairs", "middlebury2014", "rgbd-folder", "nyuv2-labeled", got "kitti"/,
  );
});

test('a missing required key names it', (t) => {
  let { err } = fails(t, { 'x.yaml': 'seed: 1\n' }, 'x.yaml');
  t.regex(err.message, /x\.yaml: data: missing; expected a mapping/);
  ({ err } = fails(t, { 'x.yaml': 'data: {name: middlebury2014}\n' }, 'x.yaml'));
  t.regex(err.message, /data\.root: missing; expected a string/);
});

test('errors in variant overrides name the variant path', (t) => {
  let { err } = fails(
    t,
    { 'x.yaml': `${DATA}variants: [{type: full, optimizer: {iterations: -5}}]\n` },
    'x.yaml',
  );
  t.regex(err.message, /x\.yaml: variants\.0\.optimizer\.iterations: expected a number >= 0, got -5/);
  ({ err } = fails(t, { 'x.yaml': `${DATA}variants: [{type: full, prior: {step: 4}}]\n` }, 'x.yaml'));
  t.regex(err.message, /variants\.0\.prior\.step: unknown key \(did you mean "steps"\?\)/);
  ({ err } = fails(t, { 'x.yaml': `${DATA}variants: [full, {type: full}]\n` }, 'x.yaml'));
  t.regex(err.message, /variants\.1: variant name "full" is used twice/);
  ({ err } = fails(t, { 'x.yaml': `${DATA}variants: [fancy]\n` }, 'x.yaml'));
  t.regex(
    err.message,
    /variants\.0\.type: expected one of "scale-shift", "full", "pixel", "oracle", got "fancy"/,
  );
});

test('errors from --set name --set as the source', (t) => {
  let { err } = fails(t, { 'x.yaml': DATA }, 'x.yaml', ['optimizer.iterations=abc']);
  t.is(err.file, '--set');
  t.regex(err.message, /^--set: optimizer\.iterations: expected a number, got "abc"/);
  ({ err } = fails(t, { 'x.yaml': DATA }, 'x.yaml', ['optimizer.iterations']));
  t.regex(err.message, /--set: expected key\.path=value/);
  ({ err } = fails(t, { 'x.yaml': DATA }, 'x.yaml', ['variants.5.type=full']));
  t.regex(err.message, /--set: variants\.5: "5" is not an index of this list/);
});

test('several problems are listed in one message', (t) => {
  const { err } = fails(t, { 'x.yaml': `${DATA}seed: -1\noptimizer: {iterations: -1}\n` }, 'x.yaml');
  t.regex(
    err.message,
    /seed: expected a number >= 0, got -1\n {2}also .*x\.yaml: optimizer\.iterations: expected a number >= 0, got -1/,
  );
});
