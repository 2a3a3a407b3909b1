/**
 * Bench: forward and forward+backward (gradient in depth) time of each renderer on a 768x512 RGB scene whose
 * CoCs reach about 25 px, plus the brute-force eq. 6 (forward only, not differentiable).
 *
 *   npx tsx experiments/bench/renderers.ts
 *   npx tsx experiments/bench/renderers.ts --renderer scatter --size 768x512 --max-coc 25 --reps 3
 *   npx tsx experiments/bench/renderers.ts --renderer scatter-brute-force --brute-force-scale 0.5
 *
 * Scene: textured RGB over a depth ramp from 1.2 m to 6 m with a near box (0.96 m, clamped by `maxCocPx`),
 * camera f = 50 mm, s = 5 um, F = 2 m; the f-number is chosen so both ends of the ramp have CoC `--max-coc`.
 * `--brute-force-scale s` runs the brute force at `s` times the size (same CoC range) and extrapolates the time
 * by the pixel count (cost per pixel depends only on the CoCs). Every result line ends with its rerun command.
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { initEngine, type BackendName } from '../../core/engine/backend.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { cocScalePx } from '../../physics/circle-of-confusion.ts';
import { RENDERERS } from '../../physics/renderers/index.ts';
import { ThinLensCamera } from '../../physics/thin-lens-camera.ts';

interface BenchScene {
  aif: tf.Tensor3D;
  depth: tf.Tensor2D;
  weights: tf.Tensor3D;
}

function makeScene(H: number, W: number, seed = 1): BenchScene {
  const rng = new Rng(seed);
  const img = new Float32Array(H * W * 3);
  const depth = new Float32Array(H * W);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      const p = i * W + j;
      // Ramp in inverse depth (CoC is linear in 1/d): 1.2 m at the left to 6 m at the right.
      const u = (j + 0.5) / W;
      depth[p] = 1 / (1 / 1.2 + u * (1 / 6 - 1 / 1.2));
      if (i > H / 3 && i < (2 * H) / 3 && j > W / 3 && j < (2 * W) / 3) depth[p] = 0.96;
      for (let c = 0; c < 3; c++) {
        img[p * 3 + c] =
          0.5 + 0.4 * Math.sin(0.07 * i + c) * Math.cos(0.05 * j - c) + (rng.uniform() < 0.05 ? 0.5 : 0);
      }
    }
  }
  return {
    aif: tf.tensor3d(img, [H, W, 3]),
    depth: tf.tensor2d(depth, [H, W]),
    weights: tf.tensor3d(rng.normalArray(H * W * 3), [H, W, 3]),
  };
}

/** Mean wall and CPU (user + system, this process) milliseconds per call, after one warm-up call. */
function timeMs(reps: number, fn: () => void): { wall: number; cpu: number } {
  fn(); // warm-up: kernel bank, wasm pages
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) fn();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / reps, cpu: (c.user + c.system) / 1000 / reps };
}

/** `1.23 s (cpu 1.10 s)`: on a shared machine the CPU time is the steadier figure. */
const fmt = (t: { wall: number; cpu: number }, scale = 1): string =>
  `${((t.wall * scale) / 1000).toFixed(2)} s (cpu ${((t.cpu * scale) / 1000).toFixed(2)} s)`;

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      renderer: { type: 'string', default: 'all' },
      size: { type: 'string', default: '768x512' },
      'max-coc': { type: 'string', default: '25' },
      reps: { type: 'string', default: '2' },
      'brute-force-scale': { type: 'string', default: '1' },
      backend: { type: 'string', default: 'wasm' },
    },
  });
  const [W, H] = args.size.split('x').map(Number);
  const maxCoc = Number(args['max-coc']);
  const reps = Number(args.reps);
  const bfScale = Number(args['brute-force-scale']);
  await initEngine(args.backend as BackendName);

  const camera = new ThinLensCamera({ focalLengthMm: 50, pixelPitchUm: 5, focusDistanceM: 2 });
  // c(1.2 m) = c(6 m) = K(N) * 2/3, K(N) = K(1) / N  ->  N = K(1) * (2/3) / maxCoc.
  const fNumber = (cocScalePx(camera, 1) * (2 / 3)) / maxCoc;
  const opts = { maxCocPx: maxCoc };
  const names = args.renderer === 'all' ? Object.keys(RENDERERS) : args.renderer.split(',');
  const base = `npx tsx experiments/bench/renderers.ts --size ${W}x${H} --max-coc ${maxCoc} --reps ${reps}`;
  console.log(
    `# ${W}x${H} RGB, CoC 0-${maxCoc} px (N = ${fNumber.toFixed(2)}), backend ${tf.getBackend()}, ` +
      `mean of ${reps} after a warm-up`,
  );

  const scene = makeScene(H, W);
  for (const name of names) {
    const r = RENDERERS[name];
    if (!r) throw new Error(`unknown renderer ${name}; expected one of ${Object.keys(RENDERERS).join(', ')}`);
    const rerun = `${base} --renderer ${name}`;
    if (!r.differentiable) {
      const h = Math.round(H * bfScale);
      const w = Math.round(W * bfScale);
      const small = bfScale === 1 ? scene : makeScene(h, w);
      const t = timeMs(Math.min(reps, 1), () =>
        r.render(small.aif, small.depth, camera, fNumber, opts).dispose(),
      );
      const note = bfScale === 1 ? '' : ` (measured at ${w}x${h}: ${fmt(t)}, extrapolated by area)`;
      console.log(
        `${name.padEnd(20)} forward ${fmt(t, (H * W) / (h * w))}${note}    # ${rerun} --brute-force-scale ${bfScale}`,
      );
      if (small !== scene) tf.dispose([small.aif, small.depth, small.weights]);
      continue;
    }
    const fwd = timeMs(reps, () => r.render(scene.aif, scene.depth, camera, fNumber, opts).dispose());
    const loss = (d: tf.Tensor): tf.Scalar =>
      tf.sum(tf.mul(r.render(scene.aif, d as tf.Tensor2D, camera, fNumber, opts), scene.weights));
    const both = timeMs(reps, () => tf.tidy(() => void tf.grad(loss)(scene.depth).dataSync()));
    console.log(`${name.padEnd(20)} forward ${fmt(fwd)}   forward+backward ${fmt(both)}` + `    # ${rerun}`);
  }
  tf.dispose([scene.aif, scene.depth, scene.weights]);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
