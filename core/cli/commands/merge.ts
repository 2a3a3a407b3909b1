import type { CommandModule } from 'yargs';
import { mergeRuns } from '../../pipeline/merge-runs.ts';

interface MergeArgs {
  dirs: string[];
  out: string;
}

const command: CommandModule<object, MergeArgs> = {
  command: 'merge <dirs..>',
  describe: 'combine run folders (the shards of one config) into one summary and report',
  builder: (y) =>
    y
      .positional('dirs', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'run folders written by `run --shard K/N`',
      })
      .option('out', { type: 'string', demandOption: true, describe: 'merged run folder' })
      .example('$0 merge runs/t3/shard-* --out runs/t3', 'merge four shards'),
  handler: (argv) => {
    const result = mergeRuns(argv.dirs, argv.out);
    process.stdout.write(
      `wrote ${result.outDir}: ${result.rows.length} scene x variant result(s) from ${argv.dirs.length} run(s)\n`,
    );
    if (result.missingShards.length) {
      process.stderr.write(
        `aperture-depth: warning: shard(s) ${result.missingShards.join(', ')} missing; the summary covers the rest\n`,
      );
    }
  },
};
export default command;
