// The browser trainer end to end: `npm run train:chrome` in headless Chromium (SwiftShader) against
// `npm run train` in Node (lavapipe) on the same photos and seed — the same losses per iteration, and
// checkpoints that resume across the two; the dashboard draws its charts and samples; a browser without
// WebGPU says so instead of hanging. Tiny model: the CPU adapters are slow.
import { describe, expect, it, beforeAll } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { chromiumPath, openPage, type OpenPageOptions } from '../src/node/browser.ts';
import { decodeCheckpoint } from '../src/train/checkpoint.ts';
import { writeSyntheticPhotos } from './support/photos.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dcgan-web-test-'));
const photos = path.join(tmp, 'photos');
const TINY = ['--image-size', '16', '--ngf', '4', '--ndf', '4', '--nz', '8', '--batch-size', '4', '--sample-every', '2', '--holdout', '0', '--cache-dir', path.join(tmp, 'cache')];
const TOLERANCE = 1e-3; // relative: SwiftShader in Chrome vs lavapipe in Node round differently
const chromium = chromiumPath();

async function cli(script: 'train' | 'train-chrome', args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', `src/node/cli/${script}.ts`, ...args],
      { cwd: ROOT, timeout: 300_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

type LogLine = Record<string, number>;
const logLines = (runDir: string): LogLine[] =>
  readFileSync(path.join(runDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.iteration && !e.event);

const STATS = ['lossD', 'lossG', 'dReal', 'dFakeBefore', 'dFakeAfter'];
/** Same iterations, epochs and batches; every statistic within TOLERANCE relative. */
function expectSameLosses(actual: LogLine[], expected: LogLine[], what: string): void {
  expect(actual.map((l) => [l.epoch, l.batch, l.iteration]), what).toEqual(expected.map((l) => [l.epoch, l.batch, l.iteration]));
  actual.forEach((line, i) => {
    for (const k of STATS) {
      const relative = Math.abs(line[k] - expected[i][k]) / Math.max(1e-6, Math.abs(expected[i][k]));
      expect(relative, `${what}: iteration ${line.iteration} ${k} ${line[k]} vs ${expected[i][k]}`).toBeLessThan(TOLERANCE);
    }
  });
}

function readPng(bytes: Uint8Array): PNG {
  return PNG.sync.read(Buffer.from(bytes));
}

/** Pixels within `distance` (per channel) of an RGB colour. */
function countColour(png: PNG, [r, g, b]: [number, number, number], distance = 40): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    if (Math.abs(png.data[i] - r) < distance && Math.abs(png.data[i + 1] - g) < distance && Math.abs(png.data[i + 2] - b) < distance) n++;
  }
  return n;
}

/** Pixels with colour in them (the grid, labels and background are white or grey). */
function countSaturated(png: PNG): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
  }
  return n;
}

beforeAll(() => writeSyntheticPhotos(photos), 60_000);

