// The benchmark itself, shared by the Node command (bench/bench.ts) and the browser page
// (bench/browser/main.ts): no Node imports here. The caller opens the device, calls runBench and
// prints or saves the result. Sections:
//   ceilings   SGEMM GFLOP/s and buffer-copy GB/s of this adapter (bench/ceilings.ts)
//   conv       every conv and transposed-conv layer of the DCGAN: forward, input gradient, weight gradient
//   iteration  GanTraining.step on a synthetic batch: ms/iter, images/s, top kernels, GPU bytes; and
//              the same steps pipelined as runTraining runs them (each submitted before the previous
//              step's statistics are back)
//   peer       the same iteration in TF.js's WebGPU backend (bench/peer-tfjs.ts), and ours/TF.js
//   metrics    what training adds around the step: the moving average of G (--ema: one moving_average
//              dispatch over G's parameters, every G step) and the trainer's SWD of each epoch
//              (src/metrics/swd.ts, --swd-images drawn against as many photos, here synthetic images)
import * as conv from '../src/kernels/conv.ts';
import { gpu, sync, type GpuCounters } from '../src/gpu/context.ts';
import { byKernel, profiler } from '../src/gpu/profiler.ts';
import { kernelSet, useKernelSet, type KernelSet } from '../src/kernels/kernel-set.ts';
import { sizeOf, tidy, type Tensor } from '../src/gpu/tensor.ts';
import { randomNormal } from '../src/kernels/random.ts';
import { convLayerShapes, convPassShapes, type ConvLayerShape } from '../src/model/conv-layers.ts';
import { Generator, networkShapes, seedStream, type DcganConfig } from '../src/model/dcgan.ts';
import { GanTraining, stepConvMacs } from '../src/train/gan.ts';
import { fill, movingAverageInto } from '../src/kernels/elementwise.ts';
import { batchNormBackward, batchNormTrainForward, type BatchNormVariant } from '../src/kernels/batchnorm.ts';
import { slicedWassersteinDistanceGpu } from '../src/metrics/swd.ts';
import { isValidPlan } from '../src/kernels/conv-tune.ts';
import { tuneConvPlans, type TuneMode, type TuneOutcome, type TuningStore } from '../src/train/tune.ts';
import type { AdapterDescription } from '../src/gpu/device.ts';
import { measureCeilings, type Ceilings } from './ceilings.ts';
import { timeDispatches } from './timing.ts';

export const SECTIONS = ['ceilings', 'conv', 'batchnorm', 'iteration', 'peer', 'metrics'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  batches: number[];
  imageSize: number;
  ngf: number;
  ndf: number;
  nz: number;
  sections: Section[];
  /** the conv layers the conv section times, by model index ("G.main.0", "D.main.11"); empty: all */
  layers: string[];
  /**
   * what the conv section times each pass with (src/kernels/conv.ts's `variant` argument): 'simple',
   * 'fast', or a plan by its name (conv.planText: 'gemm 64x128 split 2'), run on the passes it can run
   */
  variants: string[];
  /** the run-wide kernel set (src/kernels/kernel-set.ts): what the iteration section and the conv section's
   * default choice ('auto' kernels) run; absent (an older JSON) is 'fast' */
  kernelSet?: KernelSet;
  /** conv plans (src/train/tune.ts): tuned on this adapter per batch size before the conv and iteration
   * sections ('auto': kept choices reused, 'force': tuned again), or the heuristic ('off'); absent = 'off' */
  tune?: TuneMode;
  /** seconds the tuning may take (src/kernels/conv-tune.ts); absent or 0: no limit */
  tuneBudget?: number;
  /** timed calls per measurement (after one warm-up call) */
  repeat: number;
  /** timed TF.js iterations (after one warm-up iteration): TF.js on a CPU adapter is very slow */
  peerRepeat: number;
  /** square SGEMM size for the compute ceiling (a multiple of 128) */
  sgemmSize: number;
  copyMegabytes: number;
  /** images in each of the two sets the metrics section's SWD compares (absent: SWD_IMAGES) */
  swdImages?: number;
}

