import type { CommandModule } from 'yargs';
import { check } from '../../errors.ts';
import { evaluateDepth, readDepthFile, readMaskFile } from '../../pipeline/eval-depth.ts';

interface EvalArgs {
  pred: string;
  gt: string;
  mask?: string;
  align: string;
  'min-depth'?: number;
  'max-depth'?: number;
}

const command: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe:
    'metrics of one depth prediction against ground truth, printed as JSON (abs_rel, rmse, log10, delta1-3, ...)',
  builder: (y) =>
    y
      .option('pred', {
        type: 'string',
        demandOption: true,
        describe: 'predicted depth: .npy (float m / uint16 mm), .pfm (m), 16-bit .png (mm)',
      })
      .option('gt', {
        type: 'string',
        demandOption: true,
        describe: 'ground-truth depth, same formats; 0/NaN/inf = no ground truth',
      })
      .option('mask', { type: 'string', describe: 'PNG; pixels where it is 0 are left out' })
      .option('align', {
        type: 'string',
        choices: ['none', 'scale', 'scale-shift'],
        default: 'none',
        describe: 'least-squares alignment of the prediction to ground truth before the metrics',
      })
      .option('min-depth', { type: 'number', describe: 'ignore ground truth at or below this (metres)' })
      .option('max-depth', { type: 'number', describe: 'ignore ground truth beyond this (metres)' }),
  handler: (argv) => {
    const pred = readDepthFile(argv.pred, '--pred');
    const gt = readDepthFile(argv.gt, '--gt');
    let mask: Uint8Array | undefined;
    if (argv.mask) {
      const m = readMaskFile(argv.mask);
      check(
        m.width === gt.width && m.height === gt.height,
        () => `mask is ${m.width}x${m.height}, ground truth ${gt.width}x${gt.height}`,
        {
          file: argv.mask,
          key: '--mask',
        },
      );
      mask = m.data;
    }
    const result = evaluateDepth(pred, gt, {
      align: argv.align as 'none' | 'scale' | 'scale-shift',
      minDepthM: argv['min-depth'],
      maxDepthM: argv['max-depth'],
      mask,
    });
    process.stdout.write(`${JSON.stringify({ pred: argv.pred, gt: argv.gt, ...result }, null, 2)}\n`);
  },
};
export default command;
