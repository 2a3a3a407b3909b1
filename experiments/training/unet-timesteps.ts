/**
 * One timestep PER SAMPLE in a UNet training batch. `UNet2DConditionModel.forward` takes one timestep for
 * the whole batch (all inference needs); training wants independent timesteps. This installs, on one UNet
 * instance, a time projection that also accepts a list (one sinusoidal embedding row per sample) and gives a
 * typed way to pass the list through `forward`. Nothing else about the network changes.
 * TODO(lead): drop this once `TimeEmbedding.projection` accepts `number | readonly number[]`.
 */
import type { UNet2DConditionModel } from '../../diffusion/models/unet/unet.ts';
import type { Ops } from '../../diffusion/ops/ops.ts';
import { timestepEmbedding } from '../../diffusion/ops/timestep-embedding.ts';

const installed = new WeakSet<object>();

/** Makes `unet` accept per-sample timesteps (idempotent). */
export function enablePerSampleTimesteps(unet: UNet2DConditionModel): void {
  const te = unet.timeEmbedding;
  if (installed.has(te)) return;
  const original = te.projection.bind(te);
  const flipSinToCos = unet.config.flip_sin_to_cos;
  const freqShift = unet.config.freq_shift;
  const projection = <T>(ops: Ops<T>, t: number | readonly number[], batch = 1): T => {
    if (typeof t === 'number') return original(ops, t, batch);
    const dim = te.projDim;
    const data = new Float32Array(t.length * dim);
    t.forEach((ti, b) => data.set(timestepEmbedding(ti, dim, { flipSinToCos, freqShift }), b * dim));
    return ops.constant(data, [t.length, dim]);
  };
  Object.defineProperty(te, 'projection', { value: projection, configurable: true, writable: true });
  installed.add(te);
}

/** `unet.forward` with one timestep per batch item (after {@link enablePerSampleTimesteps}). */
export function unetForwardPerSample<T>(
  unet: UNet2DConditionModel,
  ops: Ops<T>,
  sample: T,
  timesteps: readonly number[],
  encoderHiddenStates: T,
): T {
  enablePerSampleTimesteps(unet);
  return unet.forward(ops, sample, timesteps as unknown as number, encoderHiddenStates);
}
