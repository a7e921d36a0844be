// The training dashboard: the engine and the training loop of `npm run train`, running on the browser's
// WebGPU device. Data comes from a folder the user picks or drops (decoded here), from synthetic
// pictures, or, under `npm run train:chrome`, from the Node cache through the server (?server). Live
// charts of the losses and D's outputs, the fixed-noise grid, a latent walk, checkpoints in and out.
//
// URL parameters (for automation and links): ?server, ?data=synthetic&images=N, ?autostart, and any
// setting by its flag name (?image-size=16&ngf=4&max-iters=3...).
// window.__dcgan exposes the state to puppeteer (tests, train:chrome) and stop() for Ctrl-C.
import { adapterLine, browserDevice, type AdapterDescription } from '../src/gpu/device.ts';
import { DEFAULT_TUNE_BUDGET_S, adapterKey, parseTuneMode, trainingConvPasses, tuneBudgetText, tuneConvPlans, tuneProgressText } from '../src/train/tune.ts';
import { browserTuningStore, serverTuningStore } from './tune-store.ts';
import { useDevice } from '../src/gpu/context.ts';
import { BatchLoader, type ImageSource } from '../src/train/data/loader.ts';
import { BATCHNORM_MODES, parseChoice, type GanTraining, type TrainingConfig } from '../src/train/gan.ts';
import type { PageSettings } from '../src/train/run-settings.ts';
import type { TuneMode } from '../src/train/tune.ts';
import { formatStats, sampleGrid, type LoopOutcome } from '../src/train/loop.ts';
import type { RgbaImage } from '../src/train/images.ts';
import { LineChart, paintImage } from './charts.ts';
import { decodePhotos, filesFromDrop, filesFromInput, selectImages, syntheticImages, type PickedFile } from './dataset.ts';
import { drawWalk } from './generate.ts';
import type { RunDescription } from '../src/train/protocol.ts';
import { kernelsDispatched } from '../src/gpu/kernel.ts';
import { kernelSet, parseKernelSet, useKernelSet } from '../src/kernels/kernel-set.ts';
import { describeRun, fetchCheckpoint, sendEvent, serverData, serverStore } from './server-api.ts';
import { Session, type DataSource, type RunSettings, type RunStore, type SessionState } from './session.ts';

/** What puppeteer reads; `stop` is how train:chrome relays Ctrl-C. */
export interface DashboardState {
  ready: boolean;
  state: SessionState;
  adapter: string | null;
  software: boolean;
  iteration: number;
  error: string | null;
  outcome: LoopOutcome | null;
  samplesPainted: number;
  /** paused and no step in flight */
  held: boolean;
  stop: () => void;
  pause: () => void;
  resume: () => void;
}

