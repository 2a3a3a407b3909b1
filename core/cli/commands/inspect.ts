import type { CommandModule } from 'yargs';
import { formatModelReport, inspectModel } from '../../pipeline/inspect-model.ts';

interface InspectArgs {
  model: string;
  json?: boolean;
}

const command: CommandModule<object, InspectArgs> = {
  command: 'inspect',
  describe:
    'describe a Marigold model folder: components, parameter counts, stored dtypes, the config values in use',
  builder: (y) =>
    y
      .option('model', {
        type: 'string',
        demandOption: true,
        describe: 'diffusers model folder or known name',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' }),
  handler: (argv) => {
    const report = inspectModel(argv.model);
    process.stdout.write(argv.json ? `${JSON.stringify(report, null, 2)}\n` : formatModelReport(report));
  },
};
export default command;
