/** The physics layer, one export per line: thin-lens optics, PSFs, renderers, radiometry, noise, simulation. */
export * from './thin-lens-camera.ts';
export * from './circle-of-confusion.ts';
export * from './psf.ts';
export * from './renderers/index.ts';
export * from './radiometry.ts';
export * from './noise.ts';
export * from './simulate-pair.ts';
