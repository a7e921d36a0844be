// The trainer never loses work, on the real command line: every stop signal (to node and to `npm run
// train`) checkpoints and exits 128 + the signal; SIGKILLs at random moments resume to the losses of an
// uninterrupted run, with one log line per iteration; one trainer per run folder; a start that fails
// leaves --out as it was; --resume applies the flags that may change and refuses the others; the guard
// at --lr 1 keeps the checkpoint from before the collapse and its advice works; a full disk mid-run
// stops with one line and the previous checkpoint intact; temps a crash left are removed.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeCheckpoint } from '../src/train/checkpoint.ts';
import { processIsAlive } from '../src/node/disk.ts';
import { writeSyntheticPhotos } from './support/photos.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dcgan-safety-test-'));
const photos = path.join(tmp, 'photos');
const TINY = ['--image-size', '16', '--ngf', '4', '--ndf', '4', '--nz', '8', '--batch-size', '4', '--sample-every', '2', '--holdout', '0', '--cache-dir', path.join(tmp, 'cache')];
const NODE_ARGS = ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', 'src/node/cli/train.ts'];
/** SIGKILLs of the resume-equality test: KILLS=20 for the closing figures, 4 in CI */
const KILLS = Number(process.env.KILLS ?? 4);

interface Trainer {
  child: ChildProcess;
  stderr: () => string;
  /** exit code, or 128 + n for a death by signal n (as a shell reports it) */
  exited: Promise<number>;
}

function start(args: string[], via: 'node' | 'npm' = 'node'): Trainer {
  const child = via === 'node'
    ? spawn(process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    // its own process group, so a signal reaches npm alone, as `kill PID` or `timeout` sends it
    : spawn('npm', ['run', '--silent', 'train', '--', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', () => undefined);
  // 'close': every writer of the pipes is gone (with npm, the trainer it started too)
  const exited = new Promise<number>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? 128 + (os.constants.signals[signal as NodeJS.Signals] ?? 0))),
  );
  return { child, stderr: () => err, exited };
}

async function train(args: string[]): Promise<{ code: number; stderr: string }> {
  const t = start(args);
  const code = await t.exited;
  return { code, stderr: t.stderr() };
}

const logEntries = (runDir: string) =>
  existsSync(path.join(runDir, 'log.jsonl'))
    ? readFileSync(path.join(runDir, 'log.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return []; // a line torn by a SIGKILL in the middle of its append
        }
      })
    : [];
const iterationLines = (runDir: string) => logEntries(runDir).filter((e) => e.iteration && !e.event);
const lastIteration = (runDir: string) => iterationLines(runDir).at(-1)?.iteration ?? 0;
const checkpointIteration = (runDir: string, file = 'checkpoint.safetensors') =>
  decodeCheckpoint(readFileSync(path.join(runDir, file)), file).iteration;
const temps = (runDir: string) =>
  [runDir, path.join(runDir, 'samples')].filter(existsSync).flatMap((d) => readdirSync(d).filter((f) => f.includes('.tmp')));

