/**
 * A small seeded mutation fuzzer for file parsers. Start from valid files, mutate them (bit flips, byte
 * sets, truncation, insertion, deletion, integer fields set to huge values, format-specific edits) and
 * check every case either parses or throws the expected error. Deterministic for a given seed.
 */
import { ApertureDepthError } from '../../core/errors.ts';

/** A PRNG returning floats in [0, 1): mulberry32, enough for fuzzing (not for statistics). */
export type Rng = () => number;

export function makeRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const randInt = (rng: Rng, n: number): number => Math.floor(rng() * n);
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[randInt(rng, xs.length)]!;

/** A format-aware edit: returns the edited copy and a word for the log, or undefined when it does not apply. */
export type FieldEdit = (bytes: Uint8Array, rng: Rng) => { bytes: Uint8Array; what: string } | undefined;

export interface MutateOptions {
  /** Bytes at the start where header edits are aimed (most parsers' trouble is there). @default 64 */
  headerBytes?: number;
  /** Format-specific edits (claim huge sizes, change a dtype, ...), chosen as often as a generic mutation. */
  fieldEdits?: FieldEdit[];
  /** Most mutations stacked in one case. @default 4 */
  maxMutations?: number;
  /** Share of mutations that are field edits, when there are any. @default 0.25 */
  fieldEditRate?: number;
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x0a, 0x2d, 0x30, 0x39];
const INTERESTING_INTS = [0, 1, 0x7f, 0xff, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 1e9];

/** Applies 1..maxMutations random mutations to a copy of `input`; `ops` says what was done. */
export function mutate(
  input: Uint8Array,
  rng: Rng,
  options: MutateOptions = {},
): { bytes: Uint8Array; ops: string[] } {
  const headerBytes = options.headerBytes ?? 64;
  const edits = options.fieldEdits ?? [];
  let b: Uint8Array = input.slice();
  const ops: string[] = [];
  const count = 1 + randInt(rng, options.maxMutations ?? 4);
  // Aim half the mutations at the header.
  const at = (len: number) =>
    len === 0 ? 0 : rng() < 0.5 ? randInt(rng, Math.min(len, headerBytes)) : randInt(rng, len);
  for (let m = 0; m < count; m++) {
    const kind =
      edits.length > 0 && rng() < (options.fieldEditRate ?? 0.25) ? 'field' : pick(rng, GENERIC_KINDS);
    if (kind === 'field') {
      const edited = pick(rng, edits)(b, rng);
      if (edited) {
        b = edited.bytes;
        ops.push(edited.what);
      }
      continue;
    }
    if (b.length === 0 && kind !== 'insert') continue;
    switch (kind) {
      case 'flip': {
        const i = at(b.length);
        const bit = randInt(rng, 8);
        b[i]! ^= 1 << bit;
        ops.push(`flip ${i}:${bit}`);
        break;
      }
      case 'set': {
        const i = at(b.length);
        b[i] = rng() < 0.5 ? pick(rng, INTERESTING_BYTES) : randInt(rng, 256);
        ops.push(`set ${i}=${b[i]}`);
        break;
      }
      case 'int': {
        // An integer field claiming a huge (or zero) size, little- or big-endian, 2/4/8 bytes wide.
        const width = pick(rng, [2, 4, 8] as const);
        const i = at(Math.max(1, b.length - width + 1));
        if (i + width > b.length) break;
        const v = pick(rng, INTERESTING_INTS);
        const le = rng() < 0.5;
        const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
        if (width === 2) view.setUint16(i, v & 0xffff, le);
        else if (width === 4) view.setUint32(i, v >>> 0, le);
        else
          view.setBigUint64(
            i,
            rng() < 0.5 ? BigInt(v >>> 0) : 0xffffffffffffn << BigInt(randInt(rng, 16)),
            le,
          );
        ops.push(`int${width * 8}${le ? 'le' : 'be'} ${i}=${v}`);
        break;
      }
      case 'truncate': {
        const n = rng() < 0.3 ? at(b.length) : randInt(rng, b.length);
        b = b.slice(0, n);
        ops.push(`truncate ${n}`);
        break;
      }
      case 'insert': {
        const i = randInt(rng, b.length + 1);
        const n = 1 + randInt(rng, rng() < 0.2 ? 256 : 8);
        const ins = new Uint8Array(n).map(() =>
          rng() < 0.5 ? pick(rng, INTERESTING_BYTES) : randInt(rng, 256),
        );
        const out = new Uint8Array(b.length + n);
        out.set(b.subarray(0, i));
        out.set(ins, i);
        out.set(b.subarray(i), i + n);
        b = out;
        ops.push(`insert ${i}+${n}`);
        break;
      }
      case 'delete': {
        const i = at(b.length);
        const n = 1 + randInt(rng, Math.min(16, b.length - i));
        b = new Uint8Array([...b.subarray(0, i), ...b.subarray(i + n)]);
        ops.push(`delete ${i}-${n}`);
        break;
      }
      case 'duplicate': {
        // Repeat a span: duplicated chunks, doubled headers.
        const i = randInt(rng, b.length);
        const n = 1 + randInt(rng, Math.min(64, b.length - i));
        const span = b.slice(i, i + n);
        b = new Uint8Array([...b.subarray(0, i + n), ...span, ...b.subarray(i + n)]);
        ops.push(`duplicate ${i}+${n}`);
        break;
      }
    }
  }
  return { bytes: b, ops };
}