/** the metrics section's SWD: as many images as the trainer's per-epoch SWD draws by default (1,000 held out) */
export const SWD_IMAGES = 1000;

export const DEFAULT_OPTIONS: BenchOptions = {
  batches: [8],
  imageSize: 64,
  ngf: 64,
  ndf: 64,
  nz: 100,
  sections: ['ceilings', 'conv', 'iteration'],
  layers: [],
  variants: ['simple', 'fast'],
  kernelSet: 'fast',
  tune: 'auto',
  repeat: 5,
  peerRepeat: 1,
  sgemmSize: 1024,
  copyMegabytes: 64,
};

export type Pass = 'forward' | 'input grad' | 'weight grad';

export interface LayerResult {
  batch: number;
  /** e.g. "G.main.3 ConvT 128→64 4→8" */
  layer: string;
  pass: Pass;
  /** the conv version forced for this measurement */
  variant: string;
  /** whether the launchers' own choice ('auto', what training runs) is this variant at this shape */
  auto: boolean;
  ms: number;
  gpuMs: number | null;
  wallMs: number;
  gflops: number;
  gbps: number;
  /** fractions of the SGEMM and copy ceilings (null without the ceilings section) */
  ofSgemm: number | null;
  ofCopy: number | null;
  /** the kernels that ran, `file:entry` */
  kernels: string[];
}

export interface IterationResult {
  batch: number;
  msPerIter: number;
  imagesPerSecond: number;
  /** GPU time of all the profiled passes per iteration (null without timestamps) */
  gpuMsPerIter: number | null;
  dispatchesPerIter: number;
  /** share of the GPU time (or of the dispatches, without timestamps) per kernel, largest first */
  topKernels: { kernel: string; share: number; msPerIter: number; countPerIter: number }[];
  /** bytes of GPU buffers the engine allocated for this run (model, optimizer state, activations) */
  bytesAllocated: number;
  /** what one more steady-state step cost in submits, read-backs and newly created buffers and bind groups */
  perStep: GpuCounters;
  /**
   * CPU time to record and submit one step (the synchronous part of GanTraining.step), the median over
   * every unprofiled step of the run recorded with none in flight (watchRecordTimes): on a real
   * GPU a step can take no less, since recording does not overlap the GPU's work of the same step
   */
  recordMs: number;
  /** the fastest of those records, and how many there were (every step of the run recorded with none in flight) */
  recordMinMs?: number;
  recordSamples?: number;
  /**
   * wall ms per step in the steady state with pipelining (src/train/loop.ts's default: step i+1 is
   * submitted before step i's statistics are back), beside msPerIter where each step is awaited first
   */
  pipelinedMsPerIter: number;
  /** wall ms per step, each awaited before the next, timed in blocks alternating with pipelinedMsPerIter's */
  sequentialMsPerIter: number;
  /** what one pipelined steady-state step cost, averaged over the timed steps */
  pipelinedPerStep: GpuCounters;
  /** GFLOP (2 · multiply-adds) of the conv passes one step runs (stepConvMacs, src/train/gan.ts) */
  convGflopPerIter: number;
}

export interface PeerResult {
  batch: number;
  peer: string;
  /** TF.js ms per iteration, null when it could not run */
  peerMsPerIter: number | null;
  oursMsPerIter: number | null;
  /** ours / TF.js: below 1 means ours is faster */
  ratio: number | null;
  error: string | null;
}

/** One conv pass with the tuner's plan against the heuristic's, timed in alternating runs. */
export interface TunedPassResult {
  batch: number;
  layer: string;
  pass: Pass;
  heuristic: string;
  heuristicMs: number;
  tuned: string;
  tunedMs: number;
}

