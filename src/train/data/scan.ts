// Finding the photos of a dataset: every JPEG and PNG under a folder, optionally filtered by a
// glob on the file name, in a fixed order so that two runs on the same folder see the same list
// (the cache hash and the seeded shuffle both depend on that order).
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { globToRegExp } from './glob.ts';

/** Extensions we decode, compared in lower case (Kaggle's set mixes `.jpg` and `.JPG`). */
const imageExtensions = new Set(['.jpg', '.jpeg', '.png']);

export { globToRegExp } from './glob.ts';

/**
 * All JPEG/PNG files under `dir` (recursively), as absolute paths sorted by code unit (not by
 * locale, which would make the order depend on the machine). `match` filters on the base name.
 */
export async function listImages(dir: string, match?: string): Promise<string[]> {
  const root = path.resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (!info) throw new Error(`image folder does not exist: ${root}`);
  if (!info.isDirectory()) throw new Error(`not a folder: ${root}`);

  const nameFilter = match ? globToRegExp(match) : undefined;
  const found: string[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const folder = pending.pop()!;
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else if (isImageName(entry.name) && (!nameFilter || nameFilter.test(entry.name))) found.push(full);
    }
  }
  if (found.length === 0) {
    const filter = match ? ` matching '${match}'` : '';
    throw new Error(`no images (.jpg, .jpeg, .png)${filter} found under ${root}`);
  }
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function isImageName(name: string): boolean {
  return imageExtensions.has(path.extname(name).toLowerCase());
}
