// Runs every case of test/cases/index.ts in the page, on the browser's WebGPU device, and publishes
// the outcome on window.__results (read by test/browser.test.ts through puppeteer) and in the DOM.
// Progress is published after each case, so a run that hangs can say which case it hung in.
import { adapterLine, browserDevice } from '../../src/gpu/device.ts';
import { useDevice } from '../../src/gpu/context.ts';
import { poisonOutputs } from '../support/check.ts';

export interface CaseResult {
  family: string;
  name: string;
  ok: boolean;
  error: string | null;
  ms: number;
}

export interface BrowserRun {
  /** the adapter line (adapterLine from src/gpu/device.ts), null until a device is open */
  adapter: string | null;
  results: CaseResult[];
  /** how many cases are registered; null until test/cases/index.ts has loaded */
  total: number | null;
  /** "family / name" of the case in progress */
  running: string | null;
  /** a failure that stopped the whole run (no WebGPU, a case file that does not load) */
  error: string | null;
  done: boolean;
}

declare global {
  interface Window {
    __results?: BrowserRun;
  }
}

const run: BrowserRun = { adapter: null, results: [], total: null, running: null, error: null, done: false };
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function publish(): void {
  window.__results = structuredClone(run);
  const passed = run.results.filter((r) => r.ok).length;
  const status = run.error
    ? `error: ${run.error}`
    : `${run.adapter ?? 'opening device…'} — ${run.results.length}${run.total === null ? '' : ` of ${run.total}`} cases run: ` +
      `${passed} passed, ${run.results.length - passed} failed` +
      (run.done ? ' — done' : run.running ? ` — running ${run.running}` : '');
  document.getElementById('status')!.textContent = status;
  const verdict = run.error || passed < run.results.length ? 'FAILED' : 'passed';
  document.title = `op tests: ${run.done ? verdict : 'running'}`;
}

function logLine(text: string, cls: string): void {
  const line = document.createElement('div');
  line.className = cls;
  line.textContent = text;
  document.getElementById('log')!.append(line);
}

async function main(): Promise<void> {
  const { device, adapter } = await browserDevice();
  useDevice(device);
  run.adapter = adapterLine(adapter);
  publish();
  poisonOutputs(true);

  // Loaded after the device so "no WebGPU" is reported even when a case file is broken, and a case
  // file that fails to load (syntax error, missing WGSL) is reported as such instead of a blank page.
  let allOpCases: Awaited<typeof import('../cases/index.ts')>['allOpCases'];
  try {
    ({ allOpCases } = await import('../cases/index.ts'));
  } catch (e) {
    throw new Error(`could not load test/cases/index.ts: ${message(e)}`);
  }
  run.total = Object.values(allOpCases).flat().length;
  publish();

  for (const [family, cases] of Object.entries(allOpCases)) {
    for (const c of cases) {
      run.running = `${family} / ${c.name}`;
      publish();
      const start = performance.now();
      let error: string | null = null;
      try {
        await c.run();
      } catch (e) {
        error = message(e);
      }
      const result = { family, name: c.name, ok: error === null, error, ms: Math.round(performance.now() - start) };
      run.results.push(result);
      const text = `${result.ok ? 'ok  ' : 'FAIL'} ${family} / ${c.name} (${result.ms} ms)${error ? `: ${error}` : ''}`;
      logLine(text, result.ok ? 'ok' : 'fail');
    }
  }
}

publish(); // from here on the Node side can tell "never ran" from "stuck opening the device"
main()
  .catch((e) => {
    run.error = message(e);
    logLine(run.error, 'fail');
  })
  .finally(() => {
    run.running = null;
    run.done = true;
    publish();
  });
