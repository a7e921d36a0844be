// npm run train:chrome -- --data DIR [the flags of npm run train] [--chromium PATH] [--screenshot FILE]
// Trains in headless Chromium on its WebGPU, with the page of web/ and the same loop as `npm run train`
// (src/train/loop.ts). Node does what a page cannot: it builds or reuses the uint8 image cache with the
// Node pipeline and serves its batches (same shuffle, so the page trains on exactly `npm run train`'s
// batches), and it writes what the page sends into the run folder with the Node trainer's own code
// (RunFiles: log.jsonl, samples/*.png, checkpoint.safetensors, atomic). Progress comes back as events
// and drives the same terminal progress bar. SIGINT, SIGTERM or SIGHUP ask the page to stop, which
// checkpoints (stop-signals.ts); Chromium never outlives this process (browser.ts). A run
// folder written here resumes with `npm run train -- --resume RUN` and the other way round.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'vite';
import { launchChromium, startServer, chromiumPath } from '../browser.ts';
import { API, type PageEvent, type RunDescription } from '../../train/protocol.ts';
import { commandLine } from './args.ts';
import { runMain } from './main.ts';
import { adapterLimits } from '../webgpu.ts';
import { parseTrainFlags, RESUME_USAGE, TRAIN_FLAGS_HELP, TRAIN_FLAGS_USAGE } from './run-flags.ts';
import { planRun } from './run-plan.ts';
import { checkFits, prepareRun, type PreparedRun } from './run-setup.ts';
import { RUN_SETTINGS, pageSettings, type Setting } from '../../train/run-settings.ts';
import { StopSignals } from './stop-signals.ts';
import { RunFiles, TerminalProgress, reportOutcome } from './run-files.ts';
import { readFileSync, existsSync } from 'node:fs';
import { tuningFileStore } from '../tune-store.ts';
import { defaultCacheDir } from '../data/index.ts';

const USAGE = `usage: ${commandLine('train:chrome')} ${TRAIN_FLAGS_USAGE}
       [--chromium PATH] [--screenshot FILE]
   or: ${commandLine('train:chrome')} ${RESUME_USAGE}
${TRAIN_FLAGS_HELP}
  --chromium         the browser (default $CHROMIUM_PATH, else /usr/bin/chromium)
  --screenshot       a PNG of the dashboard at the end`;

const EXTRA_FLAGS = { chromium: { type: 'string' }, screenshot: { type: 'string' } } as const;

