/**
 * The training loop shared by both stages: draws each step's batch from a seeded RNG, takes an Adam step,
 * prints progress with an ETA, logs the loss, and checkpoints (weights, Adam moments, step, RNG state) every
 * `ckptEvery` steps. Started again on the same folder it resumes from the newest checkpoint and continues
 * bit-identically.
 */
import { check } from '../../../core/errors.ts';
import { Rng } from '../../../core/tensor/rng.ts';
import { loadLatestCheckpoint, saveCheckpoint } from './checkpoint-store.ts';
import type { GradEngine } from './grad-engine.ts';
import { ProgressMeter } from './progress.ts';

/** One point of the loss curve: the mean loss over the `logEvery` steps ending at `step`. */
export interface LossPoint {
  step: number;
  loss: number;
  parts?: Record<string, number>;
}

interface StageExtra {
  settings: string;
  losses: LossPoint[];
  seconds: number;
  /** Replicas the run used (a resume with another count continues, but not bit-identically). */
  workers: number;
}

export interface StageSpec {
  /** Label for progress lines (`vae`, `unet`). */
  name: string;
  /** Checkpoint folder of this stage. */
  dir: string;
  totalSteps: number;
  ckptEvery: number;
  logEvery: number;
  engine: GradEngine;
  /** Seeds the batch RNG of a fresh run. */
  seed: number;
  /** Everything that defines the run; a resume with different settings is refused. */
  settings: unknown;
  /** Learning-rate factor at a 0-based step. */
  schedule: (step: number, total: number) => number;
  /** Draws this step's batch items (all its randomness, only from `rng`). */
  draw: (rng: Rng, step: number) => unknown[];
  /** Called at each log point; may return text appended to the progress line (e.g. a validation score). */
  onLog?: (step: number) => Promise<string | void> | string | void;
  /** Stop after this many steps of this session, as if killed (tests). */
  stopAfter?: number;
  write?: (line: string) => void;
}

export interface StageResult {
  losses: LossPoint[];
  /** Training seconds over all sessions. */
  seconds: number;
  completed: boolean;
  resumedFrom: number;
}

export async function runStage(spec: StageSpec): Promise<StageResult> {
  const write = spec.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  const settings = JSON.stringify(spec.settings);
  let rng = new Rng(spec.seed);
  let step = 0;
  let losses: LossPoint[] = [];
  let seconds = 0;
  const resumed = loadLatestCheckpoint<StageExtra>(spec.dir);
  if (resumed) {
    check(
      resumed.extra.settings === settings,
      () => `checkpoint in ${spec.dir} was made with different settings; use a new --work folder or the same flags`,
      { key: spec.name },
    );
    await spec.engine.restore(resumed.snapshot);
    rng = Rng.fromState(resumed.rng);
    step = resumed.step;
    losses = resumed.extra.losses;
    seconds = resumed.extra.seconds;
    write(`[${spec.name}] resumed from step ${step} (${spec.dir})`);
  }
  const resumedFrom = step;
  const meter = new ProgressMeter(spec.name, spec.totalSteps, step, write);
  let windowSum = 0;
  let windowParts: Record<string, number> = {};
  let windowCount = 0;
  let sessionSteps = 0;
  let t0 = performance.now();
  const save = async () => {
    seconds += (performance.now() - t0) / 1000;
    t0 = performance.now();
    const snapshot = await spec.engine.snapshot();
    saveCheckpoint(spec.dir, step, snapshot, rng.state(), { settings, losses, seconds, workers: spec.engine.workers } satisfies StageExtra);
  };
  while (step < spec.totalSteps) {
    if (spec.stopAfter !== undefined && sessionSteps >= spec.stopAfter) {
      seconds += (performance.now() - t0) / 1000;
      return { losses, seconds, completed: false, resumedFrom };
    }
    const items = spec.draw(rng, step);
    const r = await spec.engine.step(items, spec.schedule(step, spec.totalSteps));
    step += 1;
    sessionSteps += 1;
    windowSum += r.loss;
    windowCount += 1;
    for (const [k, v] of Object.entries(r.parts)) windowParts[k] = (windowParts[k] ?? 0) + v;
    const atLog = step % spec.logEvery === 0 || step === spec.totalSteps;
    let extra = '';
    if (atLog) {
      const parts = Object.fromEntries(Object.entries(windowParts).map(([k, v]) => [k, v / windowCount]));
      losses.push({ step, loss: windowSum / windowCount, ...(Object.keys(parts).length ? { parts } : {}) });
      windowSum = 0;
      windowCount = 0;
      windowParts = {};
      extra = (await spec.onLog?.(step)) ?? '';
      extra += `  |g| ${r.gradNorm.toFixed(3)}`;
    }
    meter.update(step, r.loss, spec.logEvery, extra.trim());
    if (step % spec.ckptEvery === 0 || step === spec.totalSteps) await save();
  }
  seconds += (performance.now() - t0) / 1000;
  return { losses, seconds, completed: true, resumedFrom };
}