/** One batchnorm layer of the model, training forward then backward, with one kernel version. */
export interface BatchnormResult {
  batch: number;
  /** e.g. "D.main.3 BatchNorm2d [64,128,16,16] + LeakyReLU" */
  layer: string;
  variant: BatchNormVariant;
  ms: number;
  gpuMs: number | null;
  wallMs: number;
  /** 20 bytes an element: the forward reads x and writes y, the backward reads x and dy and writes dx */
  gbps: number;
  ofCopy: number | null;
  kernels: string[];
}

/** The metrics section: what training runs besides the step (null fields: not measured). */
export interface MetricsResult {
  /** one moving_average dispatch over G's parameter arena (GeneratorAverage.update, src/train/ema.ts) */
  movingAverage: { parameters: number; ms: number; gpuMs: number | null; wallMs: number; gbps: number; ofCopy: number | null };
  /** one SWD of `images` against `images` at `size` px (SwdEvaluator's work of an epoch end, photos already drawn) */
  swd: { images: number; size: number; seconds: number };
}

export interface TuningResult extends TuneOutcome {
  batch: number;
}

export interface BenchResult {
  adapter: string;
  timestamps: boolean;
  date: string;
  environment: string;
  options: BenchOptions;
  ceilings: Ceilings | null;
  layers: LayerResult[];
  iterations: IterationResult[];
  peer: PeerResult[];
  /** per batch: what tuning the conv plans cost and changed (absent in older JSON, empty with --tune off) */
  tuning?: TuningResult[];
  tunedPasses?: TunedPassResult[];
  /** absent in older JSON */
  batchnorms?: BatchnormResult[];
  /** absent in older JSON; null without the metrics section */
  metrics?: MetricsResult | null;
}

const modelConfig = (o: BenchOptions): DcganConfig => ({ imageSize: o.imageSize, nz: o.nz, ngf: o.ngf, ndf: o.ndf, nc: 3 });

/** The versions src/kernels/conv.ts can be forced to use (its `variant` argument); 'auto' picks one per shape. */
export const CONV_VARIANTS: conv.ConvVariant[] = ['simple', 'fast'];

/** A --variants entry as the launchers take it: a version, or the plan it names; null for neither. */
export function convVariantOf(text: string): conv.ConvVariant | conv.ConvPlan | null {
  return CONV_VARIANTS.includes(text as conv.ConvVariant) ? (text as conv.ConvVariant) : conv.parsePlan(text);
}

/** The three passes of one layer through the launchers of src/kernels/conv.ts; no variant = the launcher's own choice. */
function passes(l: ConvLayerShape, x: Tensor, w: Tensor, dy: Tensor, variant?: conv.ConvVariant | conv.ConvPlan): [Pass, () => void][] {
  const o = l.options;
  if (l.transposed) {
    return [
      ['forward', () => void conv.convTranspose2dForward(x, w, null, o, variant)],
      ['input grad', () => void conv.convTranspose2dBackwardInput(dy, w, l.x, o, variant)],
      ['weight grad', () => void conv.convTranspose2dBackwardWeight(x, dy, l.w, o, variant)],
    ];
  }
  return [
    ['forward', () => void conv.conv2dForward(x, w, null, o, variant)],
    ['input grad', () => void conv.conv2dBackwardInput(dy, w, l.x, o, variant)],
    ['weight grad', () => void conv.conv2dBackwardWeight(x, dy, l.w, o, variant)],
  ];
}

/** The kernels one untimed call dispatches (profiler counts only): tells which variant 'auto' picks. */
async function kernelsOf(record: () => void): Promise<string> {
  profiler.enable();
  try {
    tidy(record);
    return (await profiler.read()).map((k) => k.kernel).sort().join(',');
  } finally {
    profiler.disable();
    profiler.reset();
  }
}