declare global {
  interface Window {
    __dcgan?: DashboardState;
  }
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const serverMode = params.has('server');
// ?kernel-set=simple runs every conv pass with the readable kernels (src/kernels/kernel-set.ts); with
// `npm run train:chrome` the run description's kernelSet decides instead
useKernelSet(parseKernelSet(params.get('kernel-set') ?? 'fast', 'the kernel-set query parameter'));
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

const lossChart = new LineChart($<HTMLCanvasElement>('chart-loss'), 'Loss', [
  { label: 'Loss_D', color: '#d1495b' },
  { label: 'Loss_G', color: '#2e86ab' },
]);
const dChart = new LineChart(
  $<HTMLCanvasElement>('chart-d'),
  "D's output",
  [
    { label: 'D(x)', color: '#3b9c45' },
    { label: 'D(G(z)) before D step', color: '#e8a33d' },
    { label: 'after', color: '#8e5cc4' },
  ],
  [0, 1],
);

const swdChart = new LineChart($<HTMLCanvasElement>('chart-swd'), 'SWD x1e3 against held-out photos (lower is better; train:chrome runs)', [
  { label: 'SWD', color: '#d1495b' },
]);

const dash: DashboardState = {
  ready: false, state: 'idle', adapter: null, software: false, iteration: 0, error: null, outcome: null, samplesPainted: 0, held: false,
  stop: () => session.stop(),
  pause: () => session.pause(),
  resume: () => session.resume(),
};
window.__dcgan = dash;

const session = new Session({
  onState: (state) => {
    dash.state = state;
    updateButtons();
  },
  onEpochStart: (epoch, startIndex, batchesPerEpoch) => {
    if (serverMode) void sendEvent({ type: 'epoch-start', epoch, startIndex, batchesPerEpoch });
  },
  onIteration: (r) => {
    dash.iteration = r.iteration;
    lossChart.push(r.iteration, [r.stats.lossD, r.stats.lossG]);
    dChart.push(r.iteration, [r.stats.dReal, r.stats.dFakeBefore, r.stats.dFakeAfter]);
    setStatus(`epoch ${r.epoch}/${currentSettings?.epochs ?? '?'}  batch ${r.batch}/${r.batchesPerEpoch}  iteration ${r.iteration}  ${formatStats(r.stats)}  ${r.imagesPerSecond.toFixed(1)} img/s`);
    if (serverMode) void sendEvent({ type: 'iteration', ...r });
  },
  onEpochEnd: (epoch) => {
    if (serverMode) void sendEvent({ type: 'epoch-end', epoch });
  },
  onEvaluation: (epoch, evaluation, best) => {
    swdChart.push(dash.iteration, [evaluation.average]);
    setStatus(`epoch ${epoch + 1}: SWD x1e3 ${evaluation.average.toFixed(1)} (${evaluation.images} generated vs ${evaluation.images} held-out photos, ${evaluation.seconds.toFixed(1)} s)${best ? ', the best yet' : ''}`);
    if (serverMode) void sendEvent({ type: 'eval', epoch, evaluation, best });
  },
  onSamples: (name, grid) => showSamples(name, grid),
  onKernelTrace: (trace) => {
    console.log(trace); // ?trace-kernels on the plain page: the browser's console has it
    if (serverMode) void sendEvent({ type: 'kernel-trace', trace });
  },
  onHold: (held) => {
    dash.held = held;
    if (held) setStatus(`paused at iteration ${dash.iteration}`);
  },
});

let currentSettings: RunSettings | null = null;
let run: RunDescription | null = null;
let picked: PickedFile[] = [];
/** decoded data, kept while the source, match and image size stay the same */
let decoded: { key: string; cache: ImageSource } | null = null;
/** checkpoint bytes a local run saved last (stop, epoch end, max iters) */
let localCheckpoint: Uint8Array | null = null;

function setStatus(text: string): void {
  $('status').textContent = text;
}

function showError(text: string): void {
  dash.error = text;
  const banner = $('error');
  banner.textContent = text;
  banner.hidden = false;
  setStatus(`error: ${text}`);
}

function showSamples(name: string, grid: RgbaImage): void {
  paintImage($<HTMLCanvasElement>('samples'), grid);
  $('samples-name').textContent = name;
  dash.samplesPainted++;
  scheduleWalk();
}

// ---------------------------------------------------------------- settings

function field(key: string): HTMLInputElement {
  return document.querySelector<HTMLInputElement>(`#settings input[data-key="${key}"]`)!;
}

function numberField(key: string, fallback: number): number {
  const raw = field(key).value.trim();
  if (raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new Error(`${key} must be a number, got '${raw}'`);
  return v;
}

function configFromForm(): TrainingConfig {
  const imageSize = numberField('image-size', 32);
  if (imageSize < 8 || (imageSize & (imageSize - 1)) !== 0) throw new Error(`image size ${imageSize} is not supported: use a power of two ≥ 8`);
  return {
    model: { imageSize, nz: numberField('nz', 100), ngf: numberField('ngf', 16), ndf: numberField('ndf', 16), nc: 3 },
    batchSize: numberField('batch-size', 32),
    lr: numberField('lr', 2e-4),
    beta1: numberField('beta1', 0.5),
    seed: numberField('seed', 1),
  };
}

function settingsFromForm(): RunSettings {
  return {
    epochs: numberField('epochs', 25),
    maxIters: numberField('max-iters', Infinity),
    sampleEvery: numberField('sample-every', 50),
    patience: 50,
  };
}

function showConfig(config: TrainingConfig): void {
  const values: Record<string, number> = {
    'image-size': config.model.imageSize, ngf: config.model.ngf, ndf: config.model.ndf, nz: config.model.nz,
    'batch-size': config.batchSize, lr: config.lr, beta1: config.beta1, seed: config.seed,
  };
  for (const [k, v] of Object.entries(values)) field(k).value = String(v);
}

/** The model's settings are fixed once a model exists (a loaded checkpoint decides them). */
function lockModelFields(locked: boolean): void {
  for (const k of ['image-size', 'ngf', 'ndf', 'nz', 'batch-size', 'lr', 'beta1', 'seed']) field(k).disabled = locked;
}

const source = () => document.querySelector<HTMLInputElement>('input[name="source"]:checked')!.value as 'folder' | 'synthetic' | 'server';

// ---------------------------------------------------------------- data

async function localData(imageSize: number, batchSize: number, seed: number): Promise<DataSource> {
  const kind = source();
  const match = $<HTMLInputElement>('match').value.trim() || undefined;
  const count = Number(params.get('images') ?? 256);
  const key = `${kind}|${match ?? ''}|${imageSize}|${kind === 'folder' ? picked.length : count}`;
  if (decoded?.key !== key) {
    if (kind === 'synthetic') {
      decoded = { key, cache: syntheticImages(count, imageSize) };
      $('data-info').textContent = `${count} synthetic pictures of ${imageSize}px`;
    } else {
      const files = selectImages(picked, match);
      const { cache, skipped } = await decodePhotos(files, imageSize, (p) =>
        setStatus(`decoding ${imageSize}px: ${p.done}/${p.total}${p.skipped ? `, ${p.skipped} skipped` : ''}`),
      );
      decoded = { key, cache };
      $('data-info').textContent = `${cache.count} photos decoded to ${imageSize}px${skipped.length ? `, ${skipped.length} skipped (first: ${skipped[0].path}: ${skipped[0].reason})` : ''}`;
    }
  }
  const loader = new BatchLoader(decoded.cache, { batchSize, seed });
  return { batchesPerEpoch: loader.batchesPerEpoch, batch: (epoch, index, target) => loader.batch(epoch, index, target) };
}

function memoryStore(): RunStore {
  return {
    log: () => undefined,
    saveSamples: async (name) => name,
    saveCheckpoint: async (bytes) => {
      localCheckpoint = bytes;
    },
    keptCheckpoint: () => (localCheckpoint ? 'this page (use Download checkpoint)' : null),
  };
}

function setPicked(files: PickedFile[]): void {
  picked = files;
  decoded = null;
  const images = selectImages(files, $<HTMLInputElement>('match').value.trim() || undefined);
  $('data-info').textContent = `${images.length} images chosen (decoded at start)`;
  document.querySelector<HTMLInputElement>('input[name="source"][value="folder"]')!.checked = true;
  updateButtons();
}

// ---------------------------------------------------------------- training

/** The settings this page runs with, by flag, as the training, the loop's settings and the tuner hold them. */
function appliedSettings(training: GanTraining, settings: RunSettings, tune: TuneMode, tuneBudgetSeconds: number): PageSettings {
  const c = training.config;
  return {
    'image-size': c.model.imageSize, ngf: c.model.ngf, ndf: c.model.ndf, nz: c.model.nz, 'g-upsample': c.model.gUpsample ?? 'transposed',
    'batch-size': c.batchSize, lr: c.lr, beta1: c.beta1, seed: c.seed, ema: training.average?.decay ?? 0,
    epochs: settings.epochs, 'max-iters': Number.isFinite(settings.maxIters) ? settings.maxIters : null, 'sample-every': settings.sampleEvery,
    patience: settings.patience, 'checkpoint-every': (settings.checkpointEveryMs ?? 0) / 60_000, 'keep-epochs': settings.keepEpochs ?? false,
    'kernel-set': kernelSet(), tune, 'tune-budget': Number.isFinite(tuneBudgetSeconds) ? tuneBudgetSeconds : 0, bn: training.sampling.bn,
    'trace-kernels': settings.traceKernels ?? false,
  };
}

async function start(): Promise<void> {
  $('error').hidden = true;
  dash.error = null;
  try {
    if (!session.training) {
      const config = configFromForm();
      session.create(config);
      lossChart.clear();
      dChart.clear();
      swdChart.clear();
    }
    lockModelFields(true);
    const training = session.training!;
    const { batchSize, model, seed } = training.config;
    const data = serverMode ? serverData(run!) : await localData(model.imageSize, batchSize, seed);
    const store = serverMode ? serverStore(run!) : memoryStore();
    const given = run?.settings;
    currentSettings = serverMode
      ? {
          epochs: given!.epochs!, maxIters: given!['max-iters'] ?? Infinity, sampleEvery: given!['sample-every']!, patience: given!.patience!,
          checkpointEveryMs: given!['checkpoint-every']! * 60_000, keepEpochs: given!['keep-epochs'],
          retryCommand: (lr, resumable) => (resumable ? run!.resumeCommand : run!.retryCommand).replace('{lr}', String(lr)),
          bestSwd: run!.bestSwd ?? undefined, traceKernels: given!['trace-kernels'],
        }
      : { ...settingsFromForm(), traceKernels: params.has('trace-kernels') };
    const mode = parseTuneMode(serverMode ? given!.tune : params.get('tune') ?? 'auto', 'the tune query parameter');
    const budgetSeconds = Number(serverMode ? given!['tune-budget'] : params.get('tune-budget') ?? DEFAULT_TUNE_BUDGET_S) || Infinity;
    if (serverMode) {
      if (training.iteration === 0) {
        await store.log({ event: 'start', adapter: adapterInfo, config: training.config, kernelSet: kernelSet(), data: { images: run!.images, skipped: run!.skipped }, host: 'chrome' });
      }
      // what this page applies, read back from the objects that use it: train:chrome's test compares it
      // with every setting it sent (src/train/run-settings.ts)
      await store.log({ event: 'page-settings', applied: appliedSettings(training, currentSettings, mode, budgetSeconds) });
    }
    if (kernelSet() === 'fast') {
      const key = adapterKey(adapterInfo!);
      if (mode !== 'off') setStatus(`choosing conv plans for this adapter, ${tuneBudgetText(budgetSeconds)}…`);
      const tuned = await tuneConvPlans(trainingConvPasses(training), {
        mode, adapter: adapterInfo!, store: serverMode ? serverTuningStore(key) : browserTuningStore(key), budgetSeconds,
        onProgress: (p) => {
          setStatus(tuneProgressText(p));
          if (serverMode) void sendEvent({ type: 'message', text: tuneProgressText(p) });
        },
      });
      setStatus(tuned.summary);
      if (serverMode) void sendEvent({ type: 'message', text: tuned.summary });
    }
    if (training.iteration === 0) showSamples('untrained', await sampleGrid(training));
    const outcome = await session.run(data, store, currentSettings);
    dash.outcome = outcome;
    const why = outcome.reason === 'done' ? `done: ${currentSettings.epochs} epochs` : outcome.reason === 'stopped' ? 'stopped' : `reached max iters ${currentSettings.maxIters}`;
    setStatus(`${why} at iteration ${outcome.iteration}${serverMode ? `; checkpoint ${run!.checkpointFile}` : ' — Download checkpoint saves it'}`);
    if (serverMode) {
      await store.log({ event: 'kernels', kernelSet: kernelSet(), dispatched: kernelsDispatched() });
      await sendEvent({ type: 'end', outcome });
    }
  } catch (e) {
    showError(message(e));
    if (serverMode) await sendEvent({ type: 'error', message: message(e) });
  } finally {
    updateButtons();
  }
}

function updateButtons(): void {
  const s = session.state;
  const busy = s === 'running' || s === 'paused' || s === 'stopping';
  const haveData = serverMode || source() === 'synthetic' || picked.length > 0;
  $<HTMLButtonElement>('start').disabled = !dash.ready || busy || !haveData || serverMode;
  $<HTMLButtonElement>('start').textContent = session.training && session.training.iteration > 0 ? 'Continue' : 'Start';
  $<HTMLButtonElement>('pause').disabled = s !== 'running';
  $<HTMLButtonElement>('resume').disabled = s !== 'paused';
  $<HTMLButtonElement>('stop').disabled = !(s === 'running' || s === 'paused');
  $<HTMLButtonElement>('reset').disabled = busy || !session.training || serverMode;
  $<HTMLButtonElement>('download').disabled = !session.training;
  $<HTMLInputElement>('load').disabled = busy || serverMode || !dash.ready;
  $<HTMLInputElement>('walk').disabled = !session.training;
}

// ---------------------------------------------------------------- generate view

let walkPending = false;
let walkAgain = false;
function scheduleWalk(): void {
  const training = session.training;
  if (!training) return;
  if (walkPending) {
    walkAgain = true;
    return;
  }
  walkPending = true;
  const t = Number($<HTMLInputElement>('walk').value);
  $('walk-t').textContent = t.toFixed(2);
  const seeds: [number, number] = [Number($<HTMLInputElement>('seed-a').value) >>> 0, Number($<HTMLInputElement>('seed-b').value) >>> 0];
  const { nz, imageSize } = training.config.model;
  session
    .betweenSteps(() => drawWalk(training.generator, nz, imageSize, seeds, t, { single: $('generated') as HTMLCanvasElement, strip: $('strip') as HTMLCanvasElement }))
    .catch((e) => showError(`generate: ${message(e)}`))
    .finally(() => {
      walkPending = false;
      if (walkAgain) {
        walkAgain = false;
        scheduleWalk();
      }
    });
}

// ---------------------------------------------------------------- wiring

function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function wire(): void {
  $('start').addEventListener('click', () => void start());
  $('pause').addEventListener('click', () => session.pause());
  $('resume').addEventListener('click', () => session.resume());
  $('stop').addEventListener('click', () => session.stop());
  $('reset').addEventListener('click', () => {
    session.training?.dispose();
    session.training = null;
    session.position = { epoch: 0, batchInEpoch: 0 };
    lockModelFields(false);
    lossChart.clear();
    dChart.clear();
    swdChart.clear();
    updateButtons();
  });
  $('download').addEventListener('click', async () => {
    try {
      download(await session.checkpointBytes(), `checkpoint-iter-${session.training?.iteration ?? 0}.safetensors`);
    } catch (e) {
      showError(message(e));
    }
  });
  $<HTMLInputElement>('load').addEventListener('change', async (event) => {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      const training = session.load(new Uint8Array(await file.arrayBuffer()), file.name);
      showConfig(training.config);
      lockModelFields(true);
      lossChart.clear();
      dChart.clear();
      swdChart.clear();
      showSamples(`${file.name}, iteration ${training.iteration}`, await sampleGrid(training));
      setStatus(`loaded ${file.name}: iteration ${training.iteration}, epoch ${session.position.epoch + 1}; Continue trains on from there`);
    } catch (e) {
      showError(message(e));
    }
    updateButtons();
  });
  $<HTMLInputElement>('folder').addEventListener('change', (e) => setPicked(filesFromInput((e.target as HTMLInputElement).files!)));
  $('match').addEventListener('change', () => setPicked(picked));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer) setPicked(await filesFromDrop(e.dataTransfer.items));
  });
  for (const input of Array.from(document.querySelectorAll<HTMLInputElement>('input[name="source"]'))) input.addEventListener('change', updateButtons);
  for (const id of ['walk', 'seed-a', 'seed-b']) $(id).addEventListener('input', scheduleWalk);
  // settings from the URL, by flag name
  for (const input of Array.from(document.querySelectorAll<HTMLInputElement>('#settings input'))) {
    const v = params.get(input.dataset.key!);
    if (v !== null) input.value = v;
  }
  if (params.get('data') === 'synthetic') document.querySelector<HTMLInputElement>('input[name="source"][value="synthetic"]')!.checked = true;
  if (params.has('match')) $<HTMLInputElement>('match').value = params.get('match')!;
}

