// Finding the photos of a dataset: every JPEG and PNG under a folder, optionally filtered by a
// glob on the file name, in a fixed order so that two runs on the same folder see the same list
// (the cache hash and the seeded shuffle both depend on that order).
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { globToRegExp } from '../../train/data/glob.ts';

/** Extensions we decode, compared in lower case (Kaggle's set mixes `.jpg` and `.JPG`). */
const imageExtensions = new Set(['.jpg', '.jpeg', '.png']);

/**
 * All JPEG/PNG files under `dir` (recursively), as absolute paths sorted by code unit (not by
 * locale, which would make the order depend on the machine). `match` filters on the base name.
 * Symlinks to folders and files are followed (a dataset is often a folder of links to the
 * real photos); each real folder is read once, so a link back up the tree cannot loop forever.
 */
export async function listImages(dir: string, match?: string): Promise<string[]> {
  const root = path.resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (!info) throw new Error(`image folder does not exist: ${root}`);
  if (!info.isDirectory()) throw new Error(`not a folder: ${root}`);

  const nameFilter = match ? globToRegExp(match) : undefined;
  const found: string[] = [];
  const visited = new Set<string>(); // real paths of the folders read so far
  const pending = [root];
  while (pending.length > 0) {
    const folder = pending.pop()!;
    const real = await realpath(folder);
    if (visited.has(real)) continue;
    visited.add(real);
    // Entries sorted and the stack popped in name order: when two links reach the same real
    // folder, the one whose path is first by name is the one listed, on every machine.
    const entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subfolders: string[] = [];
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      let isFolder = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const target = await stat(full).catch(() => undefined); // a dangling link is skipped
        isFolder = target?.isDirectory() ?? false;
        isFile = target?.isFile() ?? false;
      }
      if (isFolder) subfolders.push(full);
      else if (isFile && isImageName(entry.name) && (!nameFilter || nameFilter.test(entry.name))) found.push(full);
    }
    pending.push(...subfolders.reverse());
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
