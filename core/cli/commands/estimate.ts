import type { CommandModule } from 'yargs';
import { initEngine, parseBackend } from '../../engine/backend.ts';
import { ENGINE_CHOICES, parseNetworkEngine } from '../../engine/network-engine.ts';
import { relaunchWithNativeMemory } from '../../engine/native-memory.ts';
import { check } from '../../errors.ts';
import { imageSize } from '../../io/image-size.ts';
import { stopOnSignals } from '../../interrupt.ts';
import { estimate } from '../../pipeline/estimate.ts';
import { readEstimateConfig } from '../../pipeline/estimate-config.ts';
import { nativeMemoryLoad } from '../../pipeline/native-memory-plan.ts';
import { loadPairSpec } from '../../pipeline/pair.ts';
import { VARIANTS, type Variant } from '../../../optimizers/config.ts';

interface EstimateArgs {
  backend?: string;
  engine?: string;
  pair: string;
  out: string;
  model?: string;
  config?: string;
  iterations?: number;
  seed?: number;
  variant?: string;
  resume?: boolean;
  'working-size'?: number;
  'checkpoint-every'?: number;
  'max-tensor-bytes'?: number;
  progress?: boolean;
}

const command: CommandModule<object, EstimateArgs> = {
  command: 'estimate',
  describe:
    'metric depth from an aperture pair (pair.json): optimize the prior and scale/shift through the defocus model',
  builder: (y) =>
    y
      .option('pair', { type: 'string', demandOption: true, describe: 'pair description (pair.json)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output folder' })
      .option('model', {
        type: 'string',
        describe: 'Marigold checkpoint folder or known name (default: the embedded model)',
      })
      .option('config', {
        type: 'string',
        describe: 'YAML with `optimizer` and `prior` sections (experiment config layout)',
      })
      // Checked by parseNetworkEngine (as `prior`'s), not by yargs `choices`: the error names --engine.
      .option('engine', {
        type: 'string',
        describe:
          `executor of the prior networks, one of ${ENGINE_CHOICES.join(', ')}: onnx (onnxruntime-node, native threads), tfjs (the --backend), or auto ` +
          '(default: onnx when onnxruntime-node loads, else tfjs); config key prior.engine',
      })
      .option('iterations', { type: 'number', describe: 'Adam steps (default 200)' })
      .option('seed', { type: 'number', describe: 'seed of the initial latent (default 0)' })
      .option('variant', {
        type: 'string',
        choices: [...VARIANTS],
        describe: 'what to optimize (default full)',
      })
      .option('resume', { type: 'boolean', describe: 'continue from OUT/checkpoint.json' })
      .option('working-size', {
        type: 'number',
        describe: 'optimize at this long side (box-downsampled); outputs stay at input size',
      })
      .option('checkpoint-every', {
        type: 'number',
        describe: "write OUT/checkpoint.json every N iterations (default: the config's, else 10)",
      })
      .option('max-tensor-bytes', {
        type: 'number',
        describe: 'refuse up front when the run would need more tensor bytes; says what size would fit',
      })
      .option('progress', {
        type: 'boolean',
        describe: 'force the progress bar on or off (default: on a TTY)',
      }),
  handler: async (argv) => {
    await initEngine(parseBackend(argv.backend ?? 'wasm'));
    for (const key of [
      'iterations',
      'seed',
      'working-size',
      'checkpoint-every',
      'max-tensor-bytes',
    ] as const) {
      const v = argv[key];
      check(v === undefined || (Number.isInteger(v) && v >= 0), () => `expected an integer >= 0, got ${v}`, {
        key: `--${key}`,
      });
    }
    const fileConfig = argv.config ? readEstimateConfig(argv.config) : undefined;
    check(argv['checkpoint-every'] !== 0, () => 'expected an integer >= 1, got 0', {
      key: '--checkpoint-every',
    });
    check(argv['max-tensor-bytes'] !== 0, () => 'expected a number of bytes >= 1, got 0', {
      key: '--max-tensor-bytes',
    });
    const log = (line: string) => process.stderr.write(`aperture-depth: ${line}\n`);
    const engine =
      argv.engine !== undefined
        ? parseNetworkEngine(argv.engine, '--engine')
        : fileConfig?.prior.engine !== undefined
          ? parseNetworkEngine(fileConfig.prior.engine, 'prior.engine')
          : undefined;
    const workingMaxSide = argv['working-size'] || fileConfig?.workingMaxSide;
    // Auto native memory: a real-size prior whose predicted peak fits starts again keeping freed blocks.
    await relaunchWithNativeMemory(() => {
      let size: { width: number; height: number } | undefined;
      try {
        size = imageSize(loadPairSpec(argv.pair).aif);
      } catch {
        return undefined; // the run reports the pair's problem itself
      }
      return nativeMemoryLoad({
        variant: argv.variant ?? fileConfig?.optimizer.variant,
        model: argv.model ?? fileConfig?.prior.model,
        engine,
        processingResolution: fileConfig?.prior.processingResolution,
        margin: fileConfig?.prior.margin,
        ...size,
        workingMaxSide,
      });
    }, log);
    // Ctrl-C: finish the iteration, write the checkpoint, exit 130; a second Ctrl-C exits at once.
    const stop = stopOnSignals((s) => log(`${s}: stopping after this iteration (again to quit at once)`));
    const result = await estimate({
      pair: argv.pair,
      outDir: argv.out,
      model: argv.model ?? fileConfig?.prior.model,
      variant: argv.variant as Variant | undefined,
      iterations: argv.iterations,
      seed: argv.seed,
      optimizer: fileConfig?.optimizer,
      prior: fileConfig?.prior,
      engine,
      checkpointEvery: argv['checkpoint-every'] ?? fileConfig?.checkpointEvery,
      workingMaxSide,
      resume: argv.resume ?? false,
      progress: argv.progress ?? 'auto',
      log,
      configFile: argv.config,
      maxTensorBytes: argv['max-tensor-bytes'] ?? fileConfig?.maxTensorBytes,
      signal: stop.signal,
    }).finally(stop.release);
    const m = result.metrics;
    process.stdout.write(
      `wrote ${result.outDir}: depth ${result.width}x${result.height} (${result.variant}, prior ${result.prior.name}), ` +
        `scale ${result.scale.toFixed(4)} m, shift ${result.shift.toFixed(4)} m, ${result.iterations} iterations, ` +
        `loss ${result.lossHistory[0]?.toExponential(3) ?? '-'} -> ${result.finalLoss.toExponential(3)}` +
        (m ? `; abs_rel ${m.abs_rel.toFixed(4)}, delta1 ${m.delta1.toFixed(3)}` : '') +
        '\n',
    );
  },
};
export default command;
