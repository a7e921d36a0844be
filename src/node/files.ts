// Writing run files so that a crash, Ctrl-C or a full disk never leaves a broken one: write a
// temporary file in the same folder, flush it to disk, then rename over the target (rename is
// atomic on POSIX file systems) and flush the folder so the rename itself survives a power cut.
// A file is written whole or not at all; on failure the previous file is left as it was.
import * as fs from 'node:fs';
import { closeSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import type { RgbaImage } from '../train/images.ts';
import { FileError, ensureDir, errnoCode, fsErrorLine, fsyncFolder, processIsAlive } from './disk.ts';

/** The low-level calls whose failures matter most; tests pass their own to simulate a full disk. */
export interface WriteIo {
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
}

const temporaryPattern = /\.tmp-(\d+)$/;

export function writeFileAtomic(file: string, bytes: Uint8Array | string, io: WriteIo = fs): void {
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const folder = path.dirname(path.resolve(file));
  ensureDir(folder);
  const temporary = `${file}.tmp-${process.pid}`;
  const hadPrevious = statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'w');
    // write(2) may write less than asked (a nearly full disk does exactly that before ENOSPC):
    // keep going from where it stopped, so a truncated temp never gets renamed over a good file.
    for (let offset = 0; offset < data.length; ) {
      const written = io.writeSync(fd, data, offset, data.length - offset);
      if (written <= 0) throw Object.assign(new Error(`EIO: write wrote nothing at byte ${offset}`), { code: 'EIO' });
      offset += written;
    }
    io.fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, file);
  } catch (error) {
    if (fd !== undefined) {
      try { closeSync(fd); } catch { /* the write error is the one worth reporting */ }
    }
    rmSync(temporary, { force: true });
    const intact = hadPrevious ? '; the previous file is intact' : '';
    throw new FileError(fsErrorLine(error, file, 'write', { bytesNeeded: data.length }) + intact, { cause: error, code: errnoCode(error) });
  }
  try {
    fsyncFolder(folder);
  } catch (error) {
    throw new FileError(fsErrorLine(error, folder, 'flush folder') + `; ${path.basename(file)} was written but may not survive a power cut`, { cause: error, code: errnoCode(error) });
  }
}

/**
 * Removes the `*.tmp-PID` files in `dir` (not its subfolders) left by writers that are no longer
 * running, and returns their paths. The caller holds the run folder's lock, so a temp of a dead
 * writer is garbage: a crash mid-checkpoint leaves one of about 76 MB.
 */
export function removeStaleTemps(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw new FileError(fsErrorLine(error, dir, 'read folder'), { cause: error, code: errnoCode(error) });
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const pid = temporaryPattern.exec(entry.name)?.[1];
    if (!entry.isFile() || pid === undefined || processIsAlive(Number(pid))) continue;
    const file = path.join(dir, entry.name);
    try {
      rmSync(file, { force: true });
      removed.push(file);
    } catch {
      // Left in place: a temp we cannot remove costs space, not correctness (it is never read).
    }
  }
  return removed;
}

export function writePng(file: string, image: RgbaImage): void {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  writeFileAtomic(file, PNG.sync.write(png));
}
