// `npm run bench -- [options]`: the benchmark of bench/core.ts on this machine's WebGPU adapter (Dawn in
// Node), or with --browser in headless Chromium through src/node/browser.ts. Prints the tables and
// writes the full result as JSON (default bench/last-run.json, git-ignored). The options: USAGE below,
// which `npm run bench -- --help` prints.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseKernelSet } from '../src/kernels/kernel-set.ts';
import { commandLine } from '../src/node/cli/args.ts';
import { parseTuneMode } from '../src/train/tune.ts';
import { CONV_VARIANTS, DEFAULT_OPTIONS, SECTIONS, SWD_IMAGES, convVariantOf, runBench, type BenchOptions, type BenchResult, type Section } from './core.ts';
import { formatReport } from './report.ts';

const USAGE = `usage: ${commandLine('bench')} [options]
  --batch 8,16          batch sizes                    --image-size 64    --ngf 64 --ndf 64 --nz 100
  --kernels conv,iteration,ceilings,peer,metrics,batchnorm (sections; default ceilings,conv,iteration; metrics:
                        the moving average's update and the trainer's SWD, --swd-images against as many;
                        batchnorm: each batchnorm layer's training forward + backward, simple and fast)
  --layers G.main.0,D.main.11  only these conv layers in the conv section (default: all)
  --variants simple,fast  conv versions the conv section times (the simple weight gradient of a 64x64,
                        ngf 64 model takes minutes on a CPU adapter: --variants fast skips it), or plans
                        by name: --variants 'fast,gemm 64x128,gemm 128 split 4' (each on the passes it can run)
  --kernel-set fast     the run-wide kernel set (src/kernels/kernel-set.ts) of the iteration section and of
                        the conv section's default choice; simple also makes --variants default to simple
  --tune auto           conv plans tuned on this adapter first (auto: reuse kept choices; force: tune again;
                        off: the heuristic); the conv section then adds tuned against heuristic per pass
  --tune-budget S       seconds the tuning may take, passes that do not fit keep the heuristic (default: no limit;
                        the trainer's default is 60)
  --cache-dir DIR       where the tuned choices are kept (default $XDG_CACHE_HOME/webgpu-dcgan)
  --repeat 5            timed calls per measurement    --peer-repeat 1    timed TF.js iterations
  --swd-images 1000     images per set of the metrics section's SWD (at --image-size)
  --sgemm-size 1024     --copy-mb 64                   --json FILE        --browser
  --timeout-min 60      (browser only) how long the page may run
  --help                this text`;

