import test from 'ava';
import { join } from 'node:path';
import { onnxRuntimeStatus } from '../../../core/engine/network-engine.ts';
import { estimateRunBytes, priorFootprint, priorPassBytes, processingSize } from '../../../core/pipeline/memory-budget.ts';
import { marigoldGeometry } from '../../../diffusion/marigold/preprocess.ts';
import { nativeMemoryLoad, networkWeightBytes } from '../../../core/pipeline/native-memory-plan.ts';
import { openSafetensors } from '../../../core/io/safetensors.ts';

const tiny = join(import.meta.dirname, '../../../models/aperture-depth-tiny');

function elements(file: string): number {
  const f = openSafetensors(file);
  try {
    return f.names().reduce((a, n) => a + f.info(n).shape.reduce((x, y) => x * y, 1), 0);
  } finally {
    f.close();
  }
}

test('networkWeightBytes: float32 bytes of the UNet and VAE weights, from the headers', (t) => {
  const expected =
    4 *
    (elements(join(tiny, 'unet', 'diffusion_pytorch_model.safetensors')) +
      elements(join(tiny, 'vae', 'diffusion_pytorch_model.safetensors')));
  t.true(expected > 1e6);
  t.is(networkWeightBytes(tiny), expected);
});

test('nativeMemoryLoad: the pass at the processing size of the input aspect; nothing for pixel, tfjs or a bad model', async (t) => {
  const fp = priorFootprint(tiny);
  const onnx = (await onnxRuntimeStatus()).available;
  const load = await nativeMemoryLoad({ model: tiny, engine: 'auto', width: 640, height: 480 });
  if (!onnx) {
    t.is(load, undefined, 'auto resolves to tfjs where onnxruntime does not load');
    return;
  }
  const res = fp.processingResolution;
  const pass = priorPassBytes(fp, res, (res * 3) / 4);
  t.deepEqual(load, { networkWeightBytes: networkWeightBytes(tiny), passBytes: pass.unet + pass.decoder });
  // No size: a square at the processing resolution (the largest of any aspect); an explicit resolution wins.
  const square = priorPassBytes(fp, res, res);
  t.is((await nativeMemoryLoad({ model: tiny }))?.passBytes, square.unet + square.decoder);
  const at64 = priorPassBytes(fp, 64, 48);
  t.is((await nativeMemoryLoad({ model: tiny, processingResolution: 64, width: 640, height: 480 }))?.passBytes, at64.unet + at64.decoder);
  t.is(await nativeMemoryLoad({ model: tiny, variant: 'pixel' }), undefined);
  t.is(await nativeMemoryLoad({ model: tiny, engine: 'tfjs' }), undefined);
  t.is(await nativeMemoryLoad({ model: join(tiny, 'no-such-folder') }), undefined);
});

test('processingSize: the size marigoldGeometry processes (floored, margin on every side); the budget and nativeMemoryLoad both use it', async (t) => {
  // 100x30 at 96: 28.8 rows, which floors to 28 (rounding would give 29)
  for (const [w, h, res, margin] of [[100, 30, 96, 0], [100, 30, 96, 2], [641, 479, 96, 3], [50, 70, 0, 1]] as const) {
    const g = marigoldGeometry(h, w, res, 8, margin);
    t.deepEqual(processingSize(w, h, res, margin), { width: g.resized[1] + 2 * margin, height: g.resized[0] + 2 * margin }, `${w}x${h} at ${res}, margin ${margin}`);
  }
  const fp = priorFootprint(tiny, { processingResolution: 96, margin: 2 });
  const size = { width: 100, height: 30, renderer: 'layered', variant: 'full' as const, prior: fp };
  t.deepEqual(estimateRunBytes(size).processing, { width: 100, height: 32 });
  if (!(await onnxRuntimeStatus()).available) return;
  const pass = priorPassBytes(fp, 100, 32);
  const load = await nativeMemoryLoad({ model: tiny, engine: 'auto', processingResolution: 96, margin: 2, width: 100, height: 30 });
  t.is(load?.passBytes, pass.unet + pass.decoder);
  const rounded = priorPassBytes(fp, 100, 33);
  t.not(rounded.unet + rounded.decoder, pass.unet + pass.decoder, 'a rounded size would give another figure');
});
