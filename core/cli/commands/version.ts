import type { CommandModule } from 'yargs';
import { versions } from '../../run-record/versions.ts';

const command: CommandModule = {
  command: 'versions',
  describe: 'print the versions of this tool, Node.js and the numeric libraries (as written into run records)',
  handler: () => {
    process.stdout.write(`${JSON.stringify(versions(), null, 2)}\n`);
  },
};
export default command;
