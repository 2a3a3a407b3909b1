import type { CommandModule } from 'yargs';
import { initEngine, parseBackend } from '../../engine/backend.ts';
import { runSimulateCommand } from '../../pipeline/simulate-command.ts';

interface SimulateArgs {
  backend?: string;
  rgb: string;
  depth: string;
  'depth-unit'?: 'm' | 'mm';
  mask?: string;
  camera: string;
  out: string;
  renderer?: 'scatter' | 'gather' | 'layered';
  psf?: 'disc' | 'gaussian';
  'noise-sigma'?: number;
  seed?: number;
}

const command: CommandModule<object, SimulateArgs> = {
  command: 'simulate',
  describe:
    'render an aperture pair (aif.png, blurred.png: 16-bit linear; depth_gt.npy; pair.json) from an RGB-D frame. ' +
    'Light from sources outside the frame is lost (zero outside).',
  builder: (y) =>
    y
      .option('rgb', { type: 'string', demandOption: true, describe: 'sRGB photo taken as the all-in-focus radiance' })
      .option('depth', { type: 'string', demandOption: true, describe: 'metric depth: .npy, .pfm or 16-bit PNG' })
      .option('depth-unit', {
        choices: ['m', 'mm'] as const,
        describe: 'unit of the depth values (default: mm for PNG and uint16 .npy, else m)',
      })
      .option('mask', { type: 'string', describe: 'PNG, zero = no ground truth there' })
      .option('camera', {
        type: 'string',
        demandOption: true,
        describe: 'CAMERA.json: focal_length_mm, pixel_pitch_um, focus_distance_m, f_number_aif, f_number_blurred',
      })
      .option('out', { type: 'string', demandOption: true, describe: 'output folder' })
      .option('renderer', {
        choices: ['scatter', 'gather', 'layered'] as const,
        default: 'layered' as const,
        describe: 'defocus model (layered: occlusion-aware)',
      })
      .option('psf', { choices: ['disc', 'gaussian'] as const, default: 'disc' as const })
      .option('noise-sigma', { type: 'number', default: 0, describe: 'Gaussian read noise, linear [0, 1] units' })
      .option('seed', { type: 'number', default: 0, describe: 'noise seed' }),
  handler: async (argv) => {
    await initEngine(parseBackend(argv.backend ?? 'wasm'));
    const result = await runSimulateCommand({
      rgb: argv.rgb,
      depth: argv.depth,
      depthUnit: argv['depth-unit'],
      mask: argv.mask,
      camera: argv.camera,
      out: argv.out,
      renderer: argv.renderer,
      psf: argv.psf,
      noiseSigma: argv['noise-sigma'],
      seed: argv.seed,
    });
    process.stdout.write(`wrote ${result.pairFile} (focus ${result.focusDistanceM} m)\n`);
  },
};
export default command;
