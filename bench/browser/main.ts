// The browser side of `npm run bench -- --browser`: reads the options from ?config=, runs bench/core.ts
// on the page's WebGPU device, and publishes the result on window.__bench for bench/bench.ts to collect.
// Also usable by hand: open /bench/browser/index.html from `npx vite` for the default options.
import { adapterLine, browserDevice } from '../../src/gpu/device.ts';
import { useDevice } from '../../src/gpu/context.ts';
import { DEFAULT_OPTIONS, runBench, type BenchOptions, type BenchResult } from '../core.ts';
import { formatReport } from '../report.ts';

declare global {
  interface Window {
    __bench?: { done: boolean; result: BenchResult | null; error: string | null };
  }
}

function log(line: string): void {
  console.log(line);
  document.getElementById('log')!.append(`${line}\n`);
}

async function main(): Promise<void> {
  window.__bench = { done: false, result: null, error: null };
  const config = new URLSearchParams(location.search).get('config');
  const { options, machine } = config
    ? (JSON.parse(config) as { options: BenchOptions; machine: string })
    : { options: DEFAULT_OPTIONS, machine: 'unknown machine' };
  const { device, adapter } = await browserDevice();
  useDevice(device);
  document.getElementById('status')!.textContent = `running on ${adapterLine(adapter)}`;
  const browser = navigator.userAgent.match(/(Headless)?Chrome\/[\d.]+/)?.[0] ?? navigator.userAgent;
  const result = await runBench(options, adapterLine(adapter), `${browser} (WebGPU in the page); ${machine}`, log);
  document.getElementById('log')!.append(`\n${formatReport(result)}\n`);
  window.__bench = { done: true, result, error: null };
  document.getElementById('status')!.textContent = 'done';
  document.title = 'bench: done';
}

main().catch((e: unknown) => {
  const error = e instanceof Error ? e.message : String(e);
  console.error(error);
  window.__bench = { done: true, result: null, error };
  document.getElementById('status')!.textContent = `error: ${error}`;
  document.title = 'bench: failed';
});
