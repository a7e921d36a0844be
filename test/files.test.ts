// Run files are written whole or not at all: a full disk, a short write or a read-only folder
// leaves the previous file as it was, no temp behind, and a one-line error that says what to do.
// The real failures need a small or read-only file system, which only root can mount; the
// short-write cases inject the writer and run everywhere.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileError, ensureDir } from '../src/node/disk.ts';
import { removeStaleTemps, writeFileAtomic, type WriteIo } from '../src/node/files.ts';

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'dcgan-files-test-'));
const mounts: string[] = [];

/** A tmpfs at a new folder under the scratch folder, or undefined where mounting is not allowed. */
function mountTmpfs(name: string, options: string): string | undefined {
  const dir = path.join(scratch, name);
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    console.warn(`files.test: cannot mount a tmpfs at ${dir} (${(error as Error).message.split('\n')[0]}), skipping that case`);
    return undefined;
  }
  mounts.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of mounts) execFileSync('umount', [dir]);
  rmSync(scratch, { recursive: true, force: true });
});

const pattern = (size: number, seed: number) => Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff);
const temps = (dir: string) => readdirSync(dir).filter((name) => name.includes('.tmp-'));
const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('writeFileAtomic', () => {
  it('finishes a file that write(2) hands back in short pieces', () => {
    const file = path.join(scratch, 'short', 'checkpoint.safetensors');
    const bytes = pattern(1000, 1);
    const io: WriteIo = { writeSync: (fd, buffer, offset, length) => fs.writeSync(fd, buffer, offset, Math.min(length, 7)), fsyncSync: fs.fsyncSync };
    writeFileAtomic(file, bytes, io);
    expect(readFileSync(file)).toEqual(Buffer.from(bytes));
    expect(temps(path.dirname(file))).toEqual([]);
  });

  it('keeps the previous file when a short write is followed by ENOSPC (what a nearly full disk does)', () => {
    const file = path.join(scratch, 'injected', 'checkpoint.safetensors');
    const previous = pattern(500, 2);
    writeFileAtomic(file, previous);
    let calls = 0;
    const io: WriteIo = {
      writeSync: (fd, buffer, offset, length) => {
        if (calls++ > 0) throw enospc();
        return fs.writeSync(fd, buffer, offset, Math.ceil(length / 2));
      },
      fsyncSync: fs.fsyncSync,
    };
    const attempt = () => writeFileAtomic(file, pattern(4000, 3), io);
    expect(attempt).toThrow(FileError);
    expect(attempt).toThrow(/^cannot write .*injected\/checkpoint\.safetensors: disk full \(4,000 bytes needed, [\d,]+ free\): free some space or choose another --out; the previous file is intact$/);
    expect(readFileSync(file)).toEqual(Buffer.from(previous));
    expect(temps(path.dirname(file))).toEqual([]);
  });

  it.skipIf(!isRoot)('keeps the previous file on a really full disk (a 256 KiB tmpfs; root only)', (context) => {
    const disk = mountTmpfs('full', 'size=256k');
    if (!disk) return context.skip();
    const file = path.join(disk, 'checkpoint.safetensors');
    const previous = pattern(10_000, 4);
    writeFileAtomic(file, previous);
    const attempt = () => writeFileAtomic(file, pattern(300_000, 5));
    expect(attempt).toThrow(/^cannot write .*full\/checkpoint\.safetensors: disk full \(300,000 bytes needed, [\d,]+ free\): .*; the previous file is intact$/);
    expect(readFileSync(file)).toEqual(Buffer.from(previous));
    expect(temps(disk)).toEqual([]);
  });
});

describe('removeStaleTemps', () => {
  it('removes the temps of dead writers and keeps those of live ones', () => {
    const dir = path.join(scratch, 'stale');
    mkdirSync(dir);
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!; // exited by the time spawnSync returns
    const dead = path.join(dir, `checkpoint.safetensors.tmp-${deadPid}`);
    const live = path.join(dir, `checkpoint.safetensors.tmp-${process.pid}`);
    const other = path.join(dir, 'checkpoint.safetensors');
    for (const file of [dead, live, other]) writeFileSync(file, 'x');
    expect(removeStaleTemps(dir)).toEqual([dead]);
    expect([existsSync(dead), existsSync(live), existsSync(other)]).toEqual([false, true, true]);
    expect(removeStaleTemps(path.join(dir, 'nowhere'))).toEqual([]);
  });
});

describe('ensureDir', () => {
  // chmod does not stop root, so root gets a read-only tmpfs and everyone else a folder without write permission.
  it('names the read-only or unwritable folder above the one it could not create', (context) => {
    let readOnly: string | undefined;
    if (isRoot) readOnly = mountTmpfs('readonly', 'ro,size=16k');
    else if (process.platform !== 'win32') {
      readOnly = path.join(scratch, 'locked');
      mkdirSync(readOnly);
      chmodSync(readOnly, 0o555);
    }
    if (!readOnly) {
      console.warn('files.test: no read-only folder can be made here (root without mount, or Windows), skipping the ensureDir case');
      return context.skip();
    }
    const cause = isRoot ? 'read-only file system \\(EROFS\\)' : 'permission denied \\(EACCES\\)';
    const remedy = isRoot ? 'choose a writable --out' : 'fix the permissions or choose another --out';
    const run = path.join(readOnly, 'run', 'samples');
    expect(() => ensureDir(run)).toThrow(new RegExp(`^cannot create folder ${run}: ${cause} at ${readOnly}: ${remedy}$`));
    expect(() => writeFileAtomic(path.join(readOnly, 'run.json'), '{}')).toThrow(new RegExp(`^cannot write ${readOnly}/run\\.json: ${cause}: ${remedy}$`));
    if (!isRoot) chmodSync(readOnly, 0o755);
  });
});
