import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { floatToHalf, openSafetensors, writeSafetensors } from '../../../core/io/safetensors.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-test-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Writes a file from a raw header object and data bytes (for malformed cases). */
function rawFile(name: string, header: unknown, data: Uint8Array, headerLenOverride?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLenOverride ?? BigInt(json.byteLength));
  const p = path.join(tmp, name);
  fs.writeFileSync(p, Buffer.concat([len, json, data]));
  return p;
}

test('F32, F16, BF16 and I64 round-trip to float32; names in data order; info', (t) => {
  const p = path.join(tmp, 'mixed.safetensors');
  const vals = new Float32Array([1, -2.5, 0.125, 65504]);
  writeSafetensors(p, {
    b: { shape: [2, 2], data: vals, dtype: 'F16' },
    a: { shape: [4], data: vals },
    c: { shape: [4], data: new Float32Array([1, -2.5, 0.125, 3]), dtype: 'BF16' },
    'text_model.embeddings.position_ids': { shape: [1, 3], data: new Float32Array([0, 1, 2]), dtype: 'I64' },
  });
  const f = openSafetensors(p);
  t.deepEqual(f.names(), ['b', 'a', 'c', 'text_model.embeddings.position_ids']);
  const headerEnd = 8 + Number(fs.readFileSync(p).readBigUInt64LE(0));
  t.deepEqual(f.info('b'), { dtype: 'F16', shape: [2, 2], byteLength: 8, file: p, offset: headerEnd });
  // `offset` is absolute: the raw bytes there are the tensor's (F32 little-endian).
  const a = f.info('a');
  t.is(a.offset, headerEnd + 8);
  t.deepEqual(Array.from(new Float32Array(new Uint8Array(fs.readFileSync(p).subarray(a.offset, a.offset + a.byteLength)).buffer)), Array.from(vals));
  t.deepEqual(Array.from(f.read('a')), Array.from(vals));
  t.deepEqual(Array.from(f.read('b')), Array.from(vals));
  t.deepEqual(Array.from(f.read('c')), [1, -2.5, 0.125, 3]);
  t.deepEqual(Array.from(f.read('text_model.embeddings.position_ids')), [0, 1, 2]);
  t.deepEqual(f.metadata(), { format: 'pt' });
  const e = t.throws(() => f.read('nope'), { instanceOf: ApertureDepthError });
  t.regex(e!.message, /mixed\.safetensors: nope: no tensor named/);
  f.close();
});

test('half conversion covers subnormals, infinities and rounding', (t) => {
  t.is(floatToHalf(0), 0);
  t.is(floatToHalf(-0), 0x8000);
  t.is(floatToHalf(1), 0x3c00);
  t.is(floatToHalf(65504), 0x7bff);
  t.is(floatToHalf(1e6), 0x7c00);
  t.is(floatToHalf(2 ** -24), 1);
  const p = path.join(tmp, 'half.safetensors');
  const vals = new Float32Array([2 ** -24, -(2 ** -14), Infinity, -Infinity]);
  writeSafetensors(p, { h: { shape: [4], data: vals, dtype: 'F16' } });
  const f = openSafetensors(p);
  t.deepEqual(Array.from(f.read('h')), Array.from(vals));
  f.close();
});

test('reads the fixture checkpoints (F16 and F32)', (t) => {
  const f = openSafetensors('test/data/diffusers-tiny/sd2-tiny/checkpoint/vae/diffusion_pytorch_model.safetensors');
  t.is(f.names().length, 244);
  const info = f.info('quant_conv.weight');
  t.like(info, { dtype: 'F16', shape: [8, 8, 1, 1], byteLength: 128 });
  const w = f.read('quant_conv.weight');
  t.is(w.length, 64);
  t.true(w.every(Number.isFinite));
  f.close();
});

const bad: Array<[string, () => string, RegExp]> = [
  ['shorter than 8 bytes', () => (fs.writeFileSync(path.join(tmp, 'tiny.safetensors'), Buffer.from([1, 2])), path.join(tmp, 'tiny.safetensors')), /truncated/],
  ['header length past the end', () => rawFile('hlen.safetensors', {}, new Uint8Array(0), 1000n), /header length 1000 runs past the end/],
  ['header not JSON', () => rawFile('json.safetensors', '{not json', new Uint8Array(0)), /not valid JSON/],
  [
    'unknown dtype',
    () => rawFile('dtype.safetensors', { w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
    /w: unsupported dtype "F8_E4M3"/,
  ],
  [
    'shape / byte count mismatch',
    () => rawFile('count.safetensors', { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
    /w: shape \[3\] of F32 needs 12 bytes, data_offsets give 8/,
  ],
  [
    'offsets past the data (truncated file)',
    () => rawFile('range.safetensors', { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)),
    /w: data_offsets \[0, 16\] run past the end of the data \(8 bytes\)/,
  ],
  [
    'overlapping offsets',
    () =>
      rawFile(
        'overlap.safetensors',
        { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
        new Uint8Array(12),
      ),
    /b: data_offsets \[4, 12\] overlap those of "a"/,
  ],
  [
    'bad shape',
    () => rawFile('shape.safetensors', { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /w: shape \[-1\] is not a list of non-negative integers/,
  ],
  ['missing file', () => path.join(tmp, 'absent.safetensors'), /cannot open/],
];
for (const [name, make, re] of bad) {
  test(`rejects ${name} with an error naming the file (and the tensor)`, (t) => {
    const p = make();
    const e = t.throws(() => openSafetensors(p), { instanceOf: ApertureDepthError });
    t.true(e!.message.startsWith(p), e!.message);
    t.regex(e!.message, re);
  });
}

test('sharded checkpoint through its index', (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'shard-'));
  writeSafetensors(path.join(dir, 'm-00001-of-00002.safetensors'), { a: { shape: [2], data: new Float32Array([1, 2]) } });
  writeSafetensors(path.join(dir, 'm-00002-of-00002.safetensors'), { b: { shape: [1], data: new Float32Array([3]) } });
  const index = path.join(dir, 'm.safetensors.index.json');
  fs.writeFileSync(index, JSON.stringify({ metadata: { total_size: 12 }, weight_map: { a: 'm-00001-of-00002.safetensors', b: 'm-00002-of-00002.safetensors' } }));
  const f = openSafetensors(index);
  t.deepEqual(f.names().sort(), ['a', 'b']);
  t.deepEqual(Array.from(f.read('b')), [3]);
  t.deepEqual(f.info('a').shape, [2]);
  f.close();
  fs.writeFileSync(index, JSON.stringify({ weight_map: { a: 'm-00002-of-00002.safetensors' } }));
  const e = t.throws(() => openSafetensors(index), { instanceOf: ApertureDepthError });
  t.regex(e!.message, /a: index maps it to m-00002-of-00002\.safetensors, which has no such tensor/);
});