const GENERIC_KINDS = [
  'flip',
  'set',
  'int',
  'truncate',
  'insert',
  'delete',
  'duplicate',
  'flip',
  'set',
  'int',
] as const;

/** Replaces the first match of `pattern` in the bytes read as latin1 (for text headers: PFM, PPM, NPY). */
export function replaceText(bytes: Uint8Array, pattern: RegExp, replacement: string, what: string) {
  const text = Buffer.from(bytes).toString('latin1');
  if (!pattern.test(text)) return undefined;
  return { bytes: new Uint8Array(Buffer.from(text.replace(pattern, replacement), 'latin1')), what };
}

export interface FuzzTarget {
  /** Format name for logs (`'PNG'`). */
  format: string;
  /** Valid inputs to start from. */
  seeds: Uint8Array[];
  /** Parses one case; `name` is what a rejection must mention. */
  parse: (bytes: Uint8Array, name: string) => unknown;
  /** The name given to case `i` (a file name or temp path). */
  nameFor: (i: number) => string;
  mutate?: MutateOptions;
  /** Applied to half the mutants after mutation (e.g. recompute PNG CRCs so edits reach the decoder). */
  fixup?: (bytes: Uint8Array) => Uint8Array;
}

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** A case slower than this is a failure (a parser that spins on bad input). @default 2000 */
  perCaseMs?: number;
  /** Stop early after this long, so a slow machine cannot run away with the test. @default 30000 */
  budgetMs?: number;
}

export interface FuzzReport {
  format: string;
  cases: number;
  parsed: number;
  rejected: number;
  /** Cases that crashed, threw a foreign error, or an error not naming the file, or ran too long. */
  failures: string[];
  slowestMs: number;
  elapsedMs: number;
}

/** Runs `cases` mutated inputs through `target.parse` and classifies each outcome. */
export async function runFuzz(target: FuzzTarget, options: FuzzOptions): Promise<FuzzReport> {
  const perCaseMs = options.perCaseMs ?? 2000;
  const budgetMs = options.budgetMs ?? 30000;
  const rng = makeRng(options.seed);
  const report: FuzzReport = {
    format: target.format,
    cases: 0,
    parsed: 0,
    rejected: 0,
    failures: [],
    slowestMs: 0,
    elapsedMs: 0,
  };
  const start = performance.now();
  for (let i = 0; i < options.cases; i++) {
    if (performance.now() - start > budgetMs) break;
    const seedIndex = randInt(rng, target.seeds.length);
    let { bytes, ops } = mutate(target.seeds[seedIndex]!, rng, target.mutate);
    if (target.fixup && rng() < 0.5) {
      bytes = target.fixup(bytes);
      ops = [...ops, 'fixup'];
    }
    const name = target.nameFor(i);
    const t0 = performance.now();
    try {
      await target.parse(bytes, name);
      report.parsed++;
    } catch (err) {
      if (err instanceof ApertureDepthError && err.message.includes(name)) report.rejected++;
      else {
        const what =
          err instanceof ApertureDepthError
            ? 'error without the file name'
            : `foreign ${(err as Error)?.name ?? typeof err}`;
        report.failures.push(
          `case ${i} (seed ${seedIndex}; ${ops.join(', ')}): ${what}: ${String((err as Error)?.message ?? err).slice(0, 200)}`,
        );
      }
    }
    const dt = performance.now() - t0;
    report.slowestMs = Math.max(report.slowestMs, dt);
    if (dt > perCaseMs)
      report.failures.push(`case ${i} (seed ${seedIndex}; ${ops.join(', ')}): took ${dt.toFixed(0)} ms`);
    report.cases++;
  }
  report.elapsedMs = performance.now() - start;
  return report;
}

/** One line for `t.log`. */
export function summarize(r: FuzzReport): string {
  return `${r.format}: ${r.cases} cases (${r.parsed} parsed, ${r.rejected} rejected, ${r.failures.length} failures) in ${(r.elapsedMs / 1000).toFixed(1)} s, slowest ${r.slowestMs.toFixed(0)} ms`;
}
