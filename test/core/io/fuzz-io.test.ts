/**
 * Seeded mutation fuzzing of the file parsers: every mutant must parse or be refused with an
 * ApertureDepthError naming the input; none may crash, hang or leak a third-party error.
 * FUZZ_SEED=<n> replays another seed; FUZZ_CASES=<n> changes the cases per format.
 */
import test from 'ava';
import jpegJs from 'jpeg-js';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listHdf5Datasets, readHdf5, readHdf5Dataset, writeHdf5 } from '../../../core/io/hdf5.ts';
import { decodeImage } from '../../../core/io/image.ts';
import { decodeJpeg } from '../../../core/io/jpeg.ts';
import { decodeNpy, encodeNpy } from '../../../core/io/npy.ts';
import { decodePfm, encodePfm } from '../../../core/io/pfm.ts';
import { decodePng, encodePng } from '../../../core/io/png.ts';
import { encodePnm } from '../../../core/io/pnm.ts';
import {
  pick,
  randInt,
  replaceText,
  runFuzz,
  summarize,
  type FieldEdit,
  type FuzzTarget,
} from '../../helpers/fuzz.ts';
import { deflateSync } from 'node:zlib';
import { inflatedSizeOf, passesOf, rowBytesOf } from '../../../core/io/png-pixels.ts';
import { buildPng, chunk, concat, fixPngCrcs } from '../../helpers/png-builder.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const tmp = makeTempDir('fuzz');
test.after.always(tmp.remove);

const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const HUGE = ['0', '4294967295', '999999999', '2147483648', '65536', '-1', '1e9', ''];

async function fuzz(
  t: import('ava').ExecutionContext,
  target: FuzzTarget,
  seedOffset: number,
): Promise<void> {
  const report = await runFuzz(target, {
    seed: SEED + seedOffset,
    cases: CASES,
    perCaseMs: 2000,
    budgetMs: 25000,
  });
  t.log(`${summarize(report)} (seed ${SEED + seedOffset})`);
  if (report.cases < CASES) t.log(`stopped at the time budget after ${report.cases} of ${CASES} cases`);
  t.deepEqual(report.failures.slice(0, 10), [], `${report.failures.length} failures`);
  t.true(report.cases >= Math.min(CASES, 500));
  t.true(report.rejected > 0 && report.parsed > 0, 'the mutants reach both outcomes');
}

// ---------- PNG ----------
const ramp = (n: number, mod: number) => Array.from({ length: n }, (_, i) => (i * 29 + 3) % mod);
const pngSeeds = [
  buildPng({ width: 4, height: 3, depth: 8, colorType: 0, samples: 1, values: ramp(12, 256) }),
  buildPng({
    width: 5,
    height: 5,
    depth: 16,
    colorType: 2,
    samples: 3,
    values: ramp(75, 65536),
    interlace: true,
  }),
  buildPng({
    width: 7,
    height: 2,
    depth: 2,
    colorType: 3,
    samples: 1,
    values: ramp(14, 4),
    palette: [
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
      [9, 9, 9],
    ],
    trns: new Uint8Array([0, 9]),
  }),
  buildPng({ width: 9, height: 2, depth: 1, colorType: 0, samples: 1, values: ramp(18, 2) }),
  buildPng({ width: 3, height: 3, depth: 8, colorType: 4, samples: 2, values: ramp(18, 256) }),
  encodePng({ width: 6, height: 4, channels: 4, bitDepth: 8, data: Uint8Array.from(ramp(96, 256)) }),
  encodePng({ width: 5, height: 3, channels: 1, bitDepth: 16, data: Uint16Array.from(ramp(15, 65536)) }),
];
const pngIhdrEdit: FieldEdit = (bytes, rng) => {
  if (bytes.length < 33) return undefined;
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const field = pick(rng, [16, 20, 24, 25, 28] as const);
  if (field <= 20) view.setUint32(field, Number(pick(rng, HUGE.slice(0, 6))) >>> 0);
  else out[field] = randInt(rng, 20);
  return { bytes: fixPngCrcs(out), what: `IHDR@${field}` };
};
const pngLengthEdit: FieldEdit = (bytes, rng) => {
  if (bytes.length < 40) return undefined;
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(33, pick(rng, [0, 1, 0x7fffffff, 0xffffffff, 100000]));
  return { bytes: out, what: 'chunk length' };
};

