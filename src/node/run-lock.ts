// One trainer per run folder: RUN/lock holds the PID and host of the trainer that owns the folder. Two
// trainers on one folder would interleave their log lines and overwrite each other's checkpoints.
// The lock is created with O_EXCL (open 'wx'), so of two trainers starting at once exactly one gets it;
// a lock whose process is gone (a crash, SIGKILL) is taken over with a note. It is removed at exit.
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processIsAlive } from './disk.ts';

const LOCK_FILE = 'lock';

interface LockOwner {
  pid: number;
  host: string;
  started: string;
}

export class RunLock {
  private released = false;
  private readonly onExit = () => this.release();

  private constructor(readonly file: string) {
    process.on('exit', this.onExit);
  }

  /** Take RUN/lock, or throw one line naming the trainer that holds it. `note` gets the takeover message. */
  static acquire(runDir: string, note: (line: string) => void = console.error): RunLock {
    const file = path.join(runDir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number;
      try {
        fd = openSync(file, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const owner = readOwner(file);
        if (owner && owner.host !== os.hostname()) {
          throw new Error(`${runDir} is in use by the trainer with PID ${owner.pid} on host ${owner.host} (since ${owner.started}): stop it first, or if it is gone delete ${file}`);
        }
        if (owner && owner.pid !== process.pid && processIsAlive(owner.pid)) {
          throw new Error(`${runDir} is in use by the trainer with PID ${owner.pid} (since ${owner.started}): stop it first (kill ${owner.pid}), or choose another --out`);
        }
        if (!owner && Date.now() - (statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 5000) {
          // an empty lock a few seconds old is a trainer between creating and writing it
          throw new Error(`${runDir} is being taken by another trainer right now: wait for it, or choose another --out`);
        }
        note(`note: taking over ${file} of ${owner ? `PID ${owner.pid}, which is no longer running` : 'a trainer that left it unreadable'}`);
        rmSync(file, { force: true });
        continue;
      }
      const owner: LockOwner = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
      try {
        writeSync(fd, JSON.stringify(owner) + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return new RunLock(file);
    }
    throw new Error(`could not take ${file}: another trainer took it at the same moment`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    // only our own lock: never delete one a later trainer took over
    if (readOwner(this.file)?.pid === process.pid) rmSync(this.file, { force: true });
  }
}

function readOwner(file: string): LockOwner | null {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
    return Number.isInteger(owner.pid) ? owner : null;
  } catch {
    return null; // half-written by a trainer killed between open and write, or removed meanwhile
  }
}