async function until(what: string, test: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The trainer's PID from its lock (with npm in between, the child we spawned is npm). */
const lockPid = (runDir: string): number | null => {
  try {
    return JSON.parse(readFileSync(path.join(runDir, 'lock'), 'utf8')).pid;
  } catch {
    return null;
  }
};

beforeAll(() => writeSyntheticPhotos(photos, 16), 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('every way of stopping saves the work', () => {
  for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129], ['SIGINT', 130]] as const) {
    it(`${signal} to \`npm run train\`: the trainer finishes its iteration, checkpoints it, exits ${code}, none left running`, async () => {
      const out = path.join(tmp, `npm-${signal}`);
      const t = start(['--data', photos, '--out', out, '--epochs', '500', ...TINY], 'npm');
      await until('the first iteration', () => lastIteration(out) > 0 && lockPid(out) !== null);
      const trainer = lockPid(out)!;
      process.kill(t.child.pid!, signal);
      const npmCode = await t.exited;
      await until('the trainer to exit', () => !processIsAlive(trainer), 30_000);
      expect(t.stderr()).toMatch(new RegExp(`stopped at iteration (\\d+); checkpoint .*checkpoint.safetensors \\(iteration \\1\\)`));
      // npm passes SIGINT and SIGTERM on and reports the trainer's code; SIGHUP ends npm itself, and the
      // trainer notices its parent is gone
      if (signal !== 'SIGHUP') expect(npmCode, t.stderr()).toBe(code);
      else expect(t.stderr()).toMatch(/the parent process \d+ is gone: finishing this iteration/);
      expect(checkpointIteration(out)).toBe(lastIteration(out));
      expect(existsSync(path.join(out, 'lock'))).toBe(false);
    });
  }

  it('SIGTERM to node exits 143 with a checkpoint; a second signal quits at once, the previous checkpoint intact', async () => {
    const out = path.join(tmp, 'node-signals');
    const once = start(['--data', photos, '--out', out, '--epochs', '500', ...TINY]);
    await until('the first iteration', () => lastIteration(out) > 0);
    once.child.kill('SIGTERM');
    expect(await once.exited, once.stderr()).toBe(143);
    const saved = checkpointIteration(out);
    expect(saved).toBe(lastIteration(out));

    const twice = start(['--resume', out]);
    await until('training again', () => lastIteration(out) > saved + 2);
    twice.child.kill('SIGTERM');
    await until('the first signal to be taken', () => /finishing this iteration/.test(twice.stderr()));
    twice.child.kill('SIGTERM');
    expect(await twice.exited).toBe(143);
    expect(twice.stderr()).toMatch(/quitting at once \(the last checkpoint is intact\)/);
    expect(checkpointIteration(out)).toBeGreaterThanOrEqual(saved); // a whole checkpoint: the old one, or the stop's
  });

  it(`${KILLS} SIGKILLs at random moments, each followed by --resume: the same per-iteration losses as an uninterrupted run, one log line each`, async () => {
    const whole = path.join(tmp, 'kill-whole');
    const killed = path.join(tmp, 'kill-parts');
    const args = ['--epochs', '500', '--max-iters', String(40 * (KILLS + 1)), '--checkpoint-every', '0.002'];
    expect((await train(['--data', photos, '--out', whole, ...args, ...TINY])).code).toBe(0);
    let random = 12345;
    const next = () => (random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let k = 0; k < KILLS; k++) {
      const before = lastIteration(killed);
      const t = start(k === 0 ? ['--data', photos, '--out', killed, ...args, ...TINY] : ['--resume', killed, '--max-iters', args[3]]);
      await until('a new iteration', () => lastIteration(killed) > before);
      await new Promise((r) => setTimeout(r, next() * 500)); // anywhere: mid-step, mid-log, mid-checkpoint
      t.child.kill('SIGKILL');
      expect(await t.exited).toBe(137);
    }
    const last = await train(['--resume', killed, '--max-iters', args[3]]);
    expect(last.code, last.stderr).toBe(0);
    const strip = (l: Record<string, number>) => ({ ...l, imagesPerSecond: 0 });
    expect(iterationLines(killed).map(strip)).toEqual(iterationLines(whole).map(strip));
    expect(temps(killed)).toEqual([]);
    expect(existsSync(path.join(killed, 'lock'))).toBe(false);
  }, 300_000);
});

