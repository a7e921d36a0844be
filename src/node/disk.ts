// File-system failures told in one line: which file, what went wrong, what to do; and the checks
// around a write (free space, the folder, fsync of a folder, a live PID). Shared by the image cache
// (src/node/data/cache.ts) and the run files (src/node/files.ts).
import { accessSync, closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, statSync, statfsSync } from 'node:fs';
import path from 'node:path';

/** A file operation that failed; the message is one line that names the file, the cause and the remedy. */
export class FileError extends Error {
  override name = 'FileError';
  /** The errno code of the cause (ENOSPC, EROFS, ...), when there was one. */
  readonly code?: string;
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, { cause: options.cause });
    this.code = options.code;
  }
}

interface FsErrorDetail {
  /** For ENOSPC/EDQUOT: the bytes the write needed, shown next to the free space. */
  bytesNeeded?: number;
  /** The flag that picks the folder, named in the remedy (default '--out'). */
  flag?: string;
  /** The path where the cause was found, when not `file` itself (e.g. the read-only ancestor). */
  at?: string;
}

export const errnoCode = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

const bytes = (n: number) => n.toLocaleString('en-US');

/**
 * `cannot <doing> <file>: <cause>: <what to do>`, e.g.
 * `cannot write /x/checkpoint.safetensors: disk full (885,344 bytes needed, 217,088 free): free some space or choose another --out`.
 */
export function fsErrorLine(e: unknown, file: string, doing: string, detail: FsErrorDetail = {}): string {
  const flag = detail.flag ?? '--out';
  const code = errnoCode(e);
  const at = detail.at && path.resolve(detail.at) !== path.resolve(file) ? ` at ${detail.at}` : '';
  const line = (cause: string, remedy: string) => `cannot ${doing} ${file}: ${cause}${at}: ${remedy}`;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT': {
      const what = code === 'ENOSPC' ? 'disk full' : 'disk quota exceeded';
      const free = freeBytes(detail.at ?? file);
      const counts = [
        detail.bytesNeeded !== undefined ? `${bytes(detail.bytesNeeded)} bytes needed` : undefined,
        free !== undefined ? `${bytes(free)} free` : undefined,
      ].filter(Boolean).join(', ');
      return line(counts ? `${what} (${counts})` : `${what} (${code})`, `free some space or choose another ${flag}`);
    }
    case 'EROFS':
      return line('read-only file system (EROFS)', `choose a writable ${flag}`);
    case 'EACCES':
    case 'EPERM':
      return line(`permission denied (${code})`, `fix the permissions or choose another ${flag}`);
    case 'ENOENT':
      return line('no such file or folder (ENOENT)', 'check the path');
    case 'ENOTDIR':
      return line('a part of the path is a file, not a folder (ENOTDIR)', 'check the path');
    case 'EEXIST':
      return line('a file of that name is in the way (EEXIST)', `move it away or choose another ${flag}`);
    case 'EISDIR':
      return line('it is a folder, not a file (EISDIR)', 'give a file path, or move the folder away');
    default: {
      const message = e instanceof Error ? e.message : String(e);
      if (!code) return line(firstLine(message), 'see the message above');
      // Node writes "EIO: i/o error, write '/x'": keep the words between the code and the syscall.
      const words = message.replace(`${code}: `, '').split(',')[0].trim();
      return line(`${words} (${code})`, 'check the disk and try again');
    }
  }
}

const firstLine = (text: string) => text.split('\n')[0];

/** Free bytes for an unprivileged writer on the file system holding `file` (or its nearest existing folder). */
function freeBytes(file: string): number | undefined {
  try {
    const info = statfsSync(nearestExisting(file));
    return Number(info.bavail) * Number(info.bsize);
  } catch {
    return undefined;
  }
}

/** `file` itself if it exists, else the closest folder above it that does. */
function nearestExisting(file: string): string {
  let current = path.resolve(file);
  while (!existsSync(current) && path.dirname(current) !== current) current = path.dirname(current);
  return current;
}

/**
 * mkdir -p that says why it failed. Node's recursive mkdir reports ENOENT on a read-only file
 * system (it tries the parent, which exists, then gives up), so on failure we test the nearest
 * existing ancestor for writing and report that real cause and place.
 */
export function ensureDir(dir: string, flag = '--out'): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    const inTheWay = nearestExisting(dir);
    if (!statSync(inTheWay, { throwIfNoEntry: false })?.isDirectory()) {
      throw new FileError(fsErrorLine(error, dir, 'create folder', { flag, at: inTheWay }), { cause: error, code: errnoCode(error) });
    }
    const ancestor = nearestExisting(path.dirname(path.resolve(dir)));
    try {
      accessSync(ancestor, constants.W_OK);
    } catch (access) {
      if (['EROFS', 'EACCES', 'EPERM'].includes(errnoCode(access) ?? '')) {
        throw new FileError(fsErrorLine(access, dir, 'create folder', { flag, at: ancestor }), { cause: error, code: errnoCode(access) });
      }
    }
    throw new FileError(fsErrorLine(error, dir, 'create folder', { flag }), { cause: error, code: errnoCode(error) });
  }
}

/**
 * Flushes a folder's entries, so a rename inside it survives a power cut. Some file systems (and
 * Windows) refuse fsync on a folder: that refusal means nothing was lost, so it is ignored.
 */
export function fsyncFolder(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (error) {
    if (folderSyncUnsupported(error)) return;
    throw error;
  }
  try {
    fsyncSync(fd);
  } catch (error) {
    if (!folderSyncUnsupported(error)) throw error;
  } finally {
    closeSync(fd);
  }
}

const folderSyncUnsupported = (e: unknown) => ['EINVAL', 'EISDIR', 'EBADF', 'ENOTSUP', 'EOPNOTSUPP', 'EPERM'].includes(errnoCode(e) ?? '');

/** Whether `pid` is a running process: kill(pid, 0) checks without sending; EPERM means it exists but is not ours. */
export function processIsAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) !== 'ESRCH';
  }
}
