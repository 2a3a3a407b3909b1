import type { CommandModule } from 'yargs';
import { initEngine, parseBackend } from '../../engine/backend.ts';
import { ENGINE_CHOICES, parseNetworkEngine } from '../../engine/network-engine.ts';
import { check } from '../../errors.ts';
import { runPriorCommand } from '../../pipeline/prior-command.ts';

interface PriorArgs {
  backend?: string;
  engine?: string;
  model?: string;
  image: string;
  out: string;
  latents?: string;
  steps?: number;
  scheduler?: string;
  'processing-resolution'?: number;
  margin?: number;
  seed?: number;
  ensemble?: number;
  reduction?: string;
  uncertainty?: string;
}

const command: CommandModule<object, PriorArgs> = {
  command: 'prior',
  describe:
    'relative depth [H, W] in [0, 1] from the Marigold prior alone (no defocus), written as float32 .npy',
  builder: (y) =>
    y
      .option('model', {
        type: 'string',
        describe:
          'diffusers model folder or known name (marigold-depth-lcm-v1-0, ...) (default: the embedded model)',
      })
      // Checked by parseNetworkEngine (as estimate's value), not by yargs `choices`: the error names --engine.
      .option('engine', {
        type: 'string',
        describe:
          `executor of the prior networks, one of ${ENGINE_CHOICES.join(', ')}: onnx (onnxruntime-node, native ` +
          'threads), tfjs (the --backend), or auto (default: onnx when onnxruntime-node loads, else tfjs)',
      })
      .option('image', { type: 'string', demandOption: true, describe: 'input image (PNG, JPEG, PPM)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output depth .npy (float32 [H, W])' })
      .option('latents', {
        type: 'string',
        describe: 'noise latent .npy [1, 4, h, w] to use exactly (else drawn from --seed)',
      })
      .option('steps', { type: 'number', describe: "denoising steps (default: the checkpoint's)" })
      .option('scheduler', {
        type: 'string',
        choices: ['ddim', 'lcm'],
        describe: "sampler (default: the checkpoint's)",
      })
      .option('processing-resolution', {
        type: 'number',
        describe: "long side during processing; 0 = input size (default: the checkpoint's, else 768)",
      })
      .option('margin', {
        type: 'number',
        describe:
          'reflected margin in processing pixels around the resized image, cropped off the prediction (for ' +
          'decoders with border artifacts; default 0)',
      })
      .option('seed', {
        type: 'number',
        describe: 'seed of the noise latent and of LCM step noise (default 0)',
      })
      .option('ensemble', {
        type: 'number',
        describe:
          "test-time ensemble (Marigold's ensemble_size): N predictions from seeds seed .. seed + N - 1, aligned " +
          'affinely to each other, reduced and normalized to [0, 1] (default 1: the single prediction)',
      })
      .option('reduction', {
        type: 'string',
        choices: ['median', 'mean'],
        describe: "reduction of the ensemble's aligned members (default median)",
      })
      .option('uncertainty', {
        type: 'string',
        describe: "also write the ensemble's per-pixel spread (.npy float32 [H, W]; needs --ensemble >= 2)",
      }),
  handler: async (argv) => {
    const engine = argv.engine !== undefined ? parseNetworkEngine(argv.engine, '--engine') : undefined;
    await initEngine(parseBackend(argv.backend ?? 'wasm'));
    for (const key of ['steps', 'seed', 'processing-resolution', 'margin'] as const) {
      const v = argv[key];
      check(v === undefined || (Number.isInteger(v) && v >= 0), () => `expected an integer >= 0, got ${v}`, {
        key: `--${key}`,
      });
    }
    const result = await runPriorCommand({
      model: argv.model,
      engine,
      image: argv.image,
      out: argv.out,
      latents: argv.latents,
      steps: argv.steps,
      scheduler: argv.scheduler as 'ddim' | 'lcm' | undefined,
      processingResolution: argv['processing-resolution'],
      margin: argv.margin,
      seed: argv.seed,
      ensemble: argv.ensemble,
      reduction: argv.reduction as 'median' | 'mean' | undefined,
      uncertaintyOut: argv.uncertainty,
      log: (line) => process.stderr.write(`aperture-depth: ${line}\n`),
    });
    for (const note of result.notes) process.stderr.write(`aperture-depth: note: ${note}\n`);
    process.stdout.write(
      `wrote ${result.out}: depth [${result.shape.join(', ')}] (engine ${result.engine.engine}, ${result.scheduler}, timesteps [${result.timesteps.join(', ')}], ` +
        `processing resolution ${result.processingResolution}, latent [${result.latentShape.join(', ')}] from ${result.latentSource}` +
        `${result.ensemble > 1 ? `, ensemble of ${result.ensemble}` : ''})\n`,
    );
  },
};
export default command;
