import test from 'ava';
import {
  CLUTTER_SEED_START,
  EVAL_SEED_COUNT,
  SCENE_KINDS,
  TEST_SEED_START,
  TRAIN_SEED_END,
  VALIDATION_SEED_START,
  generateScene,
  seedSplit,
  trainingSeeds,
} from '../../experiments/training/procedural-scenes.ts';
import { VALIDATION_SPLIT_OFFSET, heldOutProcedural } from '../../experiments/training/eval/eval-scenes.ts';
import { PlanePrimitive, SpherePrimitive, BoxPrimitive, CylinderPrimitive, type Vec3 } from '../../experiments/training/scene/primitives.ts';
import { makeCamera, renderScene, type SceneObject } from '../../experiments/training/scene/raycast.ts';
import { makeTexture, TEXTURE_KINDS } from '../../experiments/training/scene/textures.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { ApertureDepthError } from '../../core/errors.ts';

const grey = (_u: number, _v: number, out: Vec3): void => {
  out[0] = out[1] = out[2] = 0.5;
};
const obj = (primitive: SceneObject['primitive']): SceneObject => ({ primitive, texture: grey, castsShadow: true });

/** Camera at the origin looking along +z: pixel (i, j) ray = ((j - cx) / f, -(i - cy) / f, 1) in the world. */
function frontalCamera(w: number, h: number) {
  return makeCamera(w, h, Math.PI / 3, [0, 0, 0], 0, 0, 0);
}

test('same seed gives identical scenes, different seeds differ', (t) => {
  const a = generateScene(12, { width: 24, height: 16 });
  const b = generateScene(12, { width: 24, height: 16 });
  const c = generateScene(13, { width: 24, height: 16 });
  t.deepEqual(a.rgb, b.rgb);
  t.deepEqual(a.depth, b.depth);
  t.is(a.kind, b.kind);
  t.notDeepEqual(a.depth, c.depth);
});

test('every scene kind renders finite positive depth and rgb in [0, 1]', (t) => {
  for (const kind of SCENE_KINDS) {
    for (const seed of [0, 1, TEST_SEED_START + 3]) {
      const s = generateScene(seed, { width: 20, height: 15, kind, supersample: 1 });
      t.is(s.depth.length, 300);
      t.is(s.rgb.length, 900);
      t.true(s.depth.every((d) => Number.isFinite(d) && d > 0.05 && d < 60), `${kind} ${seed} depth`);
      t.true(s.rgb.every((v) => v >= 0 && v <= 1), `${kind} ${seed} rgb`);
      let lo = Infinity;
      let hi = -Infinity;
      for (const d of s.depth) {
        lo = Math.min(lo, d);
        hi = Math.max(hi, d);
      }
      t.true(hi > lo, `${kind} ${seed}: depth is not constant`);
    }
  }
});

test('train/test split by seed range', (t) => {
  t.is(seedSplit(0), 'train');
  t.is(seedSplit(TRAIN_SEED_END - 1), 'train');
  t.is(seedSplit(TEST_SEED_START), 'test');
  t.true(TEST_SEED_START >= TRAIN_SEED_END);
  // Training's validation scenes are held out too, and none of them is an evaluation scene.
  t.is(seedSplit(VALIDATION_SEED_START), 'test');
  t.is(VALIDATION_SEED_START, TEST_SEED_START + EVAL_SEED_COUNT);
  t.throws(() => heldOutProcedural(EVAL_SEED_COUNT, 8, 8, []), { message: /\[0, 500000\), got 500000/ });
  t.is(heldOutProcedural(EVAL_SEED_COUNT - 1, 8, 8, []).name.split('-')[0], `procedural/${VALIDATION_SEED_START - 1}`);
  // eval-prior --split validation: past the training log's monitoring scenes (train-prior --val-scenes, 8).
  const v0 = heldOutProcedural(0, 8, 8, [], 'validation');
  t.is(v0.name.split('-')[0], `procedural/${VALIDATION_SEED_START + VALIDATION_SPLIT_OFFSET}`);
  t.true(VALIDATION_SPLIT_OFFSET >= 8);
  t.notDeepEqual(v0.rgb, heldOutProcedural(0, 8, 8, []).rgb);
  t.throws(() => heldOutProcedural(0, 8, 8, [], 'train' as 'test'), { message: /split.*test, validation, got train/ });
  t.throws(() => seedSplit(-1), { instanceOf: ApertureDepthError });
  t.throws(() => seedSplit(1.5), { instanceOf: ApertureDepthError });
});

