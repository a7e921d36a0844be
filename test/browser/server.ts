// Serves the repository with Vite (which compiles TypeScript and serves WGSL `?raw` imports as the web
// build does) and opens a page of it in headless Chromium through puppeteer-core. Used by
// test/browser.test.ts for the op cases and test/web.test.ts for the dashboard. The server and browser
// helpers themselves live in src/node/browser.ts (npm run train:chrome uses them too).
import type { Browser, Page } from 'puppeteer-core';
import { launchChromium, startServer, type OpenPageOptions } from '../../src/node/browser.ts';

export { REPO_ROOT, chromiumPath, launchChromium, startServer, type OpenPageOptions } from '../../src/node/browser.ts';

export interface OpenedPage {
  page: Page;
  browser: Browser;
  /** the page's address, http://127.0.0.1:PORT/path */
  url: string;
  /** console messages, uncaught page errors and failed requests, in order: for error messages */
  log: string[];
  /** closes the browser and the server and removes the temporary profile */
  close: () => Promise<void>;
}

/**
 * Serve the repository and open `path` (e.g. "/test/browser/index.html") in headless Chromium.
 * Each call has its own server and browser; `close` ends both.
 */
export async function openPage(path: string, options: OpenPageOptions = {}): Promise<OpenedPage> {
  const relative = path.replace(/^\//, '').replace(/[?#].*$/, '');
  const served = await startServer(relative.endsWith('.html') ? [relative] : undefined);
  let launched: Awaited<ReturnType<typeof launchChromium>> | null = null;
  const close = async () => {
    await launched?.close();
    await served.close();
  };
  try {
    launched = await launchChromium(options);
    const page = await launched.browser.newPage();
    const log: string[] = [];
    const record = (line: string) => {
      log.push(line);
      options.onLog?.(line);
    };
    page.on('console', (m) => record(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => record(`page error: ${e instanceof Error ? e.message : String(e)}`));
    page.on('requestfailed', (r) => record(`request failed: ${r.url()} (${r.failure()?.errorText ?? 'unknown'})`));
    page.on('response', (r) => {
      if (r.status() >= 400) record(`HTTP ${r.status()}: ${r.url()}`);
    });
    if (options.beforeLoad) await page.evaluateOnNewDocument(options.beforeLoad);
    const url = `${served.origin}/${path.replace(/^\//, '')}`;
    await page.goto(url, { waitUntil: 'load', timeout: options.loadTimeoutMs ?? 60_000 });
    return { page, browser: launched.browser, url, log, close };
  } catch (e) {
    await close();
    throw e;
  }
}
