import test from 'ava';
import { ApertureDepthError, check, renamingKey } from '../../core/errors.ts';

const keyed = (key: string) => () => check(false, () => 'expected 3, got 4', { file: 'a.yaml', key });

test('ApertureDepthError: file and key in front of the message; detail keeps the message alone', (t) => {
  const err = t.throws(keyed('depth.scale'), { instanceOf: ApertureDepthError });
  t.is(err!.message, 'a.yaml: depth.scale: expected 3, got 4');
  t.is(err!.detail, 'expected 3, got 4');
});

test('renamingKey: the library key becomes the user key, sync and async; other errors and results pass through', async (t) => {
  const sync = t.throws(() => renamingKey('margin', '--margin', keyed('margin')), {
    instanceOf: ApertureDepthError,
  });
  t.is(sync!.message, 'a.yaml: --margin: expected 3, got 4');
  t.is(sync!.key, '--margin');
  t.is(sync!.file, 'a.yaml');
  const later = async () => keyed('margin')();
  const async = await t.throwsAsync(renamingKey('margin', 'prior.margin', later), {
    instanceOf: ApertureDepthError,
  });
  t.is(async!.message, 'a.yaml: prior.margin: expected 3, got 4');
  const other = t.throws(() => renamingKey('margin', '--margin', keyed('steps')));
  t.is(other!.message, 'a.yaml: steps: expected 3, got 4');
  const plain = t.throws(() =>
    renamingKey('margin', '--margin', () => {
      throw new RangeError('margin');
    }),
  );
  t.true(plain instanceof RangeError);
  t.is(
    renamingKey('margin', '--margin', () => 7),
    7,
  );
  t.is(await renamingKey('margin', '--margin', async () => 8), 8);
});