/** Fraction of horizontal neighbour pairs whose depths differ by more than 5 % (object edges). */
function edgeFraction(depth: Float32Array, w: number, h: number): number {
  let n = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x + 1 < w; x++) if (Math.abs(Math.log(depth[y * w + x]! / depth[y * w + x + 1]!)) > 0.05) n++;
  return n / (h * (w - 1));
}

test('clutter scenes: the training seeds from CLUTTER_SEED_START on, with twice the depth edges of the drawn kinds', (t) => {
  t.true(CLUTTER_SEED_START < TRAIN_SEED_END);
  t.is(generateScene(CLUTTER_SEED_START, { width: 12, height: 9, supersample: 1 }).kind, 'clutter');
  t.is(generateScene(TRAIN_SEED_END - 1, { width: 12, height: 9, supersample: 1 }).kind, 'clutter');
  // No held-out seed (evaluation or validation) is a clutter scene, and seeds below the range keep their drawn kind.
  for (const seed of [CLUTTER_SEED_START - 1, TEST_SEED_START, TEST_SEED_START + 7, VALIDATION_SEED_START]) {
    t.not(generateScene(seed, { width: 12, height: 9, supersample: 1 }).kind, 'clutter', `seed ${seed}`);
  }
  let clutter = 0;
  let drawn = 0;
  for (let k = 0; k < 8; k++) {
    clutter += edgeFraction(generateScene(CLUTTER_SEED_START + k, { width: 48, height: 36, supersample: 1 }).depth, 48, 36);
    drawn += edgeFraction(generateScene(k, { width: 48, height: 36, supersample: 1 }).depth, 48, 36);
  }
  t.true(clutter > 2 * drawn, `edge fraction: clutter ${clutter / 8}, drawn kinds ${drawn / 8}`);
  t.deepEqual(trainingSeeds(3, 2), [0, 1, 2, CLUTTER_SEED_START, CLUTTER_SEED_START + 1]);
  t.deepEqual(trainingSeeds(2), [0, 1]);
  t.throws(() => trainingSeeds(CLUTTER_SEED_START + 1), { message: /scene count must be an integer in \[0, 500000\], got 500001/ });
  t.throws(() => trainingSeeds(10, -1), { message: /clutter scene count must be an integer in \[0, 500000\], got -1/ });
});

test('a frontal plane has constant depth, a slanted one the analytic depth', (t) => {
  const w = 17;
  const h = 11;
  const cam = frontalCamera(w, h);
  const frontal = renderScene({ camera: cam, objects: [obj(new PlanePrimitive([0, 0, 4], [0, 0, -1]))], lights: [], ambient: [1, 1, 1] }, { supersample: 1 });
  for (const d of frontal.depth) t.true(Math.abs(d - 4) < 1e-5);
  // Plane through (0, 0, 5) with normal n: n . (t * ray) = n . p0  ->  t = 5 n_z / (n . ray).
  const n: Vec3 = [0.3, -0.2, -1];
  const slanted = renderScene({ camera: cam, objects: [obj(new PlanePrimitive([0, 0, 5], n))], lights: [], ambient: [1, 1, 1] }, { supersample: 1 });
  let maxErr = 0;
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const ray = [(j - cam.cx) / cam.focalPx, -(i - cam.cy) / cam.focalPx, 1];
      const expected = (5 * n[2]) / (n[0] * ray[0] + n[1] * ray[1] + n[2] * ray[2]);
      maxErr = Math.max(maxErr, Math.abs(slanted.depth[i * w + j] - expected) / expected);
    }
  }
  t.true(maxErr < 1e-6, `max relative error ${maxErr}`);
});

