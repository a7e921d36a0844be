// Headless Chromium never outlives its trainer: `npm run train:chrome` is SIGKILLed mid-training (no handler
// of its own can run), and every Chromium process it started, its watchdog and the temporary profile
// directory must be gone within seconds. The mechanism (DevTools over a pipe, plus a watchdog process) is
// in src/node/browser.ts and src/node/chromium-watchdog.mjs. Linux only: processes are read from /proc.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromiumPath } from '../src/node/browser.ts';
import { writeSyntheticPhotos } from './support/photos.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dcgan-lifetime-test-'));
const photos = path.join(tmp, 'photos');
const out = path.join(tmp, 'run');
const TINY = ['--image-size', '16', '--ngf', '4', '--ndf', '4', '--nz', '8', '--batch-size', '4', '--cache-dir', path.join(tmp, 'cache')];
const GONE_WITHIN_MS = 10_000;
const chromium = chromiumPath();

interface Proc {
  pid: number;
  ppid: number;
  /** start time in clock ticks since boot: tells a PID reused by a new process from the one we saw */
  start: string;
  comm: string;
  cmdline: string;
}

/** One process from /proc, or null when it is gone (a zombie counts as gone: it runs nothing, holds no memory). */
function readProc(pid: number): Proc | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // comm is in parentheses and may hold spaces; the fields after it are space separated
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return null;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
    return { pid, ppid: Number(fields[1]), start: fields[19], comm, cmdline };
  } catch {
    return null;
  }
}

/** Every live descendant of `root` (children, their children, ...). */
function descendants(root: number): Proc[] {
  const all = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map((n) => readProc(Number(n))).filter((p): p is Proc => p !== null);
  const found: Proc[] = [];
  let parents = new Set([root]);
  while (parents.size > 0) {
    const children = all.filter((p) => parents.has(p.ppid));
    found.push(...children);
    parents = new Set(children.map((p) => p.pid));
  }
  return found;
}

const alive = (p: Proc) => readProc(p.pid)?.start === p.start;
const describeProc = (p: Proc) => `${p.pid} ${p.comm}: ${p.cmdline.slice(0, 120)}`;

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    if (condition()) return true;
  }
  return condition();
}

/** True once OUT/log.jsonl has an iteration line: the page is training, so all of Chromium is up and busy. */
function trainingStarted(): boolean {
  const log = path.join(out, 'log.jsonl');
  if (!existsSync(log)) return false;
  return readFileSync(log, 'utf8').split('\n').some((line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      return typeof entry.iteration === 'number' && !entry.event;
    } catch {
      return false; // a line being written
    }
  });
}

/** What the test saw, so that afterAll can clean up if the mechanism failed (1 GB of Chromium otherwise stays). */
let recorded: Proc[] = [];
let profiles: string[] = [];

beforeAll(() => writeSyntheticPhotos(photos), 60_000);
afterAll(() => {
  for (const p of recorded.filter(alive)) process.kill(p.pid, 'SIGKILL');
  for (const dir of profiles) rmSync(dir, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

if (!chromium || process.platform !== 'linux') {
  const reason = chromium ? 'reads processes from /proc: Linux only' : `no Chromium at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}: install chromium or set CHROMIUM_PATH`;
  console.warn(`test/chrome-lifetime.test.ts skipped: ${reason}`);
  describe.skip(`Chromium's lifetime (skipped: ${reason})`, () => {
    it('a SIGKILLed train:chrome leaves no Chromium behind', () => undefined);
  });
} else {
  describe("Chromium's lifetime", () => {
    it('a SIGKILLed train:chrome leaves no Chromium, watchdog or profile directory behind', async () => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', 'src/node/cli/train-chrome.ts', '--data', photos, '--out', out, '--epochs', '50', ...TINY],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      let exited = false;
      child.on('exit', () => (exited = true));
      try {
        const started = await waitFor(() => exited || trainingStarted(), 200_000);
        expect(started && !exited, `train:chrome ${exited ? 'exited' : 'did not start training'} before the kill:\n${output.slice(-2000)}`).toBe(true);

        const tree = descendants(child.pid!);
        const browsers = tree.filter((p) => p.comm.startsWith('chrom'));
        const watchdogs = tree.filter((p) => p.cmdline.includes('chromium-watchdog.mjs'));
        profiles = [...new Set(browsers.flatMap((p) => p.cmdline.match(/--user-data-dir=(\S+)/)?.[1] ?? []))];
        recorded = [...browsers, ...watchdogs];
        // browser, zygotes, GPU process, renderers: far more than one, or we are not looking at Chromium's tree
        expect(browsers.length, tree.map(describeProc).join('\n')).toBeGreaterThanOrEqual(3);
        expect(profiles, 'the temporary profile of the one browser').toHaveLength(1);
        expect(profiles[0]).toMatch(/dcgan-chromium-/);
        expect(existsSync(profiles[0])).toBe(true);

        child.kill('SIGKILL');
        await waitFor(() => exited, 5_000);
        await waitFor(() => !recorded.some(alive) && !existsSync(profiles[0]), GONE_WITHIN_MS);
        const left = recorded.filter(alive);
        expect(left.map(describeProc), `${left.length} of ${recorded.length} processes outlived the trainer by ${GONE_WITHIN_MS / 1000} s`).toEqual([]);
        expect(existsSync(profiles[0]), `the profile ${profiles[0]} outlived the trainer by ${GONE_WITHIN_MS / 1000} s`).toBe(false);
      } finally {
        if (!exited) child.kill('SIGKILL');
      }
    }, 300_000);
  });
}
