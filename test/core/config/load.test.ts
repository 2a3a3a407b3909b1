import test from 'ava';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { configToYaml, loadConfig, parseConfigYaml } from '../../../core/config/load.ts';
import { writeConfigTree } from './helpers.ts';

const DATA = 'data: {name: middlebury2014, root: ../scenes}\n';

test('bases merge in order, later keys win, the file itself wins last', (t) => {
  const dir = writeConfigTree({
    'base/optics.yaml':
      'optics: {focal_length_mm: 35, f_number_aif: 22, f_number_blurred: 8}\noptimizer: {iterations: 50}\n',
    'base/fast.yaml': 'optics: {focal_length_mm: 85}\noptimizer: {iterations: 20, lr: {latent: 0.01}}\n',
    'exp/run.yaml': `base: [../base/optics.yaml, ../base/fast.yaml]\n${DATA}optimizer: {iterations: 7}\n`,
  });
  const { config, files } = loadConfig(join(dir, 'exp/run.yaml'));
  t.is(config.optics.focal_length_mm, 85); // fast.yaml after optics.yaml
  t.is(config.optics.f_number_blurred, 8); // kept from optics.yaml (deep merge)
  t.is(config.optimizer.iterations, 7); // the file itself last
  t.is(config.optimizer.lr?.latent, 0.01);
  t.is(config.optimizer.lr?.scale_shift, undefined); // left to the optimizer's default
  t.deepEqual(
    files.map((f) => f.slice(dir.length + 1)),
    ['base/optics.yaml', 'base/fast.yaml', 'exp/run.yaml'],
  );
});

test('nested bases, a single base string, lists replaced, null deletes', (t) => {
  const dir = writeConfigTree({
    'a.yaml': `data: {name: middlebury2014, root: scenes, scenes: [ArtL, Teddy], limit: 1}\nvariants: [full, scale-shift]\n`,
    'b.yaml': 'base: a.yaml\nvariants: [oracle]\n',
    'c.yaml': 'base: b.yaml\ndata: {limit: null}\n',
  });
  const { config } = loadConfig(join(dir, 'c.yaml'));
  t.deepEqual(config.variants, [{ type: 'oracle' }]);
  t.deepEqual((config.data as { scenes?: string[] }).scenes, ['ArtL', 'Teddy']);
  t.is(config.data.limit, undefined);
});

test('relative paths are resolved against the file that sets them', (t) => {
  const dir = writeConfigTree({
    'configs/base/data.yaml':
      'data: {name: middlebury2014, root: ../../data/mb}\nprior: {model: ../../models/tiny}\n',
    'configs/x.yaml': 'base: [base/data.yaml]\n',
  });
  const { config } = loadConfig(join(dir, 'configs/x.yaml'));
  t.is((config.data as { root: string }).root, join(dir, 'data/mb'));
  t.is(config.prior.model, join(dir, 'models/tiny'));
  const named = loadConfig(join(dir, 'configs/x.yaml'), { set: ['prior.model=sd2-tiny'] });
  t.is(named.config.prior.model, 'sd2-tiny'); // a name, not a path
});

test('environment variables expand in paths; an unset one names the key', (t) => {
  const dir = writeConfigTree({ 'x.yaml': 'data: {name: middlebury2014, root: "${AD_TEST_DATA}/mb"}\n' });
  process.env.AD_TEST_DATA = '/srv/data';
  t.is((loadConfig(join(dir, 'x.yaml')).config.data as { root: string }).root, '/srv/data/mb');
  delete process.env.AD_TEST_DATA;
  const err = t.throws(() => loadConfig(join(dir, 'x.yaml')), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /x\.yaml: data\.root: environment variable AD_TEST_DATA is not set/);
});