async function benchLayers(o: BenchOptions, batch: number, ceilings: Ceilings | null, log: (s: string) => void): Promise<LayerResult[]> {
  const results: LayerResult[] = [];
  const all = convLayerShapes(modelConfig(o), batch);
  const ids = all.map((l) => l.name.split(' ')[0]);  // "G.main.3 ConvT 512→256 4→8" → "G.main.3"
  const unknown = o.layers.filter((id) => !ids.includes(id));
  if (unknown.length) throw new Error(`--layers: no conv layer ${unknown.join(', ')} in this model (choose from ${ids.join(', ')})`);
  const chosen = all.filter((_, i) => !o.layers.length || o.layers.includes(ids[i]));
  for (const l of chosen) {
    const x = randomNormal(l.x, 0, 1, 11);
    const w = randomNormal(l.w, 0, 0.02, 12);
    const dy = randomNormal(l.y, 0, 1, 13);
    const bytes = 4 * (sizeOf(l.x) + sizeOf(l.w) + sizeOf(l.y)); // each pass reads two of these and writes the third
    const autoKernels: string[] = [];
    for (const [, record] of passes(l, x, w, dy)) autoKernels.push(await kernelsOf(record)); // one at a time: one profiler
    // the layer's passes in conv geometry (src/model/conv-layers.ts), in the order of passes(): a transposed
    // conv's forward is the conv's input gradient and its input gradient the conv's forward
    const [cForward, cInput, cWeight] = convPassShapes(l);
    const shapes = l.transposed ? [cInput, cForward, cWeight] : [cForward, cInput, cWeight];
    for (const variant of o.variants) {
      const forced = convVariantOf(variant);
      if (!forced) throw new Error(`--variants: unknown conv version '${variant}'`);
      for (const [index, [pass, record]] of passes(l, x, w, dy, forced).entries()) {
        if (typeof forced === 'object' && !isValidPlan(shapes[index], forced)) {
          log(`  batch ${batch} ${l.name} ${pass} [${variant}]: cannot run this pass, skipped`);
          continue;
        }
        const t = await timeDispatches(() => tidy(record), o.repeat);
        const kernels = [...new Set(t.kernels.map((k) => k.kernel))].sort();
        const gflops = (2 * l.macs) / (t.ms * 1e6);
        const gbps = bytes / (t.ms * 1e6);
        results.push({
          batch, layer: l.name, pass, variant, auto: kernels.join(',') === autoKernels[index], ms: t.ms, gpuMs: t.gpuMs, wallMs: t.wallMs, gflops, gbps,
          ofSgemm: ceilings ? gflops / ceilings.sgemm.gflops : null,
          ofCopy: ceilings ? gbps / ceilings.copy.gbps : null,
          kernels,
        });
        log(`  batch ${batch} ${l.name} ${pass} [${variant}]: ${t.ms.toFixed(3)} ms, ${gflops.toFixed(2)} GFLOP/s`);
      }
    }
    for (const t of [x, w, dy]) t.dispose();
  }
  return results;
}

const PASS_NAMES: Pass[] = ['forward', 'input grad', 'weight grad'];

/**
 * Each pass of the chosen layers whose tuned plan differs from the heuristic's, both timed in alternating
 * runs (heuristic, tuned, heuristic, ... three pairs; the medians): the gain of tuning, pass by pass.
 */