/** Replaces the pixel data with random scanlines that inflate cleanly: reaches the unfilter and palette code. */
const pngRandomPixels: FieldEdit = (bytes, rng) => {
  if (bytes.length < 33) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = {
    width: view.getUint32(16),
    height: view.getUint32(20),
    depth: bytes[24]!,
    colorType: bytes[25]!,
    interlace: bytes[28]!,
  };
  if (
    h.width * h.height > 4096 ||
    ![0, 2, 3, 4, 6].includes(h.colorType) ||
    ![1, 2, 4, 8, 16].includes(h.depth)
  )
    return undefined;
  const size = inflatedSizeOf(h) + (rng() < 0.2 ? randInt(rng, 5) - 2 : 0);
  const raw = Uint8Array.from({ length: Math.max(0, size) }, () => randInt(rng, 256));
  // Mostly valid filter types at the row starts, so most of these reach the unfilter code.
  let at = 0;
  for (const p of passesOf(h)) {
    if (p.w === 0) continue;
    for (let y = 0; y < p.h && at < raw.length; y++, at += 1 + rowBytesOf(h, p.w))
      raw[at] = rng() < 0.95 ? randInt(rng, 5) : randInt(rng, 256);
  }
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let pos = 8;
  let placed = false;
  while (pos + 12 <= bytes.length) {
    const len = view.getUint32(pos);
    if (pos + 12 + len > bytes.length) break;
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    if (type !== 'IDAT') parts.push(bytes.subarray(pos, pos + 12 + len));
    else if (!placed) {
      parts.push(chunk('IDAT', new Uint8Array(deflateSync(raw))));
      placed = true;
    }
    pos += 12 + len;
  }
  return placed ? { bytes: concat(parts), what: `random pixels (${raw.length} bytes)` } : undefined;
};

test.serial('PNG', async (t) => {
  await fuzz(
    t,
    {
      format: 'PNG',
      seeds: pngSeeds,
      parse: (bytes, name) => decodePng(bytes, name),
      nameFor: (i) => `fuzz-${i}.png`,
      mutate: {
        headerBytes: 40,
        maxMutations: 3,
        fieldEditRate: 0.5,
        fieldEdits: [pngIhdrEdit, pngLengthEdit, pngRandomPixels, pngRandomPixels, pngRandomPixels],
      },
      fixup: fixPngCrcs,
    },
    1,
  );
});

// ---------- JPEG ----------
function jpegOf(w: number, h: number, quality: number): Uint8Array {
  const rgba = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 13) % 256));
  return new Uint8Array(jpegJs.encode({ width: w, height: h, data: rgba }, quality).data);
}
const jpegSeeds = [jpegOf(8, 8, 50), jpegOf(16, 8, 90), jpegOf(17, 9, 75)];
const jpegSofEdit: FieldEdit = (bytes, rng) => {
  for (let i = 2; i + 9 < bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xc0) {
      const out = bytes.slice();
      const v = pick(rng, [0, 1, 0xffff, 0x8000, 10000]);
      const at = i + pick(rng, [5, 7]);
      out[at] = v >> 8;
      out[at + 1] = v & 0xff;
      if (rng() < 0.3) out[i + 9] = pick(rng, [0, 2, 4, 255]); // component count
      return { bytes: out, what: `SOF@${at}=${v}` };
    }
  }
  return undefined;
};
const jpegSegmentEdit: FieldEdit = (bytes, rng) => {
  const markers: number[] = [];
  for (let i = 2; i + 3 < bytes.length && markers.length < 12; i++)
    if (bytes[i] === 0xff && bytes[i + 1]! >= 0xc0 && bytes[i + 1]! !== 0xff) markers.push(i);
  if (markers.length === 0) return undefined;
  const at = pick(rng, markers);
  const out = bytes.slice();
  const v = pick(rng, [0, 1, 2, 0xffff, 300]);
  out[at + 2] = v >> 8;
  out[at + 3] = v & 0xff;
  return { bytes: out, what: `segment length@${at}=${v}` };
};

