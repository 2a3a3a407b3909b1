import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../../core/io/safetensors.ts';
import { encodeSafetensors, saveSafetensors, type NamedWeight } from '../../diffusion/checkpoint/save-weights.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

/** Project-layout weights of each layout, with distinct values. */
function weights(): NamedWeight[] {
  const filled = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => (i * 0.37 + k) % 5 - 2.5);
  return [
    { name: 'conv.weight', shape: [3, 3, 2, 4], layout: 'conv', data: filled(72, 1) },
    { name: 'proj.weight', shape: [5, 3], layout: 'linear', data: filled(15, 2) },
    { name: 'proj.bias', shape: [3], layout: 'vector', data: filled(3, 3) },
  ];
}

for (const dtype of ['F32', 'F16'] as const) {
  test(`saveSafetensors streams the bytes of encodeSafetensors (${dtype}), torch layout, no temp file left`, (t) => {
    const dir = makeTempDir('save-weights');
    try {
      const path = join(dir.dir, 'sub', 'w.safetensors');
      const ws = weights();
      saveSafetensors(path, ws, dtype, { note: 'x' });
      t.deepEqual(new Uint8Array(readFileSync(path)), encodeSafetensors(ws, dtype, { note: 'x' }));
      t.deepEqual(readdirSync(join(dir.dir, 'sub')), ['w.safetensors']);
      const f = openSafetensors(path);
      try {
        t.deepEqual(f.info('conv.weight').shape, [4, 2, 3, 3]);
        t.deepEqual(f.info('proj.weight').shape, [3, 5]);
        // torch [out, in, kh, kw] element (o=3, i=1, a=2, b=0) is project [a, b, i, o]
        const conv = f.read('conv.weight');
        const tol = dtype === 'F32' ? 0 : 2e-3;
        t.true(Math.abs(conv[((3 * 2 + 1) * 3 + 2) * 3 + 0]! - ws[0]!.data[((2 * 3 + 0) * 2 + 1) * 4 + 3]!) <= tol);
        const lin = f.read('proj.weight'); // [out=3, in=5]; project [in, out]
        t.true(Math.abs(lin[2 * 5 + 4]! - ws[1]!.data[4 * 3 + 2]!) <= tol);
        t.is(f.metadata().note, 'x');
        t.is(f.info('proj.bias').offset, f.info('proj.weight').offset + f.info('proj.weight').byteLength);
      } finally {
        f.close();
      }
    } finally {
      dir.remove();
    }
  });
}
