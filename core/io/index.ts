// File formats of the project, one module per format (see each file for the details and limits).
export * from './atomic.ts';
export * from './file-bytes.ts';
export * from './ndarray.ts';
export * from './raster.ts';
export * from './png.ts';
export * from './jpeg.ts';
export * from './pnm.ts';
export * from './image.ts';
export * from './npy.ts';
export * from './pfm.ts';
export * from './hdf5.ts';
export * from './json-file.ts';
export * from './safetensors.ts';
