import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../core/engine/backend.ts';
import { RandomSource } from '../../../diffusion/checkpoint/random-source.ts';
import { AutoencoderKL } from '../../../diffusion/models/vae/autoencoder-kl.ts';
import { parseVaeConfig } from '../../../diffusion/models/vae/config.ts';
import { UNet2DConditionModel } from '../../../diffusion/models/unet/unet.ts';
import { parseUNetConfig } from '../../../diffusion/models/unet/config.ts';
import { trainOps as ops } from '../trainer/train-ops.ts';
import { ParamTrainer } from '../trainer/param-trainer.ts';
import { priorConfigs, TINY } from '../model-configs.ts';
await initEngine('wasm');
const which = process.argv[2] ?? 'vae';
const B = Number(process.argv[3] ?? 8), S = Number(process.argv[4] ?? 32);
const ch = (process.argv[5] ?? '').split(',').filter(Boolean).map(Number);
const spec = { ...TINY, ...(ch.length ? (which === 'vae' ? { vaeChannels: ch } : { unetChannels: ch }) : {}) };
const cfg = priorConfigs(spec);
if (which === 'vae') {
  const vae = new AutoencoderKL(parseVaeConfig(cfg.vae), new RandomSource(1, 'vae', true));
  console.log('vae params', vae.parameterCount());
  const tr = new ParamTrainer(vae.parameters(), { lr: 1e-4 });
  const x = tf.randomUniform([B, S, S, 3], -1, 1);
  const run = () => tr.step(() => ({ loss: tf.tidy(() => { const { mean } = vae.encode(ops, x); return tf.mean(tf.abs(tf.sub(vae.decode(ops, mean), x))) as tf.Scalar; }) }));
  run(); const t0 = performance.now(); for (let i = 0; i < 3; i++) run();
  console.log(`vae ${spec.vaeChannels} B=${B} S=${S}: ${((performance.now() - t0) / 3).toFixed(0)} ms/step`, tf.memory().numTensors);
  const t1 = performance.now(); for (let i = 0; i < 3; i++) tf.tidy(() => vae.encode(ops, x).mean.dataSync());
  console.log('encode fwd', ((performance.now() - t1) / 3).toFixed(0), 'ms');
} else {
  const unet = new UNet2DConditionModel(parseUNetConfig(cfg.unet), new RandomSource(1, 'unet', true));
  console.log('unet params', unet.parameterCount());
  const tr = new ParamTrainer(unet.parameters(), { lr: 1e-4 });
  const x = tf.randomNormal([B, S, S, 8]); const y = tf.randomNormal([B, S, S, 4]); const ctx = tf.randomNormal([B, 2, spec.crossDim]);
  const run = () => tr.step(() => ({ loss: tf.tidy(() => tf.mean(tf.square(tf.sub(unet.forward(ops, x, 500, ctx), y))) as tf.Scalar) }));
  run(); const t0 = performance.now(); for (let i = 0; i < 3; i++) run();
  console.log(`unet ${spec.unetChannels} B=${B} S=${S}: ${((performance.now() - t0) / 3).toFixed(0)} ms/step`, tf.memory().numTensors);
}