/** The flags, or one line naming what is wrong (parseArgs' own error ends in a stack trace). */
function readFlags() {
  try {
    return parseArgs({ options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    console.error(`error: ${(e as Error).message.split('\n')[0]} (${commandLine('bench')} --help lists the options)`);
    process.exit(1);
  }
}

const FLAGS = {
  batch: { type: 'string' },
  'image-size': { type: 'string' },
  ngf: { type: 'string' },
  ndf: { type: 'string' },
  nz: { type: 'string' },
  kernels: { type: 'string' },
  layers: { type: 'string' },
  variants: { type: 'string' },
  'kernel-set': { type: 'string' },
  tune: { type: 'string' },
  'tune-budget': { type: 'string' },
  'cache-dir': { type: 'string' },
  repeat: { type: 'string' },
  'peer-repeat': { type: 'string' },
  'sgemm-size': { type: 'string' },
  'copy-mb': { type: 'string' },
  'swd-images': { type: 'string' },
  json: { type: 'string', default: 'bench/last-run.json' },
  browser: { type: 'boolean', default: false },
  'timeout-min': { type: 'string', default: '60' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const values = readFlags();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function nonNegative(name: string, text: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number of seconds, 0 or more, got '${text}'`);
  return v;
}

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer, got '${text}'`);
  return v;
}

function parseOptions(): BenchOptions {
  const d = DEFAULT_OPTIONS;
  const batches = values.batch === undefined ? d.batches : values.batch.split(',').map((b) => positiveInteger('batch', b.trim(), 0));
  const sections = values.kernels === undefined ? d.sections : values.kernels.split(',').map((s) => s.trim());
  for (const s of sections) {
    if (!SECTIONS.includes(s as Section)) throw new Error(`--kernels: unknown section '${s}' (choose from ${SECTIONS.join(', ')})`);
  }
  const kernels = parseKernelSet(values['kernel-set'] ?? d.kernelSet);
  const variants = values.variants === undefined ? (kernels === 'simple' ? ['simple'] : d.variants) : values.variants.split(',').map((v) => v.trim());
  for (const v of variants) {
    if (!convVariantOf(v)) {
      throw new Error(`--variants: unknown conv version '${v}' (choose from ${CONV_VARIANTS.join(', ')}, or a plan: gemm 128, gemm 64x128 split 2, skinny, dense, ...)`);
    }
  }
  const sgemmSize = positiveInteger('sgemm-size', values['sgemm-size'], d.sgemmSize);
  if (sgemmSize % 128) throw new Error(`--sgemm-size must be a multiple of 128, got ${sgemmSize}`);
  return {
    layers: values.layers === undefined ? d.layers : values.layers.split(',').map((l) => l.trim()),
    batches, sections: sections as Section[], variants, kernelSet: kernels, sgemmSize,
    tune: parseTuneMode(values.tune ?? d.tune),
    tuneBudget: values['tune-budget'] === undefined ? undefined : nonNegative('tune-budget', values['tune-budget']),
    imageSize: positiveInteger('image-size', values['image-size'], d.imageSize),
    ngf: positiveInteger('ngf', values.ngf, d.ngf),
    ndf: positiveInteger('ndf', values.ndf, d.ndf),
    nz: positiveInteger('nz', values.nz, d.nz),
    repeat: positiveInteger('repeat', values.repeat, d.repeat),
    peerRepeat: positiveInteger('peer-repeat', values['peer-repeat'], d.peerRepeat),
    copyMegabytes: positiveInteger('copy-mb', values['copy-mb'], d.copyMegabytes),
    swdImages: positiveInteger('swd-images', values['swd-images'], SWD_IMAGES),
  };
}

const machine = () => `${os.cpus().length} CPU cores (${os.cpus()[0]?.model ?? 'unknown'}), load average ${os.loadavg()[0].toFixed(2)} at start`;

/** Dawn in this process; TF.js gets its own navigator.gpu from a second Dawn instance, kept alive here. */
async function runInNode(options: BenchOptions): Promise<BenchResult> {
  const { nodeDevice, closeDevice } = await import('../src/node/webgpu.ts');
  const { adapterLine } = await import('../src/gpu/device.ts');
  const { adapter } = await nodeDevice({ quiet: true });
  let peerGpu: GPU | null = null;
  if (options.sections.includes('peer') && !(globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu) {
    register('./tfjs-node-hooks.mjs', import.meta.url); // TF.js's ES module build, with its gradients
    // that build still calls require('util') on Node, which an ES module scope lacks
    (globalThis as { require?: NodeJS.Require }).require ??= createRequire(import.meta.url);
    const { create } = await import('webgpu');
    peerGpu = create([]); // after nodeDevice(), so it sees the same Vulkan driver (lavapipe when there is no GPU)
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: peerGpu }, configurable: true, writable: true });
  }
  try {
    const { tuningFileStore } = await import('../src/node/tune-store.ts');
    const { defaultCacheDir } = await import('../src/node/data/index.ts');
    const { adapterKey } = await import('../src/train/tune.ts');
    const store = tuningFileStore(values['cache-dir'] ?? defaultCacheDir(), adapterKey(adapter));
    return await runBench(options, adapterLine(adapter), `Node ${process.version} + Dawn (npm webgpu); ${machine()}`, console.log, { adapter, store });
  } finally {
    if (options.sections.includes('peer')) await import('./peer-tfjs.ts').then((peer) => peer.closeTfjs(), () => undefined);
    await closeDevice();
    peerGpu = null;
  }
}

/** The same core in headless Chromium: bench/browser/main.ts runs it and publishes window.__bench. */
async function runInBrowser(options: BenchOptions, timeoutMinutes: number): Promise<BenchResult> {
  const { openPage } = await import('../src/node/browser.ts');
  const query = encodeURIComponent(JSON.stringify({ options, machine: machine() }));
  const opened = await openPage(`/bench/browser/index.html?config=${query}`, {
    onLog: (line) => console.log(line.replace(/^console\.log: /, '')),
    loadTimeoutMs: 120_000,
  });
  try {
    // short polls rather than one long waitForFunction: puppeteer drops any single call after 180 s
    const deadline = Date.now() + timeoutMinutes * 60_000;
    while (!(await opened.page.evaluate(() => window.__bench?.done === true))) {
      if (Date.now() > deadline) throw new Error(`the browser benchmark did not finish in ${timeoutMinutes} minutes (--timeout-min)`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const state = (await opened.page.evaluate(() => window.__bench!)) as NonNullable<Window['__bench']>;
    if (state.error || !state.result) throw new Error(`the browser benchmark failed: ${state.error ?? 'no result'}`);
    return state.result;
  } finally {
    await opened.close();
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  const result = values.browser ? await runInBrowser(options, Number(values['timeout-min'])) : await runInNode(options);
  console.log(`\n${formatReport(result)}`);
  const file = path.resolve(values.json!);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

main().catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