test.serial('JPEG', async (t) => {
  await fuzz(
    t,
    {
      format: 'JPEG',
      seeds: jpegSeeds,
      parse: (bytes, name) => decodeJpeg(bytes, name),
      nameFor: (i) => `fuzz-${i}.jpg`,
      mutate: { headerBytes: 200, fieldEdits: [jpegSofEdit, jpegSegmentEdit] },
    },
    2,
  );
});

// ---------- NPY ----------
const npySeeds = [
  encodeNpy({ shape: [2, 3], dtype: 'float32', data: new Float32Array([1, 2, 3, 4, 5, 6]) }),
  encodeNpy({ shape: [4], dtype: 'int64', data: new BigInt64Array([1n, -2n, 3n, 4n]) }),
  encodeNpy({ shape: [2, 2, 1], dtype: 'float16', data: new Float32Array([0.5, 1, -2, 4]) }),
  encodeNpy({ shape: [], dtype: 'uint16', data: new Uint16Array([7]) }),
  new Uint8Array(readFileSync('test/data/diffusers-tiny/sd2-tiny/arrays/text_encoder/input_ids.npy')),
];
const npyEdits: FieldEdit[] = [
  (b, rng) =>
    replaceText(
      b,
      /'shape': \([^)]*\)/,
      `'shape': (${pick(rng, ['100000, 100000, 10', '4294967296,', '-1,', '1, 2, 3, 4, 5, 6, 7', '99999999999999999999,', 'a,', ''])})`,
      'shape',
    ),
  (b, rng) =>
    replaceText(
      b,
      /'descr': '[^']*'/,
      `'descr': '${pick(rng, ['<f8', '>f4', '|O', '<U8', '<c8', '|b1', '<i2', "'"])}'`,
      'descr',
    ),
  (b) => replaceText(b, /False/, 'True', 'fortran_order'),
  (b, rng) => {
    if (b.length < 10) return undefined;
    const out = b.slice();
    new DataView(out.buffer).setUint16(8, pick(rng, [0, 1, 0xffff, 60, 200]), true);
    return { bytes: out, what: 'header length' };
  },
];

test.serial('NPY', async (t) => {
  await fuzz(
    t,
    {
      format: 'NPY',
      seeds: npySeeds,
      parse: (bytes, name) => decodeNpy(bytes, name),
      nameFor: (i) => `fuzz-${i}.npy`,
      mutate: { headerBytes: 128, fieldEdits: npyEdits },
    },
    3,
  );
});

// ---------- PFM ----------
const pfmSeeds = [
  encodePfm({
    shape: [3, 4],
    dtype: 'float32',
    data: Float32Array.from({ length: 12 }, (_, i) => (i === 5 ? Infinity : i / 3)),
  }),
  encodePfm(
    { shape: [2, 2, 3], dtype: 'float32', data: Float32Array.from({ length: 12 }, (_, i) => i) },
    'x',
    0.003922,
  ),
  new Uint8Array(
    Buffer.concat([Buffer.from('Pf 2 1 1.0\n', 'latin1'), Buffer.from([0x3f, 0xc0, 0, 0, 0x7f, 0x80, 0, 0])]),
  ),
];
const pfmEdits: FieldEdit[] = [
  (b, rng) => replaceText(b, /^(P[fF]\s+)\d+/, `$1${pick(rng, HUGE)}`, 'width'),
  (b, rng) => replaceText(b, /^(P[fF]\s+\d+\s+)\d+/, `$1${pick(rng, HUGE)}`, 'height'),
  (b, rng) =>
    replaceText(
      b,
      /^(P[fF]\s+\d+\s+\d+\s+)\S+/,
      `$1${pick(rng, ['0', 'nan', 'inf', '-inf', '1e999', '-', '1.0.0'])}`,
      'scale',
    ),
];