async function readBody(req: IncomingMessage, limit = 1 << 30): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: Buffer | string | object): void {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.statusCode = status;
  res.setHeader('content-type', Buffer.isBuffer(body) ? 'application/octet-stream' : typeof body === 'string' ? 'text/plain' : 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(bytes);
}

/** The API of src/train/protocol.ts over a prepared run; page events go to `onEvent`. */
function apiPlugin(run: PreparedRun, files: RunFiles, onEvent: (e: PageEvent) => void): Plugin {
  const { config, settings, loader, cache } = run;
  const description: RunDescription = {
    runDir: run.runDir, config, settings: pageSettings(run.values), batchesPerEpoch: loader.batchesPerEpoch,
    retryCommand: run.retryCommand('{lr}', false), resumeCommand: run.retryCommand('{lr}', true),
    images: run.report.count, skipped: run.report.skipped.length, resume: run.checkpoint !== null, checkpointFile: files.checkpointFile,
    heldOut: loader.heldOut.length, bestSwd: Number.isFinite(files.bestSwd()) ? files.bestSwd() : null,
  };
  const integer = (url: URL, name: string) => {
    const v = Number(url.searchParams.get(name));
    if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`);
    return v;
  };
  const tuningStore = (url: URL) => tuningFileStore(settings.cacheDir ?? defaultCacheDir(), url.searchParams.get('adapter') ?? 'unknown');
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /run':
        return send(res, 200, description);
      case 'GET /batch': {
        const [epoch, index] = [integer(url, 'epoch'), integer(url, 'index')];
        if (index >= loader.batchesPerEpoch) throw new Error(`batch index ${index} out of range [0, ${loader.batchesPerEpoch})`);
        const indices = loader.epochOrder(epoch).slice(index * config.batchSize, (index + 1) * config.batchSize);
        const pixels = await cache.readImages(indices);
        return send(res, 200, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength));
      }
      case 'GET /heldout': {
        const pixels = await cache.readImages(loader.heldOut);
        return send(res, 200, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength));
      }
      case 'GET /checkpoint':
        if (!existsSync(files.checkpointFile)) return send(res, 404, `no checkpoint at ${files.checkpointFile}`);
        return send(res, 200, readFileSync(files.checkpointFile));
      case 'POST /log':
        files.log(JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>);
        return send(res, 200, {});
      case 'POST /samples': {
        const [width, height] = [integer(url, 'width'), integer(url, 'height')];
        const data = new Uint8Array(await readBody(req));
        return send(res, 200, { file: files.saveSamples(url.searchParams.get('name') ?? '', { width, height, data }) });
      }
      case 'POST /checkpoint':
        return send(res, 200, { file: files.saveCheckpoint(new Uint8Array(await readBody(req)), url.searchParams.get('keep') ?? undefined, url.searchParams.get('best') === '1') });
      case 'GET /tuning': {
        // none kept yet: an empty 200, not a 404, which the page's console would print as an error
        return send(res, 200, (await tuningStore(url).read()) ?? '');
      }
      case 'POST /tuning':
        await tuningStore(url).write((await readBody(req)).toString('utf8'));
        return send(res, 200, {});
      case 'POST /event':
        onEvent(JSON.parse((await readBody(req)).toString('utf8')) as PageEvent);
        return send(res, 200, {});
      default:
        return send(res, 404, `no route ${route}`);
    }
  };
  return {
    name: 'train-chrome-api',
    configureServer(server) {
      // registered here, before Vite's own middlewares, so /api is never answered with a page
      server.middlewares.use(API, (req, res) => {
        handle(req, res).catch((e: unknown) => send(res, 400, e instanceof Error ? e.message : String(e)));
      });
    },
  };
}

async function main(argv: string[]): Promise<number> {
  const flags = parseTrainFlags(argv, USAGE, EXTRA_FLAGS);
  if (!flags) return 0;
  let pageRef: import('puppeteer-core').Page | null = null;
  // the first signal asks the page to stop, which finishes its iteration and checkpoints through the API
  const stop = new StopSignals(() => void pageRef?.evaluate(() => window.__dcgan?.stop()).catch(() => undefined));
  const chromium = flags.chromium ? String(flags.chromium) : chromiumPath();
  if (!chromium || !existsSync(chromium)) {
    throw new Error(`no Chromium at ${flags.chromium ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}: install chromium, or give --chromium PATH or CHROMIUM_PATH`);
  }
  // the flags whose work a page cannot do (src/train/run-settings.ts says which, and why)
  for (const s of RUN_SETTINGS as readonly Setting[]) if (flags[s.flag] !== undefined && typeof s.page === 'object' && 'refused' in s.page) throw new Error(s.page.refused);
  const plan = planRun(flags, USAGE, 'train:chrome');
  // Chromium runs on this machine's GPU (or a software driver): its limits are the Node adapter's
  checkFits(plan.config, await adapterLimits(), "this machine's adapter");
  const run = await prepareRun(plan);
  const files = new RunFiles(run.runDir);
  if (run.checkpoint) {
    const changed = run.changed.length > 0 ? ` with ${run.changed.join(', ')}` : '';
    console.error(`resuming ${run.runDir} at epoch ${run.checkpoint.position.epoch + 1}, iteration ${run.checkpoint.iteration}${changed}`);
    files.log({ event: 'resume', iteration: run.checkpoint.iteration, changed: run.changed, kernelSet: run.settings.kernelSet, host: 'chrome' });
  }
  console.error(`training in Chromium with the ${run.settings.kernelSet} kernels`);
  const progress = new TerminalProgress(run.settings.epochs);

  let finish: (result: { code: number } | { error: string }) => void = () => {};
  const finished = new Promise<{ code: number } | { error: string }>((resolve) => (finish = resolve));
  const onEvent = (e: PageEvent) => {
    switch (e.type) {
      case 'adapter':
        console.log(`${e.line} (in Chromium)`);
        break;
      case 'message':
        console.error(e.text);
        break;
      case 'kernel-trace': // --trace-kernels: as npm run train prints and keeps it
        console.log(e.trace);
        console.error(`kernel trace written to ${files.saveKernelTrace(e.trace)}`);
        break;
      case 'epoch-start':
        progress.epochStart(e.epoch, e.startIndex, e.batchesPerEpoch);
        break;
      case 'iteration':
        progress.iteration(e);
        // a signal that came while the page was still loading: ask again until the page has it
        if (stop.requested) void pageRef?.evaluate(() => window.__dcgan?.stop()).catch(() => undefined);
        break;
      case 'epoch-end':
        progress.epochEnd();
        break;
      case 'eval':
        progress.evaluation(e.epoch, e.evaluation, e.best);
        break;
      case 'end':
        progress.epochEnd();
        finish({ code: reportOutcome(e.outcome, files, run.settings.epochs, run.maxIters, stop.exitCode ?? 130) });
        break;
      case 'error':
        progress.epochEnd();
        finish({ error: e.message });
        break;
    }
  };

  const served = await startServer(['web/index.html'], [apiPlugin(run, files, onEvent)]);
  let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
  stop.training = true;
  try {
    browser = await launchChromium({ chromium, handleSignals: false });
    const page = await browser.browser.newPage();
    pageRef = page;
    await page.setViewport({ width: 1280, height: 900 });
    page.on('pageerror', (e) => finish({ error: `page error: ${e instanceof Error ? e.message : String(e)}` }));
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`page: ${m.text()}`);
    });
    browser.browser.on('disconnected', () => finish({ error: 'Chromium exited' }));
    await page.goto(`${served.origin}/web/index.html?server`, { waitUntil: 'load', timeout: 120_000 });
    const result = await finished;
    if (flags.screenshot) {
      await page.screenshot({ path: String(flags.screenshot) as `${string}.png`, fullPage: true }).catch(() => undefined);
    }
    if ('error' in result) throw new Error(result.error);
    return stop.exitCode !== null && result.code === 0 ? stop.exitCode : result.code;
  } finally {
    stop.dispose();
    await browser?.close();
    await served.close();
    await run.cache.close();
  }
}

runMain(() => main(process.argv.slice(2)));