async function benchTunedPasses(o: BenchOptions, batch: number, log: (s: string) => void): Promise<TunedPassResult[]> {
  const results: TunedPassResult[] = [];
  const chosen = convLayerShapes(modelConfig(o), batch).filter((l) => !o.layers.length || o.layers.includes(l.name.split(' ')[0]));
  for (const l of chosen) {
    const x = randomNormal(l.x, 0, 1, 11), w = randomNormal(l.w, 0, 0.02, 12), dy = randomNormal(l.y, 0, 1, 13);
    // conv geometry: a transposed conv's output is the conv's input (src/model/conv-layers.ts)
    const operands = l.transposed ? { x: dy, w, dy: x, bias: null } : { x, w, dy, bias: null };
    for (const [index, p] of convPassShapes(l).entries()) {
      const heuristic = conv.heuristicPlan(p);
      const tuned = conv.tunedPlan(p);
      if (!tuned || conv.planText(tuned) === conv.planText(heuristic)) continue;
      const times: [number[], number[]] = [[], []];
      for (let round = 0; round < 3; round++) {
        for (const [k, plan] of [heuristic, tuned].entries()) {
          times[k].push((await timeDispatches(() => void tidy(() => conv.runConvPass(p, plan, operands)), o.repeat)).ms);
        }
      }
      const [heuristicMs, tunedMs] = times.map((t) => t.sort((a, b) => a - b)[1]);
      // conv geometry's forward and input gradient are a transposed conv's input gradient and forward
      const pass = l.transposed && index < 2 ? PASS_NAMES[1 - index] : PASS_NAMES[index];
      const row = { batch, layer: l.name, pass, heuristic: conv.planText(heuristic), heuristicMs, tuned: conv.planText(tuned), tunedMs };
      results.push(row);
      log(`  batch ${batch} ${l.name} ${row.pass}: heuristic ${row.heuristic} ${heuristicMs.toFixed(3)} ms, tuned ${row.tuned} ${tunedMs.toFixed(3)} ms`);
    }
    for (const t of [x, w, dy]) t.dispose();
  }
  return results;
}

/**
 * Every BatchNorm2d of the model at this batch (from the shape-only walk), its training forward and
 * backward timed with each version: the simple kernel (one thread per channel; the activation after it is
 * not in the time) and the fast one with that activation fused in, as training runs them.
 */
async function benchBatchnorms(o: BenchOptions, batch: number, ceilings: Ceilings | null, log: (s: string) => void): Promise<BatchnormResult[]> {
  const results: BatchnormResult[] = [];
  for (const { tag, layers } of networkShapes(modelConfig(o), batch)) {
    for (const [i, l] of layers.entries()) {
      if (l.spec.kind !== 'BatchNorm2d') continue;
      const after = layers[i + 1]?.spec;
      const slope = after?.kind === 'LeakyReLU' ? after.slope : after?.kind === 'ReLU' ? 0 : 1;
      const channels = [l.x[1]];
      const x = randomNormal(l.x, 0, 1, 21), dy = randomNormal(l.x, 0, 1, 22), gamma = randomNormal(channels, 1, 0.02, 23);
      const beta = randomNormal(channels, 0, 0.02, 24), runningMean = fill(channels, 0), runningVar = fill(channels, 1);
      for (const variant of ['simple', 'fast'] as const) {
        const fused = variant === 'fast' ? slope : 1;
        const t = await timeDispatches(() => void tidy(() => {
          const f = batchNormTrainForward(x, gamma, beta, runningMean, runningVar, undefined, fused, variant);
          batchNormBackward(x, dy, gamma, f.mean, f.invStd, { output: f.y, slope: fused }, variant);
        }), o.repeat);
        const gbps = (20 * sizeOf(l.x)) / (t.ms * 1e6);
        const name = `${tag}.${l.key} BatchNorm2d [${l.x}]${slope === 1 ? '' : slope === 0 ? ' + ReLU' : ' + LeakyReLU'}`;
        results.push({
          batch, layer: name, variant, ms: t.ms, gpuMs: t.gpuMs, wallMs: t.wallMs, gbps, ofCopy: ceilings ? gbps / ceilings.copy.gbps : null,
          kernels: [...new Set(t.kernels.map((k) => k.kernel))].sort(),
        });
        log(`  batch ${batch} ${name} [${variant}]: ${t.ms.toFixed(3)} ms, ${gbps.toFixed(2)} GB/s`);
      }
      for (const t of [x, dy, gamma, beta, runningMean, runningVar]) t.dispose();
    }
  }
  return results;
}

/**
 * The moving average's update, timed like a conv pass (it reads G's and the average's parameters and writes
 * the average: 12 bytes a parameter), and one SWD of the trainer at this model's image size, timed once
 * after a small untimed one that compiles its pipelines (it runs once an epoch; wall time: it sorts on the CPU).
 */
