// The op cases of test/cases/index.ts, unchanged, in headless Chromium on its own WebGPU (SwiftShader
// here): the same engine code, compiled by Vite instead of tsx, on Dawn inside Chrome instead of Dawn
// in Node. Also checks that a browser without WebGPU gets a one-line message instead of a hang.
import { describe, expect, it } from 'vitest';
import { allOpCases } from './cases/index.ts';
import { chromiumPath, openPage, type OpenedPage, type OpenPageOptions } from '../src/node/browser.ts';
import type { BrowserRun } from './browser/run-cases.ts';

const PAGE = '/test/browser/index.html';
/** How long all the cases may take; software WebGPU on 2 shared cores is slow. */
const RUN_TIMEOUT_MS = Number(process.env.BROWSER_TEST_TIMEOUT_MS ?? 600_000);
const chromium = chromiumPath();

/** Wait for run-cases.ts to publish done; on timeout, say what it was stuck on rather than just "timeout". */
async function waitForRun(opened: OpenedPage, timeoutMs: number): Promise<BrowserRun> {
  try {
    await opened.page.waitForFunction(() => window.__results?.done === true, { timeout: timeoutMs, polling: 250 });
  } catch (e) {
    const state = await opened.page.evaluate(() => window.__results ?? null).catch(() => null);
    const log = opened.log.length ? `\npage log:\n  ${opened.log.slice(-20).join('\n  ')}` : ' (the page logged nothing)';
    let stuck: string;
    if (!state) stuck = 'test/browser/run-cases.ts never ran (did Vite fail to compile it or one of its imports?)';
    else if (!state.adapter) stuck = 'it was still opening the WebGPU device (requestAdapter/requestDevice never returned)';
    else if (state.total === null) stuck = `it was still loading test/cases/index.ts (adapter: ${state.adapter})`;
    else stuck = `${state.results.length} of ${state.total} cases finished; stuck in "${state.running}"`;
    const why = e instanceof Error && e.name !== 'TimeoutError' ? ` (${e.message})` : '';
    throw new Error(`the browser op tests did not finish in ${timeoutMs / 1000} s${why}: ${stuck}${log}`);
  }
  return (await opened.page.evaluate(() => window.__results!)) as BrowserRun;
}

async function runPage(options: OpenPageOptions, timeoutMs: number): Promise<{ run: BrowserRun; status: string }> {
  const opened = await openPage(PAGE, options);
  try {
    const run = await waitForRun(opened, timeoutMs);
    const status = await opened.page.$eval('#status', (el) => el.textContent ?? '');
    return { run, status };
  } finally {
    await opened.close();
  }
}

if (!chromium) {
  const reason = `no Chromium at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}: install chromium or set CHROMIUM_PATH`;
  console.warn(`test/browser.test.ts skipped: ${reason}`);
  describe.skip(`browser op tests (skipped: ${reason})`, () => {
    it('op cases in headless Chromium', () => undefined);
  });
} else {
  describe('browser op tests', () => {
    it(
      'every op case passes in headless Chromium',
      async () => {
        const nodeCount = Object.values(allOpCases).flat().length;
        const started = Date.now();
        const { run } = await runPage({}, RUN_TIMEOUT_MS);
        if (run.error) throw new Error(`the browser run stopped: ${run.error}`);
        console.log(run.adapter);
        const failed = run.results.filter((r) => !r.ok);
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        console.log(`${run.results.length - failed.length} of ${run.results.length} op cases passed in Chromium (${seconds} s)`);
        expect(failed.map((r) => `${r.family} / ${r.name}: ${r.error}`)).toEqual([]);
        expect(run.results.length, 'cases run in the browser vs registered in test/cases/index.ts').toBe(nodeCount);
      },
      RUN_TIMEOUT_MS + 60_000,
    );

    it(
      'a browser without WebGPU gets a one-line message, not a hang',
      async () => {
        // navigator.gpu exists in every secure context; removing it is what an old or non-Chrome browser looks like
        const missing = await runPage(
          { beforeLoad: () => void delete (Navigator.prototype as { gpu?: unknown }).gpu },
          60_000,
        );
        // Chromium without --enable-unsafe-webgpu (and no GPU it trusts) has navigator.gpu but no adapter
        const noAdapter = await runPage({ webgpu: false }, 60_000);
        for (const [{ run, status }, expected] of [
          [missing, /navigator\.gpu is missing/],
          [noAdapter, /no adapter was found/],
        ] as const) {
          expect(run.done).toBe(true);
          expect(run.adapter).toBeNull();
          expect(run.results).toEqual([]);
          expect(run.error).toMatch(expected);
          expect(run.error).not.toContain('\n');
          expect(status).toContain(run.error);
          console.log(`without WebGPU the page says: ${run.error}`);
        }
      },
      180_000,
    );
  });
}
