// Serving the repository with Vite and driving headless Chromium through puppeteer-core: the Node side of
// every page we run, shared by `npm run train:chrome` (src/node/cli/train-chrome.ts), the browser tests
// (test/browser.test.ts, test/web.test.ts: openPage) and `npm run bench -- --browser`. The pages
// themselves stay with their owners: web/ (the dashboard), test/browser/ (op cases), bench/browser/.
//
// WebGPU in headless Chromium: `--enable-unsafe-webgpu` is the one flag needed; without a GPU, Chromium
// falls back to SwiftShader (Vulkan on the CPU) and reports the adapter "google / swiftshader".
// navigator.gpu exists in every secure context (http://127.0.0.1 is one), with or without the flag;
// without it requestAdapter() returns null.
//
// Chromium never outlives the process that launched it, whatever ends that process (SIGKILL included).
// puppeteer starts Chromium detached (a process group and session of its own), so when the launcher dies
// nothing reaches Chromium unless arranged; two independent arrangements, either of which ends it:
// - DevTools over a pipe (puppeteer's `pipe: true`, fds 3 and 4) instead of a WebSocket: Chromium quits by
//   itself when the pipe's other end closes, and the kernel closes it when the launcher dies (measured:
//   all of Chromium gone 1.3 s after a SIGKILL; with the WebSocket, all ten processes stayed). It also
//   opens no DevTools port that any local process could drive. It leaves the profile directory behind.
// - A watchdog process (chromium-watchdog.mjs) that SIGKILLs Chromium (measured: gone in 0.35 s, even
//   over a WebSocket) and removes the temporary profile, which Chromium never does.
// test/chrome-lifetime.test.ts SIGKILLs `npm run train:chrome` mid-training and checks both.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createServer, type Plugin, type ViteDevServer } from 'vite';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The Chromium binary: $CHROMIUM_PATH, else /usr/bin/chromium; null when neither exists. */
export function chromiumPath(): string | null {
  const candidates = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p) => existsSync(p)) ?? null;
}

/**
 * The machine has no network: without the background-networking flags Chromium keeps retrying
 * connections it cannot make (component updates, sync, QUIC probes).
 */
const QUIET_FLAGS = [
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-default-apps',
];

export interface OpenPageOptions {
  /** launch with --enable-unsafe-webgpu (default true); false gives a page whose requestAdapter() is null */
  webgpu?: boolean;
  /** the Chromium binary (default chromiumPath()) */
  chromium?: string;
  /** more Chromium flags; $CHROMIUM_FLAGS (space separated) is appended too */
  args?: string[];
  /** runs in the page before any of its scripts (puppeteer's evaluateOnNewDocument) */
  beforeLoad?: () => void;
  /** gets each console message, page error and failed request as one line (they are kept in `log` too) */
  onLog?: (line: string) => void;
  /** how long page.goto may take, ms (default 60 s: the first load compiles the engine with Vite) */
  loadTimeoutMs?: number;
  /**
   * false: the caller handles SIGINT, SIGTERM and SIGHUP (puppeteer's own handlers close the browser at
   * once, and for SIGINT exit the process, before a trainer could ask the page for its checkpoint)
   */
  handleSignals?: boolean;
}

const signalHandling = (on: boolean) => ({ handleSIGINT: on, handleSIGTERM: on, handleSIGHUP: on });

/** A port the OS says is free now (Vite reads port 0 as "its default, 5173", which a developer's own server may hold). */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((done, fail) => probe.once('error', fail).listen(0, '127.0.0.1', done));
  const address = probe.address();
  await new Promise((done) => probe.close(done));
  if (!address || typeof address === 'string') throw new Error('could not find a free TCP port');
  return address.port;
}

/**
 * A Vite dev server rooted at the repository, on 127.0.0.1 and a free port, without HMR.
 * `entries`: the HTML pages to scan for dependencies (relative to the repository root); `plugins`: e.g. one
 * whose configureServer adds an API in front of Vite's own middlewares.
 */