async function benchMetrics(o: BenchOptions, ceilings: Ceilings | null, log: (s: string) => void): Promise<MetricsResult> {
  const seeds = seedStream(1);
  const generator = new Generator(modelConfig(o), seeds), average = new Generator(modelConfig(o), seeds);
  const [value, into] = [generator.parameterArena!.whole, average.parameterArena!.whole];
  const t = await timeDispatches(() => movingAverageInto(into, value, 0.999), o.repeat);
  generator.dispose();
  average.dispose();
  const gbps = (12 * value.size) / (t.ms * 1e6);
  const movingAverage = { parameters: value.size, ms: t.ms, gpuMs: t.gpuMs, wallMs: t.wallMs, gbps, ofCopy: ceilings ? gbps / ceilings.copy.gbps : null };
  log(`  moving_average of ${value.size} parameters: ${t.ms.toFixed(3)} ms, ${gbps.toFixed(2)} GB/s`);
  const images = o.swdImages ?? SWD_IMAGES, size = o.imageSize;
  const set = (count: number, seed: number) => ({ pixels: syntheticImages(count * 3 * size * size, seed), count });
  await slicedWassersteinDistanceGpu(set(8, 1), set(8, 2), size, 1);
  const [a, b] = [set(images, 1), set(images, 2)];
  const started = performance.now();
  await slicedWassersteinDistanceGpu(a, b, size, 1);
  const swd = { images, size, seconds: (performance.now() - started) / 1000 };
  log(`  SWD of ${images} against ${images} images of ${size} px: ${swd.seconds.toFixed(1)} s`);
  return { movingAverage, swd };
}

/** Destroy the pooled free buffers so the next section's allocation count starts from zero. */
async function drainPool(): Promise<void> {
  await sync();
  const c = gpu();
  for (const [size, list] of c.freeBuffers) {
    for (const b of list) {
      b.destroy();
      c.bytesAllocated -= size;
    }
  }
  c.freeBuffers.clear();
}

function countersDelta(before: GpuCounters, after: GpuCounters): GpuCounters {
  return {
    submits: after.submits - before.submits,
    readBacks: after.readBacks - before.readBacks,
    buffersCreated: after.buffersCreated - before.buffersCreated,
    bindGroupsCreated: after.bindGroupsCreated - before.bindGroupsCreated,
  };
}

/** A synthetic batch of images in [−1, 1]: neither the iteration's cost nor the SWD's depends on the pixels. */
function syntheticImages(n: number, seed = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin((i + seed * 7919) * 12.9898) * 0.9;
  return out;
}

async function benchIteration(o: BenchOptions, batch: number, log: (s: string) => void): Promise<IterationResult> {
  await drainPool();
  const before = gpu().bytesAllocated;
  const training = new GanTraining({ model: modelConfig(o), batchSize: batch, lr: 2e-4, beta1: 0.5, seed: 1 }, 1);
  const images = syntheticImages(batch * 3 * o.imageSize ** 2);
  await training.step(images); // the second warm-up (timeDispatches does one more) reaches the steady state
  const t = await timeDispatches(async () => void (await training.step(images)), o.repeat);
  const recordTimes = watchRecordTimes(training); // from here on: no profiler, whose timestamps cost record time
  const bytesAllocated = gpu().bytesAllocated - before;
  const countersBefore = { ...gpu().counters };
  await training.step(images);
  const perStep = countersDelta(countersBefore, gpu().counters);
  for (let i = 0; i < Math.max(3, o.repeat); i++) await training.step(images); // more record samples
  const pipelined = await timePipelined(training, images, o.repeat);
  recordTimes.sort((a, b) => a - b);
  const recordMs = recordTimes[recordTimes.length >> 1];
  training.dispose();
  await drainPool();
  const kernels = byKernel(t.kernels);
  const total = profiler.hasTimestamps ? kernels.reduce((s, k) => s + k.totalMs, 0) : kernels.reduce((s, k) => s + k.count, 0);
  const topKernels = kernels.map((k) => ({
    kernel: k.kernel,
    share: (profiler.hasTimestamps ? k.totalMs : k.count) / total,
    msPerIter: k.totalMs / o.repeat,
    countPerIter: k.count / o.repeat,
  }));
  const result: IterationResult = {
    batch, msPerIter: t.wallMs, imagesPerSecond: batch / (t.wallMs / 1000), gpuMsPerIter: t.gpuMs,
    dispatchesPerIter: t.dispatches, topKernels, bytesAllocated, perStep, recordMs, recordMinMs: recordTimes[0], recordSamples: recordTimes.length,
    pipelinedMsPerIter: pipelined.ms, sequentialMsPerIter: pipelined.sequentialMs, pipelinedPerStep: pipelined.perStep,
    convGflopPerIter: (2 * stepConvMacs(convLayerShapes(modelConfig(o), batch))) / 1e9,
  };
  log(`  batch ${batch} iteration: ${t.wallMs.toFixed(1)} ms/iter, pipelined ${pipelined.ms.toFixed(1)} vs ${pipelined.sequentialMs.toFixed(1)} ms/iter, ${result.imagesPerSecond.toFixed(1)} images/s`);
  return result;
}

