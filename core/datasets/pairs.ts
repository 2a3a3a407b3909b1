import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ApertureDepthError, check } from '../errors.ts';
import { safeSceneId, type Dataset, type PairScene, type SceneRef } from './dataset.ts';

export interface PairsOptions {
  /** Folder searched recursively for `pair.json` files. */
  root?: string;
  /** `pair.json` files, or folders holding one. */
  files?: string[];
}

const MAX_DEPTH = 8;

function findPairFiles(dir: string, depth = 0): string[] {
  if (depth > MAX_DEPTH) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...findPairFiles(p, depth + 1));
    else if (name === 'pair.json' || name.endsWith('.pair.json')) out.push(p);
  }
  return out;
}

/**
 * Aperture pairs described by `pair.json` (the format `simulate` writes and users describe their captures
 * in). Scene ids come from the folder (`captures/desk/pair.json` under root `captures` is `desk`).
 */
export class PairsDataset implements Dataset {
  readonly name = 'pairs';
  private readonly refs: SceneRef[];

  constructor(options: PairsOptions) {
    check(
      options.root || options.files,
      () => 'expected root (a folder of pair.json files) or files (a list)',
      {
        key: 'data',
      },
    );
    const files: string[] = [];
    if (options.files) {
      for (const f of options.files) {
        const p = resolve(f);
        if (existsSync(p) && statSync(p).isDirectory()) {
          const inside = join(p, 'pair.json');
          check(existsSync(inside), () => 'folder has no pair.json', { file: p, key: 'data.files' });
          files.push(inside);
        } else {
          check(existsSync(p), () => 'pair file does not exist', { file: p, key: 'data.files' });
          files.push(p);
        }
      }
    }
    if (options.root) {
      let found: string[];
      try {
        found = findPairFiles(resolve(options.root));
      } catch (err) {
        throw new ApertureDepthError('cannot list the pairs folder (does it exist?)', {
          file: options.root,
          key: 'data.root',
          cause: err,
        });
      }
      check(found.length > 0, () => 'no pair.json found (searched sub-folders too)', {
        file: options.root,
        key: 'data.root',
      });
      files.push(...found);
    }
    const base = options.root ? resolve(options.root) : undefined;
    const seen = new Set<string>();
    this.refs = files.map((file, index) => {
      const name =
        basename(file) === 'pair.json'
          ? base
            ? relative(base, dirname(file))
            : basename(dirname(file))
          : basename(file, '.pair.json');
      let id = safeSceneId(name || basename(dirname(file)));
      for (let k = 2; seen.has(id); k++) id = `${safeSceneId(name)}-${k}`;
      seen.add(id);
      return { id, index, source: file };
    });
  }

  scenes(): SceneRef[] {
    return this.refs.map((r) => ({ ...r }));
  }

  async load(ref: SceneRef): Promise<PairScene> {
    return { kind: 'pair', id: ref.id, pairFile: ref.source };
  }
}