if (!chromium) {
  const reason = `no Chromium at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}: install chromium or set CHROMIUM_PATH`;
  console.warn(`test/web.test.ts skipped: ${reason}`);
  describe.skip(`browser trainer (skipped: ${reason})`, () => {
    it('train:chrome and the dashboard', () => undefined);
  });
} else {
  describe('npm run train:chrome', () => {
    const inNode = path.join(tmp, 'node');
    const inChrome = path.join(tmp, 'chrome');
    const whole = path.join(tmp, 'whole');

    it('trains in headless Chromium with the losses of the Node trainer, into the same run folder layout', async () => {
      const args = ['--data', photos, '--epochs', '3', '--max-iters', '4', ...TINY];
      const node = await cli('train', [...args, '--out', inNode]);
      expect(node.code, node.stderr).toBe(0);
      const chrome = await cli('train-chrome', [...args, '--out', inChrome]);
      expect(chrome.code, chrome.stderr).toBe(0);
      expect(chrome.stdout).toMatch(/WebGPU adapter: .* \(in Chromium\)/);
      expect(chrome.stderr).toMatch(/reached --max-iters 4 at iteration 4; checkpoint /);
      expectSameLosses(logLines(inChrome), logLines(inNode), 'Chrome vs Node');
      expect(logLines(inChrome)).toHaveLength(4);
      expect(readdirSync(path.join(inChrome, 'samples')).sort()).toEqual(readdirSync(path.join(inNode, 'samples')).sort());
      const grid = readPng(readFileSync(path.join(inChrome, 'samples', 'latest.png')));
      expect([grid.width, grid.height]).toEqual([8 * 18 + 2, 8 * 18 + 2]);
      const checkpoint = decodeCheckpoint(readFileSync(path.join(inChrome, 'checkpoint.safetensors')), 'chrome');
      expect(checkpoint.iteration).toBe(4);
      expect(checkpoint.position).toEqual({ epoch: 1, batchInEpoch: 1 });
    }, 400_000);

    it('--kernel-set simple reaches the page: the Node losses, no kernel of shaders/fast/ dispatched', async () => {
      const out = path.join(tmp, 'chrome-simple');
      const chrome = await cli('train-chrome', ['--data', photos, '--epochs', '3', '--max-iters', '2', ...TINY, '--out', out, '--kernel-set', 'simple']);
      expect(chrome.code, chrome.stderr).toBe(0);
      expect(chrome.stderr).toContain('training in Chromium with the simple kernels');
      expectSameLosses(logLines(out), logLines(inNode).slice(0, 2), 'Chrome simple vs Node fast');
      const events = readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(events.find((e) => e.event === 'start').kernelSet).toBe('simple');
      const used = events.find((e) => e.event === 'kernels').dispatched as string[];
      expect(used).toContain('shaders/conv2d.wgsl:conv2d_backward_weight');
      expect(used.filter((name) => name.startsWith('shaders/fast/'))).toEqual([]);
    }, 400_000);

    it('a checkpoint from Chrome resumes in Node, and one from Node resumes in Chrome', async () => {
      expect((await cli('train', ['--data', photos, '--epochs', '3', '--max-iters', '6', ...TINY, '--out', whole])).code).toBe(0);
      const nodeResumes = await cli('train', ['--resume', inChrome, '--max-iters', '6']);
      expect(nodeResumes.code, nodeResumes.stderr).toBe(0);
      expect(nodeResumes.stderr).toMatch(/resuming .* iteration 4/);
      const chromeResumes = await cli('train-chrome', ['--resume', inNode, '--max-iters', '6']);
      expect(chromeResumes.code, chromeResumes.stderr).toBe(0);
      expect(chromeResumes.stderr).toMatch(/resuming .* iteration 4/);
      expectSameLosses(logLines(inChrome), logLines(whole), 'Chrome to 4, then Node to 6, vs Node to 6');
      expectSameLosses(logLines(inNode), logLines(whole), 'Node to 4, then Chrome to 6, vs Node to 6');
    }, 400_000);
  });

  describe('npm run train:chrome and stop signals', () => {
    // SIGINT to node, SIGTERM to `npm run train:chrome` (npm passes it on; Vite and puppeteer must not act on it)
    for (const [signal, code, via] of [['SIGINT', 130, 'node'], ['SIGTERM', 143, 'npm']] as const) {
      it(`${signal} to ${via} asks the page to stop: it checkpoints, the terminal says so, exit ${code}`, async () => {
        const out = path.join(tmp, `interrupted-${signal}`);
        const args = ['--data', photos, '--out', out, '--epochs', '50', ...TINY];
        const child = via === 'node'
          ? spawn(process.execPath, ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', 'src/node/cli/train-chrome.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
          : spawn('npm', ['run', '--silent', 'train:chrome', '--', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.stdout.on('data', () => undefined);
        const log = path.join(out, 'log.jsonl');
        while (!(existsSync(log) && logLines(out).length > 0)) await new Promise((r) => setTimeout(r, 100));
        child.kill(signal);
        const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
        expect(exitCode, stderr).toBe(code);
        expect(stderr).toMatch(new RegExp(`interrupted \\(${signal}\\): finishing this iteration and saving a checkpoint`));
        expect(stderr).toMatch(/stopped at iteration \d+; checkpoint /);
        const checkpoint = decodeCheckpoint(readFileSync(path.join(out, 'checkpoint.safetensors')), 'interrupted');
        expect(checkpoint.iteration).toBe(logLines(out).length);
      }, 200_000);
    }
  });

  describe('the dashboard', () => {
    const DEMO = '/web/index.html?data=synthetic&images=12&image-size=16&ngf=4&ndf=4&nz=8&batch-size=4&sample-every=1&max-iters=4&autostart';

    it('trains on synthetic pictures: charts drawn, samples not blank, pause holds, resume continues', async () => {
      const opened = await openPage(DEMO);
      try {
        const { page } = opened;
        await page.setViewport({ width: 1280, height: 900 });
        const state = () => page.evaluate(() => ({ ...window.__dcgan!, stop: undefined, pause: undefined, resume: undefined }));
        await page.waitForFunction(() => (window.__dcgan?.iteration ?? 0) >= 1 || window.__dcgan?.error, { timeout: 120_000, polling: 100 });
        expect((await state()).error, opened.log.join('\n')).toBeNull();
        await page.evaluate(() => window.__dcgan!.pause());
        await page.waitForFunction(() => window.__dcgan?.held, { timeout: 60_000, polling: 100 }); // the step in flight ends
        const held = (await state()).iteration;
        await new Promise((r) => setTimeout(r, 2000));
        expect((await state()).iteration, 'no iteration while paused').toBe(held);
        expect(held).toBeLessThan(4);
        await page.evaluate(() => window.__dcgan!.resume());
        await page.waitForFunction(() => window.__dcgan?.outcome || window.__dcgan?.error, { timeout: 180_000, polling: 250 });
        const done = await state();
        expect(done.error, opened.log.join('\n')).toBeNull();
        expect(done.outcome?.reason).toBe('max-iters');
        expect(done.iteration).toBe(4);
        expect(done.adapter).toMatch(/^WebGPU adapter: /);
        expect(await page.$eval('#software', (el) => (el as HTMLElement).hidden)).toBe(!done.software);
        await new Promise((r) => setTimeout(r, 300)); // the throttled chart redraw
        const shot = async (selector: string) => readPng((await (await page.$(selector))!.screenshot({ type: 'png' })) as Uint8Array);
        const losses = await shot('#chart-loss');
        const outputs = await shot('#chart-d');
        // each series is a line across the plot, far more pixels than its legend swatch (30 px)
        expect(countColour(losses, [0xd1, 0x49, 0x5b]), 'Loss_D line').toBeGreaterThan(150);
        expect(countColour(losses, [0x2e, 0x86, 0xab]), 'Loss_G line').toBeGreaterThan(150);
        // D's three series lie on top of one another near 0.5: count coloured (not white or grey) pixels
        expect(countSaturated(outputs), "D's output lines").toBeGreaterThan(300);
        const samples = await shot('#samples');
        const distinct = new Set<number>();
        for (let i = 0; i < samples.data.length; i += 4) distinct.add(samples.data.readUInt32BE(i));
        expect(distinct.size, 'sample grid is not blank').toBeGreaterThan(3);
        expect(await page.$eval('#samples-name', (el) => el.textContent)).toBe('latest');
      } finally {
        await opened.close();
      }
    }, 400_000);

    it('a browser without WebGPU shows a clear message, not a hang', async () => {
      const cases: [OpenPageOptions, RegExp][] = [
        [{ beforeLoad: () => void delete (Navigator.prototype as { gpu?: unknown }).gpu }, /navigator\.gpu is missing/],
        [{ webgpu: false }, /no adapter was found/],
      ];
      for (const [options, expected] of cases) {
        const opened = await openPage(DEMO, options);
        try {
          await opened.page.waitForFunction(() => window.__dcgan?.error, { timeout: 60_000, polling: 100 });
          const banner = await opened.page.$eval('#error', (el) => ({ text: el.textContent ?? '', hidden: (el as HTMLElement).hidden }));
          expect(banner.hidden).toBe(false);
          expect(banner.text).toMatch(expected);
          expect(await opened.page.$eval('#start', (el) => (el as HTMLButtonElement).disabled)).toBe(true);
        } finally {
          await opened.close();
        }
      }
    }, 200_000);
  });
}