/**
 * From now on, the CPU ms of every submitStep of `training` called with no step in flight (the GPU idle):
 * the synchronous part, recording and submitting. Steps recorded while the previous one runs are left
 * out: on a CPU adapter they share the cores with its kernels.
 */
function watchRecordTimes(training: GanTraining): number[] {
  const times: number[] = [];
  let inFlight = 0;
  const submit = training.submitStep.bind(training);
  training.submitStep = (realImages: Float32Array) => {
    const idle = inFlight === 0;
    const started = performance.now();
    const step = submit(realImages);
    if (idle) times.push(performance.now() - started);
    inFlight++;
    void step.stats.finally(() => inFlight--).catch(() => undefined);
    return step;
  };
  return times;
}

/**
 * Steps as runTraining runs them by default: each submitted before the previous step's statistics are
 * back, at most one in flight; against steps each awaited before the next. The two are timed in
 * alternating blocks of `repeat` steps (three of each, medians), so a machine whose load drifts (a
 * shared CPU adapter) shifts both alike. After a pipelined warm-up, which creates the second read-back
 * and upload buffers two steps in flight need; the counters are per pipelined step.
 */
async function timePipelined(training: GanTraining, images: Float32Array, repeat: number): Promise<{ ms: number; sequentialMs: number; perStep: GpuCounters }> {
  const pipelinedSteps = () => training.pipelinedSteps(images, repeat);
  const sequentialSteps = async () => {
    for (let i = 0; i < repeat; i++) await training.step(images);
  };
  const msPerStep = async (steps: () => Promise<void>) => {
    const started = performance.now();
    await steps();
    return (performance.now() - started) / repeat;
  };
  await pipelinedSteps();
  await sync();
  const pipelined: number[] = [];
  const sequential: number[] = [];
  const counted: GpuCounters = { submits: 0, readBacks: 0, buffersCreated: 0, bindGroupsCreated: 0 };
  for (let round = 0; round < 3; round++) {
    sequential.push(await msPerStep(sequentialSteps));
    const start = { ...gpu().counters };
    pipelined.push(await msPerStep(pipelinedSteps));
    const d = countersDelta(start, gpu().counters);
    for (const k of Object.keys(counted) as (keyof GpuCounters)[]) counted[k] += d[k];
  }
  const median = (v: number[]) => v.sort((a, b) => a - b)[v.length >> 1];
  const perStep = Object.fromEntries(Object.entries(counted).map(([k, v]) => [k, v / (3 * repeat)])) as unknown as GpuCounters;
  return { ms: median(pipelined), sequentialMs: median(sequential), perStep };
}

