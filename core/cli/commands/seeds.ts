import type { CommandModule } from 'yargs';
import { summarizeSeedRuns } from '../../pipeline/seed-runs.ts';

interface SeedsArgs {
  dirs: string[];
  out: string;
}

const command: CommandModule<object, SeedsArgs> = {
  command: 'seeds <dirs..>',
  describe: 'summarize run folders of one config that differ only in seed: mean ± sd, variants paired',
  builder: (y) =>
    y
      .positional('dirs', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'run folders (run --set seed=N, or the seed-N folders of run --seeds)',
      })
      .option('out', {
        type: 'string',
        demandOption: true,
        describe: 'folder for seeds_summary.md, seeds_summary.json, seeds_per_scene.csv',
      })
      .example('$0 seeds runs/t3-s0 runs/t3-s1 runs/t3-s2 --out runs/t3-seeds', 'three seeds of Table 3'),
  handler: (argv) => {
    const { outDir, summary } = summarizeSeedRuns(argv.dirs, argv.out);
    process.stdout.write(
      `wrote ${outDir}/seeds_summary.md: seeds ${summary.seeds.join(', ')}, ${summary.scenes} scene(s)\n`,
    );
  },
};
export default command;
