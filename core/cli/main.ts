import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ApertureDepthError } from '../errors.ts';
import { INTERRUPTED_EXIT_CODE, InterruptedError } from '../interrupt.ts';
import { relaunchWithNativeMemory } from '../engine/native-memory.ts';

// Each file in commands/ default-exports one yargs CommandModule; adding a command is adding a file.
const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

async function loadCommands(): Promise<CommandModule[]> {
  const files = readdirSync(commandsDir)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  const modules = await Promise.all(files.map((f) => import(pathToFileURL(join(commandsDir, f)).href)));
  return modules.map((m) => m.default as CommandModule);
}

export async function main(argv: string[]): Promise<void> {
  let cli = yargs(argv)
    .scriptName('aperture-depth')
    .usage('$0 <command> [options]\n\nMetric depth from an aperture pair with a diffusion depth prior.')
    .option('backend', {
      type: 'string',
      describe: 'TensorFlow.js backend: wasm (default), cpu, or tensorflow (needs @tensorflow/tfjs-node[-gpu])',
    })
    .demandCommand(1, 'name a command (see --help)')
    .strict()
    .help()
    .fail((msg, err) => {
      throw err ?? new ApertureDepthError(msg);
    });
  for (const command of await loadCommands()) cli = cli.command(command);
  await cli.parseAsync();
}

const isEntry = process.argv[1] && /(?:main\.ts|aperture-depth(?:\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  // With APERTURE_DEPTH_NATIVE_MEMORY=retain (glibc), the command starts again with the allocator settings
  // that keep onnxruntime's freed blocks for reuse (core/engine/native-memory.ts).
  (async () => {
    if (!(await relaunchWithNativeMemory())) await main(hideBin(process.argv));
  })().catch((err: unknown) => {
    if (err instanceof InterruptedError) {
      process.stderr.write(`aperture-depth: ${err.message}\n`);
      process.exit(INTERRUPTED_EXIT_CODE);
    }
    if (err instanceof ApertureDepthError) {
      process.stderr.write(`aperture-depth: error: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`aperture-depth: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