describe('one trainer per run folder', () => {
  it('a second trainer or a --resume of a busy folder fails at once naming the PID; a dead trainer\'s lock is taken over', async () => {
    const out = path.join(tmp, 'busy');
    const first = start(['--data', photos, '--out', out, '--epochs', '500', ...TINY]);
    await until('the first iteration', () => lastIteration(out) > 0);
    const pid = first.child.pid!;
    for (const args of [['--resume', out], ['--data', photos, '--out', out, ...TINY]]) {
      const r = await train(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: (${out} is in use by the trainer with PID ${pid}|${out} already holds a run)`, 'm'));
    }
    first.child.kill('SIGKILL');
    await first.exited;
    const after = lastIteration(out);
    const resumed = await train(['--resume', out, '--max-iters', String(after + 2)]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`note: taking over .*lock of PID ${pid}, which is no longer running`));
    expect(lastIteration(out)).toBe(after + 2);
  });
});

describe('starting and resuming', () => {
  it('a start that fails leaves --out as it was, and impossible shapes are refused before any photo is decoded', async () => {
    const cacheDir = path.join(tmp, 'untouched-cache');
    const cases: [string[], RegExp][] = [
      [['--batch-size', '100000'], /^error: --batch-size 100000 at --image-size 64 .* needs a \d+ MiB buffer, over the \d+ MiB that this adapter allows: use --batch-size \d+ or less/m],
      [['--image-size', '4096'], /^error: .* --image-size 4096 .*use a smaller --image-size/m],
      [['--batch-size', '64', '--image-size', '16'], /^error: --batch-size 64 is more than the 16 photos found under .*: use --batch-size 16 or less/m],
      [['--lr', '-1'], /^error: --lr must be a number ≥ 0, got '-1'/m],
    ];
    for (const [flags, message] of cases) {
      const out = path.join(tmp, 'never-created');
      const r = await train(['--data', photos, '--out', out, '--cache-dir', cacheDir, ...flags]);
      expect(r.code, flags.join(' ')).toBe(1);
      expect(r.stderr, flags.join(' ')).toMatch(message);
      expect(existsSync(out), flags.join(' ')).toBe(false);
      expect(existsSync(cacheDir), flags.join(' ')).toBe(false); // nothing decoded
    }
    const existing = path.join(tmp, 'existing-empty');
    mkdirSync(existing);
    const empty = path.join(tmp, 'no-photos');
    mkdirSync(empty);
    const r = await train(['--data', empty, '--out', existing, ...TINY]);
    expect(r.stderr).toMatch(/^error: no images/m);
    expect(readdirSync(existing)).toEqual([]);
  });

  it('--resume applies --lr, --epochs, --patience ... and says so; --ngf, --image-size ... get a clear error', async () => {
    const out = path.join(tmp, 'resume-flags');
    expect((await train(['--data', photos, '--out', out, '--epochs', '3', '--max-iters', '2', ...TINY])).code).toBe(0);
    for (const [flag, value] of [['--ngf', '8'], ['--image-size', '32'], ['--batch-size', '2'], ['--seed', '5'], ['--nz', '4']]) {
      const r = await train(['--resume', out, flag, value]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: ${flag} cannot change on a resumed run \\(.* was trained with ${flag} \\d+\\): drop ${flag}, or start a new run with --out`, 'm'));
    }
    const r = await train(['--resume', out, '--ngf', '4', '--lr', '0.001', '--beta1', '0.6', '--epochs', '4', '--patience', '7', '--max-iters', '3', '--keep-epochs']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming .* iteration 2 with --lr 0.0002 → 0.001, --beta1 0.5 → 0.6, --epochs 3 → 4, --patience 50 → 7, --keep-epochs false → true/);
    const checkpoint = decodeCheckpoint(readFileSync(path.join(out, 'checkpoint.safetensors')), 'resumed');
    expect([checkpoint.config.lr, checkpoint.config.beta1, checkpoint.iteration]).toEqual([0.001, 0.6, 3]);
    expect(JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'))).toMatchObject({ epochs: 4, patience: 7, keepEpochs: true });

    writeFileSync(path.join(out, 'run.json'), '{ epochs: 3');
    const broken = await train(['--resume', out]);
    expect(broken.stderr).toMatch(new RegExp(`^error: ${path.join(out, 'run.json')} is not valid JSON \\(.*\\): fix or delete it`, 'm'));
  });

  it('--keep-epochs keeps each epoch\'s checkpoint; --checkpoint-every writes checkpoints between epoch ends', async () => {
    const out = path.join(tmp, 'keep');
    // 16 photos / batch 4 = 4 iterations per epoch; --max-iters 10 stops in the middle of epoch 3
    expect((await train(['--data', photos, '--out', out, '--epochs', '3', '--keep-epochs', ...TINY])).code).toBe(0);
    expect(readdirSync(out).filter((f) => f.startsWith('checkpoint')).sort()).toEqual([
      'checkpoint-epoch-001.safetensors', 'checkpoint-epoch-002.safetensors', 'checkpoint-epoch-003.safetensors', 'checkpoint.safetensors',
    ]);
    expect([1, 2, 3].map((e) => checkpointIteration(out, `checkpoint-epoch-00${e}.safetensors`))).toEqual([4, 8, 12]);

    const timed = path.join(tmp, 'timed');
    const t = start(['--data', photos, '--out', timed, '--epochs', '500', '--checkpoint-every', '0.001', ...TINY]);
    await until('an iteration past the first epoch end', () => lastIteration(timed) >= 3);
    await until('a checkpoint between epoch ends', () => existsSync(path.join(timed, 'checkpoint.safetensors')) && checkpointIteration(timed) % 4 !== 0);
    t.child.kill('SIGKILL');
    await t.exited;
  });

  it('a crash\'s temporary files are removed at the next start', async () => {
    const out = path.join(tmp, 'temps');
    expect((await train(['--data', photos, '--out', out, '--max-iters', '2', ...TINY])).code).toBe(0);
    const dead = 2 ** 22 + 12345; // above the default pid_max of 4,194,304: never a live process
    writeFileSync(path.join(out, `checkpoint.safetensors.tmp-${dead}`), 'partial');
    writeFileSync(path.join(out, 'samples', `latest.png.tmp-${dead}`), 'partial');
    const r = await train(['--resume', out, '--max-iters', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/note: removed 2 temporary file\(s\) a stopped trainer left/);
    expect(temps(out)).toEqual([]);
  });
});

describe('the divergence guard keeps only good states', () => {
  it('at --lr 1 it stops, keeps the checkpoint from before the collapse, and its advice is a command that works', async () => {
    const out = path.join(tmp, 'diverge');
    expect((await train(['--data', photos, '--out', out, '--epochs', '500', '--max-iters', '6', ...TINY])).code).toBe(0);
    // a checkpoint is due at every iteration (and at each epoch end): none may be written of the collapse
    const r = await train(['--resume', out, '--lr', '1', '--patience', '10', '--checkpoint-every', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: training diverged at iteration \d+: \d+ of the last \d+ iterations looked diverged .* Stopped; the last good checkpoint \(iteration 6\) is kept in /m);
    expect(lastIteration(out)).toBeGreaterThan(10);
    expect(checkpointIteration(out)).toBe(6);
    const advice = /try (npm run train -- (.*?) --lr ([\d.e-]+))/.exec(r.stderr);
    expect(advice, r.stderr).not.toBeNull();
    const [, , args, lr] = advice!;
    expect(lr).toBe('0.0002');
    const retried = await train([...args.split(' '), '--lr', lr, '--max-iters', '8']);
    expect(retried.code, retried.stderr).toBe(0);
    expect(checkpointIteration(out)).toBe(8);
    expect(iterationLines(out).map((l) => l.iteration)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // the collapse is cut from the log
  });

  it('a fresh run that diverges before its first checkpoint is told the same fresh command, which works', async () => {
    const out = path.join(tmp, 'diverge-fresh');
    const r = await train(['--data', photos, '--out', out, '--lr', '1', '--patience', '5', '--epochs', '500', ...TINY]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Stopped; no checkpoint was written\./);
    const advice = /try npm run train -- (.*?) --lr 0\.0002/.exec(r.stderr);
    expect(advice?.[1], r.stderr).toContain(`--out ${out}`);
    const retried = await train([...advice![1].split(' '), '--lr', '0.0002', '--max-iters', '3']);
    expect(retried.code, retried.stderr).toBe(0);
    expect(iterationLines(out).map((l) => l.iteration)).toEqual([1, 2, 3]);
  });
});

describe('a full disk', () => {
  const root = process.getuid?.() === 0 && process.platform === 'linux';
  const disk = path.join(tmp, 'small-disk');
  let mounted = false;
  beforeAll(() => {
    if (!root) return;
    mkdirSync(disk, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk]);
      mounted = true;
    } catch {
      /* a container without mount rights: the test below says so */
    }
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', [disk]);
  });

  it('stops the run with one line naming the file, exit 1, and the previous checkpoint intact', async (context) => {
    if (!mounted) {
      console.warn('skipped: mounting a small tmpfs needs root on Linux (test/files.test.ts covers the write loop with an injected ENOSPC)');
      context.skip();
    }
    const out = path.join(disk, 'run');
    expect((await train(['--data', photos, '--out', out, '--max-iters', '2', ...TINY])).code).toBe(0);
    const size = readFileSync(path.join(out, 'checkpoint.safetensors')).length;
    // fill the disk to about half a checkpoint of free space: the next checkpoint (or sample grid) cannot fit
    const { bavail, bsize } = statfsSync(disk);
    writeFileSync(path.join(disk, 'filler'), Buffer.alloc(Math.max(0, bavail * bsize - Math.floor(size / 2))));
    const r = await train(['--resume', out, '--epochs', '500']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot (write|append to) \S+: disk full \([\d,]+ bytes needed, [\d,]+ free\): free some space or choose another --out/m);
    expect(checkpointIteration(out)).toBeGreaterThanOrEqual(2); // whole, and from before the failure
    expect(temps(out)).toEqual([]);
    rmSync(path.join(disk, 'filler'));
    const resumed = await train(['--resume', out, '--max-iters', String(checkpointIteration(out) + 1)]);
    expect(resumed.code, resumed.stderr).toBe(0);
  });
});
