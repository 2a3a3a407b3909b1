import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function packageVersion(name: string): string | null {
  try {
    const pkgPath = require.resolve(`${name}/package.json`);
    return JSON.parse(readFileSync(pkgPath, 'utf8')).version as string;
  } catch {
    return null;
  }
}

/** Versions written into every run record, so a result can be traced to the code and libraries that made it. */
export function versions(): Record<string, string | null> {
  const own = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  return {
    'aperture-depth': own.version,
    node: process.versions.node,
    '@tensorflow/tfjs': tf.version_core ?? packageVersion('@tensorflow/tfjs'),
    '@tensorflow/tfjs-backend-wasm': packageVersion('@tensorflow/tfjs-backend-wasm'),
    backend: tf.getBackend() ?? null,
    'onnxruntime-node': packageVersion('onnxruntime-node'),
    h5wasm: packageVersion('h5wasm'),
  };
}