test.serial('PFM', async (t) => {
  await fuzz(
    t,
    {
      format: 'PFM',
      seeds: pfmSeeds,
      parse: (bytes, name) => decodePfm(bytes, name),
      nameFor: (i) => `fuzz-${i}.pfm`,
      mutate: { headerBytes: 24, fieldEdits: pfmEdits },
    },
    4,
  );
});

// ---------- PPM/PGM (through the magic-byte dispatcher) ----------
const pnmSeeds = [
  encodePnm({ width: 3, height: 2, channels: 1, bitDepth: 8, data: Uint8Array.from(ramp(6, 256)) }),
  encodePnm({ width: 2, height: 2, channels: 3, bitDepth: 16, data: Uint16Array.from(ramp(12, 65536)) }),
  new Uint8Array(Buffer.from('P5\n# comment\n2 2\n1023\n\x00\x01\x03\xff\x00\x00\x02\x00', 'latin1')),
];
const pnmEdits: FieldEdit[] = [
  (b, rng) => replaceText(b, /^(P\d\s+)\d+/, `$1${pick(rng, HUGE)}`, 'width'),
  (b, rng) => replaceText(b, /^(P\d\s+\d+\s+)\d+/, `$1${pick(rng, HUGE)}`, 'height'),
  (b, rng) =>
    replaceText(
      b,
      /(\s)(255|65535|1023)\n/,
      `$1${pick(rng, ['0', '65536', '256', '1', '99999999999999'])}\n`,
      'maxval',
    ),
  (b, rng) => replaceText(b, /^P\d/, pick(rng, ['P1', 'P2', 'P3', 'P4', 'P7', 'P6', 'P5']), 'magic'),
];

test.serial('PPM/PGM', async (t) => {
  await fuzz(
    t,
    {
      format: 'PPM/PGM',
      seeds: pnmSeeds,
      parse: (bytes, name) => decodeImage(bytes, name),
      nameFor: (i) => `fuzz-${i}.pnm`,
      mutate: { headerBytes: 24, fieldEdits: pnmEdits },
    },
    5,
  );
});

// ---------- HDF5 (h5wasm reads real paths, so each case is a temp file) ----------
test.serial('HDF5', async (t) => {
  const a = join(tmp.dir, 'seed-a.h5');
  const b = join(tmp.dir, 'seed-b.h5');
  await writeHdf5(a, {
    datasets: {
      depth: { shape: [4, 5], dtype: 'float32', data: Float32Array.from({ length: 20 }, (_, i) => i) },
    },
    attrs: { title: 'seed', f: 2.8 },
    datasetAttrs: { depth: { unit: 'm' } },
  });
  await writeHdf5(b, {
    datasets: {
      'g/ids': { shape: [3], dtype: 'int64', data: new BigInt64Array([1n, 2n, 3n]) },
      'g/h/mask': { shape: [2, 2], dtype: 'uint8', data: new Uint8Array([0, 1, 1, 0]) },
    },
    attrs: { v: [1, 2, 3] },
  });
  const seedA = new Uint8Array(readFileSync(a));
  const userBlock = new Uint8Array(512 + seedA.length);
  userBlock.set(new TextEncoder().encode('MATLAB 7.3 MAT-file'));
  userBlock.set(seedA, 512);
  await fuzz(
    t,
    {
      format: 'HDF5',
      seeds: [seedA, new Uint8Array(readFileSync(b)), userBlock],
      parse: async (bytes, name) => {
        writeFileSync(name, bytes);
        try {
          // A short libhdf5 timeout: a few mutants make it loop; those must end as errors, quickly.
          const timeoutMs = 1000;
          await readHdf5(name, { timeoutMs });
          await listHdf5Datasets(name, { timeoutMs });
          await readHdf5Dataset(name, 'depth', { slice: [[1, 3]], timeoutMs }).catch((err) => {
            if (!/not found|is a group|slice/.test(String(err?.message))) throw err;
          });
        } finally {
          rmSync(name, { force: true });
        }
      },
      nameFor: (i) => join(tmp.dir, `fuzz-${i}.h5`),
      mutate: { headerBytes: 2048, maxMutations: 8 },
    },
    6,
  );
});