export async function startServer(
  entries: string[] = ['test/browser/index.html'],
  plugins: Plugin[] = [],
): Promise<{ server: ViteDevServer; origin: string; close: () => Promise<void> }> {
  // Our own dependency cache, so parallel runs (and the web build) never rewrite one another's.
  const cacheDir = mkdtempSync(join(tmpdir(), 'dcgan-vite-'));
  let server: ViteDevServer | null = null;
  let http: HttpServer | null = null;
  const close = async () => {
    await new Promise((done) => (http?.listening ? http.close(done) : done(undefined)));
    await server?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  };
  try {
    // Middleware mode on our own HTTP server: a Vite that listens itself also installs a SIGTERM handler
    // and a stdin 'end' handler that close the server and exit the process, which would end a trainer
    // before it could save (train:chrome handles its stop signals itself: src/node/cli/stop-signals.ts).
    http = createHttpServer();
    server = await createServer({
      root: REPO_ROOT,
      configFile: false,
      cacheDir,
      logLevel: 'warn',
      clearScreen: false,
      appType: 'mpa',
      // Vite's client in the page talks to its WebSocket: on our own server (a separate port, 24678 by
      // default, collides between two servers: the page then fails). No file watching, so no edit made
      // while a page trains ever reloads it.
      server: { middlewareMode: true, hmr: { server: http }, watch: null },
      // Pre-bundle the page's dependencies up front: a dependency discovered later makes Vite reload the page.
      optimizeDeps: { entries },
      plugins,
    });
    http.on('request', server.middlewares);
    const port = await freePort();
    await new Promise<void>((done, fail) => http!.once('error', fail).listen(port, '127.0.0.1', done));
    return { server, origin: `http://127.0.0.1:${port}`, close };
  } catch (e) {
    await close();
    throw e;
  }
}

const WATCHDOG = fileURLToPath(new URL('./chromium-watchdog.mjs', import.meta.url));

/**
 * Starts chromium-watchdog.mjs for `userDataDir`: it kills the Chromium of that profile and removes it
 * once this process is gone. Started before Chromium, so there is no moment when a launched browser has
 * no watchdog. Detached (a process group of its own), so a signal to our group, e.g. Ctrl-C in the
 * terminal, does not end the watchdog along with us; unref'd, so it never keeps this process alive.
 */
function startWatchdog(userDataDir: string): ChildProcess {
  const watchdog = spawn(process.execPath, [WATCHDOG, userDataDir], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.on('error', (e) => console.error(`Chromium's watchdog did not start (${e.message}): if this process is killed, ${userDataDir} stays`));
  watchdog.stdin?.on('error', () => undefined); // EPIPE if the watchdog is gone; we never write anyway
  watchdog.unref();
  return watchdog;
}

/** Headless Chromium with a fresh profile in a temporary directory; neither outlives this process. */
export async function launchChromium(options: OpenPageOptions = {}): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const executablePath = options.chromium ?? chromiumPath();
  if (!executablePath) throw new Error('no Chromium found: install chromium or set CHROMIUM_PATH');
  const userDataDir = mkdtempSync(join(tmpdir(), 'dcgan-chromium-'));
  const watchdog = startWatchdog(userDataDir);
  const args = [
    ...QUIET_FLAGS,
    ...(options.webgpu === false ? [] : ['--enable-unsafe-webgpu']),
    ...(options.args ?? []),
    ...(process.env.CHROMIUM_FLAGS?.split(/\s+/).filter((s) => s) ?? []),
  ];
  // headless: true is puppeteer's --headless=new; pipe: see the top of this file
  const browser = await puppeteer
    // protocolTimeout: one waitForFunction is one protocol call that lasts as long as the page works (the op
    // cases take minutes on a software adapter); callers bound their waits with their own timeouts
    .launch({ executablePath, headless: true, pipe: true, userDataDir, args, protocolTimeout: 30 * 60_000, ...signalHandling(options.handleSignals ?? true) })
    .catch((e: unknown) => {
      rmSync(userDataDir, { recursive: true, force: true });
      watchdog.stdin?.end(); // the watchdog kills whatever of Chromium started, and exits
      throw e;
    });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
      // EOF, as if we had died: the watchdog kills what browser.close() left (if it failed) and exits
      watchdog.stdin?.end();
    },
  };
}

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