let adapterInfo: AdapterDescription | null = null;

async function main(): Promise<void> {
  wire();
  updateButtons();
  try {
    const { device, adapter } = await browserDevice();
    useDevice(device);
    adapterInfo = adapter;
    dash.adapter = adapterLine(adapter);
    dash.software = adapter.software;
    $('adapter').textContent = dash.adapter;
    $('software').hidden = !adapter.software;
    if (serverMode) void sendEvent({ type: 'adapter', line: dash.adapter, software: adapter.software });
  } catch (e) {
    $('adapter').textContent = 'no WebGPU device';
    showError(message(e));
    dash.state = 'error';
    if (serverMode) await sendEvent({ type: 'error', message: message(e) });
    return;
  }
  if (serverMode) {
    try {
      run = await describeRun();
      useKernelSet(parseKernelSet(run.settings['kernel-set'])); // before any kernel runs
      const server = document.querySelector<HTMLInputElement>('input[name="source"][value="server"]')!;
      server.disabled = false;
      server.checked = true;
      for (const input of Array.from(document.querySelectorAll<HTMLInputElement>('input[name="source"]'))) input.disabled = input !== server;
      $('data-info').textContent = `${run.images} images from the Node cache; run folder ${run.runDir}`;
      if (run.resume) {
        // with the run's config, not the checkpoint's: a resume may change --lr and --beta1
        const training = session.load(await fetchCheckpoint(), run.checkpointFile, run.config);
        void sendEvent({ type: 'message', text: `resuming ${run.runDir} at epoch ${session.position.epoch + 1}, iteration ${training.iteration}` });
      } else {
        session.create(run.config);
      }
      showConfig(run.config);
      lockModelFields(true);
      session.training!.sampling = { ...session.training!.sampling, bn: parseChoice('bn', run.settings.bn, BATCHNORM_MODES) };
      field('epochs').value = String(run.settings.epochs);
      field('max-iters').value = run.settings['max-iters'] === null ? '' : String(run.settings['max-iters']);
      field('sample-every').value = String(run.settings['sample-every']);
    } catch (e) {
      showError(message(e));
      await sendEvent({ type: 'error', message: message(e) });
      return;
    }
  }
  dash.ready = true;
  updateButtons();
  setStatus(serverMode ? 'training for npm run train:chrome…' : 'ready: choose data and press Start');
  if (serverMode || params.has('autostart')) await start();
}

void main();
