import type { CommandModule } from 'yargs';
import { initEngine, parseBackend } from '../../engine/backend.ts';
import { ENGINE_CHOICES, parseNetworkEngine } from '../../engine/network-engine.ts';
import {
  predictRetainPeakBytes,
  relaunchWithNativeMemory,
  type NativeMemoryLoad,
} from '../../engine/native-memory.ts';
import { ApertureDepthError } from '../../errors.ts';
import { loadConfig } from '../../config/load.ts';
import { stopOnSignals } from '../../interrupt.ts';
import { nativeMemoryLoad } from '../../pipeline/native-memory-plan.ts';
import { runExperiment } from '../../pipeline/run-experiment.ts';
import { parseShard } from '../../pipeline/shard.ts';
import { parseSeeds, runSeeds } from '../../pipeline/seed-runs.ts';

interface RunArgs {
  backend?: string;
  config: string;
  set?: string[];
  out?: string;
  resume?: boolean;
  shard?: string;
  seeds?: string;
  'max-tensor-bytes'?: number;
  engine?: string;
}

const command: CommandModule<object, RunArgs> = {
  command: 'run',
  describe:
    'run an experiment config: every scene x variant, with per-scene outputs, summaries and report.html',
  builder: (y) =>
    y
      .option('config', {
        type: 'string',
        demandOption: true,
        describe: 'experiment YAML (see experiments/configs/)',
      })
      .option('set', {
        type: 'string',
        array: true,
        describe: 'override a config key, value read as YAML: --set optimizer.iterations=100 (repeatable)',
      })
      .option('out', { type: 'string', describe: 'run folder (default: output.dir of the config)' })
      .option('resume', {
        type: 'boolean',
        default: false,
        describe: 'skip finished scenes, continue checkpointed ones',
      })
      .option('max-tensor-bytes', {
        type: 'number',
        describe: 'refuse a scene up front when it would need more tensor bytes (limits.max_tensor_bytes)',
      })
      // Checked by parseNetworkEngine (as `prior`'s), not by yargs `choices`: the error names --engine.
      .option('engine', {
        type: 'string',
        describe: `executor of the prior networks (prior.engine), one of ${ENGINE_CHOICES.join(', ')} (default: onnx when it loads)`,
      })
      .option('shard', {
        type: 'string',
        describe:
          'K/N: run every N-th scene starting at K (0-based), e.g. $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT',
      })
      .option('seeds', {
        type: 'string',
        describe:
          'run the config once per seed (0,1,2 or 0-4) into OUT/seed-N/, then summarize over the seeds ' +
          '(seeds_summary.md: mean ± sd per variant, variants paired per scene and seed)',
      })
      .example('$0 run --config experiments/configs/smoke.yaml --out runs/smoke', 'a run of a minute')
      .example(
        '$0 run --config experiments/configs/paper-table3.yaml --seeds 0-2 --out runs/t3-seeds',
        'Table 3 at three seeds',
      )
      .example(
        '$0 run --config experiments/configs/paper-table3.yaml --shard 0/4 --out runs/t3/shard-0',
        'one of four shards',
      ),
  handler: async (argv) => {
    const maxBytes = argv['max-tensor-bytes'];
    if (maxBytes !== undefined && !(Number.isFinite(maxBytes) && maxBytes > 0)) {
      throw new ApertureDepthError(`expected a positive number of bytes, got ${maxBytes}`, {
        key: '--max-tensor-bytes',
      });
    }
    const set = [
      ...(argv.set ?? []),
      ...(maxBytes !== undefined ? [`limits.max_tensor_bytes=${maxBytes}`] : []),
      ...(argv.engine !== undefined ? [`prior.engine=${parseNetworkEngine(argv.engine, '--engine')}`] : []),
    ];
    const loaded = loadConfig(argv.config, { set });
    const shard = argv.shard === undefined ? undefined : parseShard(argv.shard);
    const seeds = argv.seeds === undefined ? undefined : parseSeeds(argv.seeds);
    if (seeds && shard) {
      throw new ApertureDepthError(
        'run the seeds of a sharded run one by one (--set seed=N --shard K/N), merge each seed, then `aperture-depth seeds`',
        { key: '--seeds' },
      );
    }
    const outDir = argv.out ?? loaded.config.output.dir;
    if (!outDir)
      throw new ApertureDepthError('no run folder: pass --out DIR or set output.dir in the config', {
        key: '--out',
      });
    await initEngine(
      parseBackend(argv.backend ?? loaded.config.backend, argv.backend ? '--backend' : 'backend'),
    );
    const log = (line: string) => process.stderr.write(`${line}\n`);
    // Auto native memory: decided for the largest load among the variants (scenes of any aspect: a square).
    await relaunchWithNativeMemory(async () => {
      let largest: NativeMemoryLoad | undefined;
      for (const v of loaded.variants) {
        const load = await nativeMemoryLoad({
          variant: v.type,
          model: v.prior.model,
          engine: v.prior.engine,
          processingResolution: v.prior.processing_resolution,
          margin: v.prior.margin,
        });
        if (load && (!largest || predictRetainPeakBytes(load) > predictRetainPeakBytes(largest)))
          largest = load;
      }
      return largest;
    }, log);
    // Ctrl-C: the scene in progress writes its checkpoint and the run stops (exit 130); --resume finishes it.
    const stop = stopOnSignals((s) => log(`${s}: stopping after this iteration (again to quit at once)`));
    if (seeds) {
      const r = await runSeeds({
        seeds,
        load: (seed) => loadConfig(argv.config, { set: [...set, `seed=${seed}`] }),
        outDir,
        resume: argv.resume,
        log,
        signal: stop.signal,
      }).finally(stop.release);
      process.stdout.write(
        `wrote ${r.outDir}: ${seeds.length} seed run(s) (${seeds.map((s) => `seed-${s}`).join(', ')}); seeds_summary.md\n`,
      );
      if (r.failed > 0) {
        throw new ApertureDepthError(
          `${r.failed} scene x variant run(s) failed; see each seed's per_scene.csv (rerun with --resume to retry them)`,
          { file: r.outDir },
        );
      }
      return;
    }
    const result = await runExperiment({
      loaded,
      outDir,
      resume: argv.resume,
      shard,
      log,
      signal: stop.signal,
    }).finally(stop.release);
    process.stdout.write(
      `wrote ${result.outDir}: ${result.rows.length - result.failed} scene x variant result(s)` +
        `${result.skipped ? ` (${result.skipped} finished before)` : ''}; summary.md, report.html\n`,
    );
    if (result.failed > 0) {
      throw new ApertureDepthError(
        `${result.failed} scene x variant run(s) failed; see per_scene.csv (rerun with --resume to retry them)`,
        {
          file: result.outDir,
        },
      );
    }
  },
};
export default command;
