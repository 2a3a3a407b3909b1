import test from 'ava';
import { join } from 'node:path';
import { onnxRuntimeStatus } from '../../../core/engine/network-engine.ts';
import { priorFootprint, priorPassBytes } from '../../../core/pipeline/memory-budget.ts';
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
