/**
 * Sums onnxruntime per-node profiles (written with `APERTURE_DEPTH_ONNX_PROFILE=<dir>` or the `profileDir`
 * option of OnnxNetwork) by op type, by network and session kind, and lists the costliest Conv shapes with
 * their GFLOP/s:
 *
 *   APERTURE_DEPTH_ONNX_PROFILE=/tmp/prof npx tsx experiments/bench/iteration.ts --part real
 *   npx tsx experiments/bench/onnx-profile.ts /tmp/prof [--top 15]
 *
 * File names are `<network>-<kind>-<segment>_<time>.json` (run-graph.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ApertureDepthError } from '../../core/errors.ts';
import { profileSession } from '../../diffusion/onnx/run-graph.ts';

interface ProfileEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: {
    op_name?: string;
    input_type_shape?: Record<string, number[]>[];
    output_type_shape?: Record<string, number[]>[];
  };
}

export interface ProfileSummary {
  /** Kernel time (µs) summed over all node runs, per op type. */
  readonly byOp: ReadonlyMap<string, { us: number; runs: number }>;
  /** Kernel time (µs) per `<network> <kind>` (kind: forward, saved-forward, vjp, saved-backward). */
  readonly bySession: ReadonlyMap<string, number>;
  /** Conv runs grouped by input / weight shape: time (µs), FLOPs. */
  readonly conv: ReadonlyMap<string, { us: number; flops: number; runs: number }>;
  /** Session run time (µs, `model_run` events) and kernel time (µs) in all. */
  readonly runUs: number;
  readonly kernelUs: number;
}

const firstShape = (list: Record<string, number[]>[] | undefined, k: number): number[] | undefined =>
  list?.[k] ? Object.values(list[k]!)[0] : undefined;

/** FLOPs of one Conv run from its profiled shapes (2 per multiply-add), or 0 when shapes are missing. */
export function convFlops(e: ProfileEvent): number {
  const w = firstShape(e.args?.input_type_shape, 1);
  const y = firstShape(e.args?.output_type_shape, 0);
  if (!w || !y || w.length < 3) return 0;
  const perOutput = w.slice(1).reduce((a, b) => a * b, 1);
  return 2 * y.reduce((a, b) => a * b, 1) * perOutput;
}

/** Sums the profiles of one run (`events` per file name). */
export function summarizeProfiles(files: ReadonlyMap<string, readonly ProfileEvent[]>): ProfileSummary {
  const byOp = new Map<string, { us: number; runs: number }>();
  const bySession = new Map<string, number>();
  const conv = new Map<string, { us: number; flops: number; runs: number }>();
  let runUs = 0;
  let kernelUs = 0;
  for (const [file, events] of files) {
    const p = profileSession(file);
    const session = p ? `${p.network} ${p.kind}` : file;
    for (const e of events) {
      const us = e.dur ?? 0;
      if (e.cat === 'Session' && e.name === 'model_run') runUs += us;
      if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
      const op = e.args?.op_name ?? '?';
      const o = byOp.get(op) ?? { us: 0, runs: 0 };
      byOp.set(op, { us: o.us + us, runs: o.runs + 1 });
      bySession.set(session, (bySession.get(session) ?? 0) + us);
      kernelUs += us;
      if (op === 'Conv') {
        const key = `x [${firstShape(e.args?.input_type_shape, 0)}] w [${firstShape(e.args?.input_type_shape, 1)}]`;
        const c = conv.get(key) ?? { us: 0, flops: 0, runs: 0 };
        conv.set(key, { us: c.us + us, flops: c.flops + convFlops(e), runs: c.runs + 1 });
      }
    }
  }
  return { byOp, bySession, conv, runUs, kernelUs };
}

/** Reads every `*.json` profile in `dir`. */
export function readProfiles(dir: string): Map<string, ProfileEvent[]> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch (err) {
    throw new ApertureDepthError(`cannot read the profile folder: ${(err as Error).message}`, { file: dir });
  }
  if (names.length === 0)
    throw new ApertureDepthError('no onnxruntime profiles (*.json) here', { file: dir });
  const files = new Map<string, ProfileEvent[]>();
  for (const f of names) {
    try {
      files.set(f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as ProfileEvent[]);
    } catch (err) {
      throw new ApertureDepthError(`not an onnxruntime profile: ${(err as Error).message}`, {
        file: join(dir, f),
      });
    }
  }
  return files;
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '15' } },
    allowPositionals: true,
  });
  if (positionals.length !== 1)
    throw new ApertureDepthError('usage: onnx-profile.ts <profile folder> [--top N]', { key: 'folder' });
  const top = Number(values.top);
  const s = summarizeProfiles(readProfiles(positionals[0]!));
  const sec = (us: number) => (us / 1e6).toFixed(2);
  const pct = (us: number) => ((100 * us) / s.kernelUs).toFixed(1);
  console.log(`session runs ${sec(s.runUs)} s, node kernels ${sec(s.kernelUs)} s`);
  console.log('\n| op type | kernel s | % | runs |\n|---|---|---|---|');
  for (const [op, v] of [...s.byOp].sort((a, b) => b[1].us - a[1].us).slice(0, top))
    console.log(`| ${op} | ${sec(v.us)} | ${pct(v.us)} | ${v.runs} |`);
  console.log('\n| network, session kind | kernel s | % |\n|---|---|---|');
  for (const [k, us] of [...s.bySession].sort((a, b) => b[1] - a[1]))
    console.log(`| ${k} | ${sec(us)} | ${pct(us)} |`);
  const convUs = [...s.conv.values()].reduce((a, c) => a + c.us, 0);
  const convFl = [...s.conv.values()].reduce((a, c) => a + c.flops, 0);
  console.log(
    `\nConv: ${sec(convUs)} s, ${(convFl / 1e9).toFixed(0)} GFLOP, ${(convFl / 1e3 / convUs).toFixed(0)} GFLOP/s`,
  );
  console.log('| Conv shapes | kernel s | runs | GFLOP/s |\n|---|---|---|---|');
  for (const [k, c] of [...s.conv].sort((a, b) => b[1].us - a[1].us).slice(0, top))
    console.log(`| ${k} | ${sec(c.us)} | ${c.runs} | ${(c.flops / 1e3 / c.us).toFixed(0)} |`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
