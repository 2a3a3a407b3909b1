import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function packageVersion(name: string): string | null {
  // Some packages (h5wasm) do not export their package.json, so look for it beside the resolved entry.
  for (const candidate of [`${name}/package.json`, name]) {
    try {
      let dir = dirname(require.resolve(candidate));
      for (let i = 0; i < 5; i += 1, dir = dirname(dir)) {
        try {
          const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
          if (pkg.name === name && pkg.version) return pkg.version;
        } catch {
          // keep walking up
        }
      }
    } catch {
      // not resolvable this way
    }
  }
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version;
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
