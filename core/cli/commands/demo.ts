import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { initEngine, parseBackend } from '../../engine/backend.ts';
import { ApertureDepthError } from '../../errors.ts';
import { loadConfig } from '../../config/load.ts';
import { runExperiment } from '../../pipeline/run-experiment.ts';
import { stopOnSignals } from '../../interrupt.ts';

/** The default experiment `npm start` runs: the embedded demo scene with the embedded default prior. */
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DEMO_CONFIG = join(repoRoot, 'experiments', 'configs', 'demo.yaml');

interface DemoArgs {
  backend?: string;
  out?: string;
  set?: string[];
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

const command: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe:
    'run the default experiment (experiments/configs/demo.yaml) on the embedded demo scene with the embedded prior and print its metrics',
  builder: (y) =>
    y
      .option('out', { type: 'string', describe: 'run folder (default: runs/demo-<time>)' })
      .option('set', { type: 'string', array: true, describe: 'config overrides key=value' }),
  handler: async (argv) => {
    const loaded = loadConfig(DEMO_CONFIG, { set: argv.set ?? [] });
    await initEngine(parseBackend(argv.backend ?? loaded.config.backend, argv.backend ? '--backend' : 'backend'));
    const outDir = argv.out ?? join('runs', `demo-${timestamp()}`);
    const log = (line: string) => process.stderr.write(`${line}\n`);
    log(`demo: ${relative(process.cwd(), DEMO_CONFIG)} -> ${outDir}`);
    const stop = stopOnSignals((s) => log(`${s}: stopping after this iteration`));
    const result = await runExperiment({ loaded, outDir, log, signal: stop.signal }).finally(stop.release);
    process.stdout.write(`\n${readFileSync(join(result.outDir, 'summary.md'), 'utf8')}\n`);
    process.stdout.write(`Full outputs and report: ${join(result.outDir, 'report.html')}\n`);
    if (result.failed > 0) {
      throw new ApertureDepthError(`${result.failed} run(s) failed; see per_scene.csv`, { file: result.outDir });
    }
  },
};
export default command;
