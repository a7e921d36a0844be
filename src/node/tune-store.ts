// Where Node keeps the conv tuner's choices (src/train/tune.ts): one JSON file per adapter under the cache
// folder (--cache-dir, default $XDG_CACHE_HOME/webgpu-dcgan), written atomically. A cache that cannot be
// written costs only time: the run goes on with its choices and says the next run will tune again.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TuningStore } from '../train/tune.ts';
import { errnoCode, fsErrorLine } from './disk.ts';
import { writeFileAtomic } from './files.ts';
import { fnv1a } from '../util/hash.ts';

/** A short file-name-safe tag of the adapter (the file itself holds the full key, which is checked). */
function slug(text: string): string {
  const name = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
  return `${name}-${fnv1a(text)}`;
}

/** The store of the adapter with this key (src/train/tune.ts adapterKey) under `cacheDir`. */
export function tuningFileStore(cacheDir: string, adapter: string, log: (line: string) => void = console.error): TuningStore {
  const file = path.join(cacheDir, `conv-tuning-${slug(adapter)}.json`);
  return {
    where: file,
    read: async () => {
      try {
        return await readFile(file, 'utf8');
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') return null;
        log(`note: ${fsErrorLine(e, file, 'read', { flag: '--cache-dir' })}; tuning again`);
        return null;
      }
    },
    write: async (text) => {
      try {
        writeFileAtomic(file, text);
      } catch (e) {
        log(`note: the conv tuning was not kept (${e instanceof Error ? e.message : String(e)}); the next run tunes again`);
      }
    },
  };
}