async function benchPeer(o: BenchOptions, batch: number, ours: IterationResult | undefined, log: (s: string) => void): Promise<PeerResult> {
  const oursMs = ours?.msPerIter ?? null;
  try {
    const { runTfjsIteration } = await import('./peer-tfjs.ts');
    const peer = await runTfjsIteration(modelConfig(o), batch, o.peerRepeat, log);
    return { batch, peer: peer.name, peerMsPerIter: peer.msPerIter, oursMsPerIter: oursMs, ratio: oursMs === null ? null : oursMs / peer.msPerIter, error: null };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    log(`  batch ${batch} TF.js peer failed: ${error}`);
    return { batch, peer: 'TF.js webgpu', peerMsPerIter: null, oursMsPerIter: oursMs, ratio: null, error };
  }
}

/**
 * The sections of `options`. `tuning` is the adapter (for the kept choices' key) and where the tuner keeps
 * its choices (a file in Node, browser storage in the page); without it --tune runs but keeps nothing.
 */
export async function runBench(options: BenchOptions, adapter: string, environment: string, log: (s: string) => void = () => undefined,
  tuning: { adapter: AdapterDescription; store: TuningStore | null } | null = null): Promise<BenchResult> {
  const o = options;
  const has = (s: Section) => o.sections.includes(s);
  const result: BenchResult = {
    adapter, timestamps: profiler.hasTimestamps, date: new Date().toISOString(), environment, options: o,
    ceilings: null, layers: [], iterations: [], peer: [], tuning: [], tunedPasses: [], batchnorms: [], metrics: null,
  };
  const tune = kernelSet() === 'simple' ? 'off' : (o.tune ?? 'off');  // the simple kernel set has no plans to choose
  useKernelSet(o.kernelSet ?? 'fast'); // before any kernel runs
  log(`${adapter}; GPU timestamps: ${result.timestamps ? 'yes' : 'no (wall time instead)'}; kernel set: ${kernelSet()}`);
  if (has('ceilings')) {
    log('ceilings…');
    result.ceilings = await measureCeilings(o.sgemmSize, o.copyMegabytes, o.repeat);
    log(`  sgemm ${o.sgemmSize}: ${result.ceilings.sgemm.gflops.toFixed(2)} GFLOP/s; copy ${o.copyMegabytes} MB: ${result.ceilings.copy.gbps.toFixed(2)} GB/s`);
  }
  for (const batch of o.batches) {
    if (tune !== 'off' && (has('conv') || has('iteration'))) {
      log(`tuning the conv plans, batch ${batch} (--tune ${tune})…`);
      const config = modelConfig(o);
      const passes = convLayerShapes(config, batch).flatMap(convPassShapes);
      const adapterInfo = tuning?.adapter ?? { vendor: adapter, architecture: '', device: '', description: '', software: false };
      const outcome = await tuneConvPlans(passes, { mode: tune, adapter: adapterInfo, store: tuning?.store ?? null, log, budgetSeconds: o.tuneBudget });
      log(`  ${outcome.summary}`);
      result.tuning!.push({ batch, ...outcome });
    }
    if (has('conv')) {
      log(`conv layers, batch ${batch}…`);
      result.layers.push(...(await benchLayers(o, batch, result.ceilings, log)));
      if (tune !== 'off') result.tunedPasses!.push(...(await benchTunedPasses(o, batch, log)));
    }
    if (has('batchnorm')) {
      log(`batchnorm layers, batch ${batch}…`);
      result.batchnorms!.push(...(await benchBatchnorms(o, batch, result.ceilings, log)));
    }
    let iteration: IterationResult | undefined;
    if (has('iteration') || has('peer')) {
      log(`training iteration, batch ${batch}…`);
      iteration = await benchIteration(o, batch, log);
      result.iterations.push(iteration);
    }
    if (has('peer')) {
      log(`TF.js peer, batch ${batch}…`);
      result.peer.push(await benchPeer(o, batch, iteration, log));
    }
  }
  if (has('metrics')) {
    log('metrics (moving average, SWD)…');
    result.metrics = await benchMetrics(o, result.ceilings, log);
  }
  await drainPool();
  return result;
}