test('a sphere in front of a wall: analytic depth with occlusion', (t) => {
  const w = 21;
  const h = 15;
  const cam = frontalCamera(w, h);
  const c: Vec3 = [0.2, -0.1, 3];
  const r = 0.8;
  const scene = {
    camera: cam,
    objects: [obj(new PlanePrimitive([0, 0, 6], [0, 0, -1])), obj(new SpherePrimitive(c, r))],
    lights: [],
    ambient: [1, 1, 1] as Vec3,
  };
  const frame = renderScene(scene, { supersample: 1 });
  let onSphere = 0;
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const d = [(j - cam.cx) / cam.focalPx, -(i - cam.cy) / cam.focalPx, 1];
      const dd = d[0] ** 2 + d[1] ** 2 + 1;
      const dc = d[0] * c[0] + d[1] * c[1] + d[2] * c[2];
      const disc = dc * dc - dd * (c[0] ** 2 + c[1] ** 2 + c[2] ** 2 - r * r);
      const expected = disc >= 0 ? (dc - Math.sqrt(disc)) / dd : 6;
      if (disc >= 0) onSphere++;
      t.true(Math.abs(frame.depth[i * w + j] - expected) < 1e-5 * expected, `pixel ${i},${j}`);
    }
  }
  t.true(onSphere > 20 && onSphere < w * h - 20);
});

test('box and cylinder faces give their analytic depth', (t) => {
  const cam = frontalCamera(9, 9);
  const axes: [Vec3, Vec3, Vec3] = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  // A box whose front face is the plane z = 2, covering the whole view.
  const box = renderScene({ camera: cam, objects: [obj(new BoxPrimitive([0, 0, 3], axes, [5, 5, 1]))], lights: [], ambient: [1, 1, 1] }, { supersample: 1 });
  for (const d of box.depth) t.true(Math.abs(d - 2) < 1e-6);
  // A cylinder along z, seen end-on: its cap at z = 1.5.
  const cyl = renderScene(
    { camera: cam, objects: [obj(new PlanePrimitive([0, 0, 9], [0, 0, -1])), obj(new CylinderPrimitive([0, 0, 1.5], [0, 0, 1], 0.3, 1))], lights: [], ambient: [1, 1, 1] },
    { supersample: 1 },
  );
  t.true(Math.abs(cyl.depth[4 * 9 + 4] - 1.5) < 1e-6);
  t.true(Math.abs(cyl.depth[0] - 9) < 1e-6);
});

test('Lambertian shading: shadowed wall = ambient / (ambient + cos) of the lit wall', (t) => {
  const cam = frontalCamera(9, 9);
  const wall = new PlanePrimitive([0, 0, 3], [0, 0, -1]);
  const render = (objects: SceneObject[], dir: Vec3) =>
    renderScene(
      { camera: cam, objects, lights: [{ kind: 'directional', direction: dir, color: [1, 1, 1] }], ambient: [0.1, 0.1, 0.1] },
      { supersample: 1, gamma: 1, exposureQuantile: 0.999, exposureTarget: 1 },
    );
  // Light from the right (towards +x, -z): the sphere at z = 1.5 shadows the wall at x = -0.75, i.e.
  // pixel (4, 2); its mirror pixel (4, 6) stays lit.
  const l: Vec3 = [0.4472136, 0, -0.8944272];
  const shadowed = render([obj(wall), obj(new SpherePrimitive([0, 0, 1.5], 0.2))], l);
  const ratio = shadowed.rgb[3 * (4 * 9 + 2)] / shadowed.rgb[3 * (4 * 9 + 6)];
  t.true(Math.abs(ratio - 0.1 / (0.1 + 0.8944272)) < 1e-4, `ratio ${ratio}`);
});

test('every texture kind is deterministic and in range', (t) => {
  const images = [{ name: 'x', width: 4, height: 3, rgb: new Float32Array(36).map((_, i) => (i % 7) / 7) }];
  for (const kind of TEXTURE_KINDS) {
    const a = makeTexture(kind, new Rng(5), 0.3, images);
    const b = makeTexture(kind, new Rng(5), 0.3, images);
    const oa: Vec3 = [0, 0, 0];
    const ob: Vec3 = [0, 0, 0];
    for (let k = 0; k < 50; k++) {
      const u = k * 0.037 - 0.9;
      const v = k * 0.051 - 1.1;
      a(u, v, oa);
      b(u, v, ob);
      t.deepEqual(oa, ob);
      t.true(oa.every((x) => x >= 0 && x <= 1), `${kind}`);
    }
  }
});
