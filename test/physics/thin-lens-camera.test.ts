import test from 'ava';
import { ApertureDepthError } from '../../core/errors.ts';
import { checkFNumber, ThinLensCamera } from '../../physics/thin-lens-camera.ts';

test('camera keeps its parameters and converts units', (t) => {
  const cam = new ThinLensCamera({ focalLengthMm: 50, pixelPitchUm: 6.4, focusDistanceM: 1.2 });
  t.is(cam.focalLengthMm, 50);
  t.is(cam.focalLengthM, 0.05);
  t.true(Math.abs(cam.pixelPitchM - 6.4e-6) < 1e-18);
  t.is(cam.focusDistanceM, 1.2);
  t.true(Object.isFrozen(cam));
});

test('fromJson reads snake_case keys and round-trips through toJson', (t) => {
  const json = { focal_length_mm: 35, pixel_pitch_um: 4.3, focus_distance_m: 0.9, exposure_s: 0.01 };
  const cam = ThinLensCamera.fromJson(json);
  t.deepEqual(cam.toJson(), { focal_length_mm: 35, pixel_pitch_um: 4.3, focus_distance_m: 0.9 });
  t.deepEqual(ThinLensCamera.fromJson(cam.toJson()).toJson(), cam.toJson());
});

const bad: [Record<string, unknown>, string][] = [
  [{ focalLengthMm: 0, pixelPitchUm: 5, focusDistanceM: 2 }, 'focalLengthMm'],
  [{ focalLengthMm: -50, pixelPitchUm: 5, focusDistanceM: 2 }, 'focalLengthMm'],
  [{ focalLengthMm: 50, pixelPitchUm: Number.NaN, focusDistanceM: 2 }, 'pixelPitchUm'],
  [{ focalLengthMm: 50, pixelPitchUm: 5, focusDistanceM: Infinity }, 'focusDistanceM'],
  [{ focalLengthMm: 50, pixelPitchUm: 5, focusDistanceM: 0.05 }, 'focusDistanceM'],
  [{ focalLengthMm: 50, pixelPitchUm: 5, focusDistanceM: 0.02 }, 'focusDistanceM'],
  [{ focalLengthMm: '50', pixelPitchUm: 5, focusDistanceM: 2 }, 'focalLengthMm'],
];

for (const [params, key] of bad) {
  test(`rejects ${JSON.stringify(params)} naming ${key}`, (t) => {
    const err = t.throws(() => new ThinLensCamera(params as never), { instanceOf: ApertureDepthError });
    t.is(err!.key, key);
  });
}

test('fromJson errors name the snake_case key and the file', (t) => {
  const err = t.throws(
    () =>
      ThinLensCamera.fromJson(
        { focal_length_mm: 50, pixel_pitch_um: 5, focus_distance_m: 0.04 },
        'pair.json',
      ),
    { instanceOf: ApertureDepthError },
  );
  t.is(err!.key, 'focus_distance_m');
  t.is(err!.file, 'pair.json');
  t.regex(err!.message, /^pair\.json: focus_distance_m: .*exceed the focal length/);

  const missing = t.throws(
    () => ThinLensCamera.fromJson({ focal_length_mm: 50, pixel_pitch_um: 5 }, 'a.json'),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.is(missing!.key, 'focus_distance_m');
  t.regex(missing!.message, /missing/);

  const prefixed = t.throws(
    () =>
      ThinLensCamera.fromJson(
        { focal_length_mm: 50, pixel_pitch_um: -1, focus_distance_m: 2 },
        'p.json',
        'camera.',
      ),
    { instanceOf: ApertureDepthError },
  );
  t.is(prefixed!.key, 'camera.pixel_pitch_um');
  t.throws(() => ThinLensCamera.fromJson([1, 2, 3]), { instanceOf: ApertureDepthError });
  t.throws(() => ThinLensCamera.fromJson(null), { instanceOf: ApertureDepthError });
});

test('checkFNumber rejects non-finite and non-positive values by name', (t) => {
  t.notThrows(() => checkFNumber(8));
  for (const v of [0, -2, Number.NaN, Infinity, '8', undefined]) {
    const err = t.throws(() => checkFNumber(v, 'fNumberBlurred'), { instanceOf: ApertureDepthError });
    t.is(err!.key, 'fNumberBlurred');
  }
});