test('--set overrides parse YAML scalars and win over every file', (t) => {
  const dir = writeConfigTree({
    'x.yaml': `${DATA}optimizer: {iterations: 7}\nvariants: [full, scale-shift]\n`,
  });
  const { config, variants } = loadConfig(join(dir, 'x.yaml'), {
    set: [
      'optimizer.iterations=100',
      'optimizer.lr.latent=1e-2',
      'optimizer.relative_blur=true',
      'data.scenes=[ArtL, Teddy]',
      'variants.1.name=ss',
      'output.dir=runs/x',
      'optics.focus=1.25',
    ],
    cwd: '/work/here',
  });
  t.is(config.optimizer.iterations, 100);
  t.is(config.optimizer.lr?.latent, 0.01);
  t.true(config.optimizer.relative_blur);
  t.deepEqual((config.data as { scenes?: string[] }).scenes, ['ArtL', 'Teddy']);
  t.is(config.optics.focus, 1.25);
  t.is(config.output.dir, 'runs/x'); // run folders stay relative to the working directory
  t.deepEqual(
    variants.map((v) => v.name),
    ['full', 'ss'],
  );
  // A list set on the command line takes the same canonical form as one from a file.
  const listed = loadConfig(join(dir, 'x.yaml'), { set: ['variants=[oracle, {type: full, name: f}]'] });
  t.deepEqual(listed.config.variants, [{ type: 'oracle' }, { type: 'full', name: 'f' }]);
  const rooted = loadConfig(join(dir, 'x.yaml'), { set: ['data.root=mb'], cwd: '/work/here' });
  t.is((rooted.config.data as { root: string }).root, '/work/here/mb');
});

test('variant overrides merge onto prior and optimizer', (t) => {
  const dir = writeConfigTree({
    'x.yaml': `${DATA}optimizer: {iterations: 200, lr: {latent: 0.002}}
variants:
  - scale-shift
  - {name: full-4, type: full, prior: {steps: 4}, optimizer: {lr: {scale_shift: 0.01}}}
`,
  });
  const { variants } = loadConfig(join(dir, 'x.yaml'));
  t.is(variants[0]!.name, 'scale-shift');
  t.is(variants[0]!.prior.steps, undefined); // the checkpoint's default
  t.is(variants[1]!.name, 'full-4');
  t.is(variants[1]!.type, 'full');
  t.is(variants[1]!.prior.steps, 4);
  t.is(variants[1]!.optimizer.lr?.scale_shift, 0.01);
  t.is(variants[1]!.optimizer.lr?.latent, 0.002); // inherited from the config's optimizer
  t.is(variants[1]!.optimizer.iterations, 200);
});

test('the resolved config written out loads back to the same config', (t) => {
  const dir = writeConfigTree({
    'base.yaml': `${DATA}optics: {focus: {percentile: 40}}\n`,
    'x.yaml': 'base: base.yaml\nvariants: [scale-shift, {type: full, name: f4, prior: {steps: 4}}]\n',
  });
  const first = loadConfig(join(dir, 'x.yaml'), { set: ['seed=3'] });
  const text = configToYaml(first);
  t.regex(text, /^# Resolved/);
  const again = parseConfigYaml(text, join(dir, 'run/config.yaml'), { cwd: '/elsewhere' });
  t.deepEqual(again.config, first.config);
  t.deepEqual(again.variants, first.variants);
});

test('an inheritance cycle is an error naming the chain', (t) => {
  const dir = writeConfigTree({
    'a.yaml': 'base: b.yaml\n',
    'b.yaml': 'base: [c.yaml]\n',
    'c.yaml': 'base: a.yaml\n',
  });
  const err = t.throws(() => loadConfig(join(dir, 'a.yaml')), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /cycle: .*a\.yaml -> .*b\.yaml -> .*c\.yaml -> .*a\.yaml/);
  t.is(err!.key, 'base');
});

test('a missing base, bad YAML and a non-mapping file name the file', (t) => {
  const dir = writeConfigTree({
    'a.yaml': 'base: nope.yaml\n',
    'b.yaml': 'data: {name: [\n',
    'c.yaml': '- 1\n- 2\n',
    'd.yaml': 'base: 3\n',
    'e.yaml': 'seed: 1\nseed: 2\n',
  });
  let err = t.throws(() => loadConfig(join(dir, 'a.yaml')), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /nope\.yaml: config file does not exist/);
  err = t.throws(() => loadConfig(join(dir, 'b.yaml')), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /b\.yaml: invalid YAML at line \d/);
  err = t.throws(() => loadConfig(join(dir, 'c.yaml')), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /c\.yaml: expected a mapping of keys at the top level, got a list/);
  err = t.throws(() => loadConfig(join(dir, 'd.yaml')), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /d\.yaml: base: expected a file name or a list of file names, got 3/);
  err = t.throws(() => loadConfig(join(dir, 'e.yaml')), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /e\.yaml: invalid YAML.*unique/i);
});
