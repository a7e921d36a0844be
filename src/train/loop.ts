// The training loop, once, for both hosts: the Node trainer (files on disk, a progress bar) and the
// browser page (a server or in-page data, a dashboard). Everything a host does differently goes through
// TrainingHost; the order of events is the loop's alone:
//   for each remaining (epoch, batch): fetch batch → submit the step → the previous step's statistics
//     → its log line → progress → guard
//     → samples every `sampleEvery` iterations
//     → on stop / at maxIters: checkpoint + 'latest' samples, return
//     → a checkpoint every `checkpointEveryMs` (and one the epoch end had to defer)
//   end of each epoch: samples 'epoch-NNN' → the host's evaluation (SWD x 1e3 against held-out photos: an 'eval'
//     log line) → checkpoint (kept as 'epoch-NNN' too with keepEpochs, and as the best when its SWD is the lowest
//     yet) → 'epoch' log line
// Pipelined steps: step i+1 is fetched, recorded and submitted before step i's six statistics are back,
// so the GPU runs i+1 while they travel and the CPU logs them (instead of idling between steps). At most
// one step is in flight; the statistics are handled in order as they arrive (log line, progress, guard).
// Everything that needs the GPU state step i left — samples, encoding a checkpoint, a stop, maxIters,
// the epoch end, the host's pause or its own GPU work (wantsBoundary) — happens at a step boundary
// with nothing in flight: when one of them is due after step i (the iteration counts, the checkpoint
// clock, a due checkpoint and shouldStop are known before i+1 is submitted), step i is settled first.
// A stop asked, or a divergence seen, while i+1 is already in flight takes effect after i+1, whose log
// line is written too: the weights never hold a step the log does not, the state saved is that of the
// last step logged, and a resumed run logs every iteration exactly once. (`pipelined: false` settles each
// step before the next is submitted.)
// A checkpoint is written only from a state the divergence guard trusts (guard.ts), and only once the
// iteration after it looked healthy too: a state's losses show in the *next* step (one step at --lr 1
// leaves losses that look fine and weights that are already ruined). So a due checkpoint is encoded
// (a snapshot of the GPU state, at a boundary), held, and written after one more healthy iteration, or
// dropped and taken again later if that iteration looks diverged. The file on disk always predates a
// collapse. At a stop or --max-iters the current state is written at once if the guard trusts it:
// stopping saves.
// No Node imports: the page runs this file unchanged.
import type { GanTraining, StepStats, SubmittedStep } from './gan.ts';
import { encodeCheckpoint, type TrainingPosition } from './checkpoint.ts';
import { DivergenceError, DivergenceGuard } from './guard.ts';
import { imageGrid, type RgbaImage } from './images.ts';
import type { SwdResult } from '../reference/swd.ts';
import { formatTrace, startTrace, stopTrace } from '../gpu/trace.ts';
import { kernelSet } from '../kernels/kernel-set.ts';

/** What the host's evaluation measured at an epoch's end: SWD x 1e3 of generated images against held-out photos. */
export interface Evaluation extends SwdResult {
  /** images in each set */
  images: number;
  seconds: number;
}

export interface IterationReport {
  /** 1-based, as logged */
  epoch: number;
  /** 1-based batch of the epoch, as logged */
  batch: number;
  batchesPerEpoch: number;
  iteration: number;
  stats: StepStats;
  /** images per second since this epoch (or this session of it) started, paused time excluded */
  imagesPerSecond: number;
}

export interface TrainingHost {
  /** Batch `index` of epoch `epoch` (0-based) as NCHW floats in [−1, 1]; fill `target` or return a new array. */
  batch(epoch: number, index: number, target: Float32Array): Promise<Float32Array>;
  /** One line of RUN/log.jsonl. */
  log(entry: Record<string, unknown>): void | Promise<void>;
  /** Keep a grid of the fixed-noise samples under `name` (e.g. 'epoch-001'); returns where it went (for the log). */
  saveSamples(name: string, grid: RgbaImage): Promise<string>;
  /**
   * Keep the checkpoint bytes as the latest (atomically: a crash never leaves a broken one); with `keepAs`
   * (e.g. 'epoch-005', under keepEpochs) keep a copy under that name as well.
   */
  saveCheckpoint(bytes: Uint8Array, position: TrainingPosition, keepAs?: string, best?: boolean): Promise<void>;
  /**
   * The sample quality of the current state, at each epoch's end (src/metrics/swd.ts); absent or null: none
   * (no photos held out). `best` marks the checkpoint of the epoch with the lowest SWD (`best` of saveCheckpoint).
   */
  evaluate?(): Promise<Evaluation | null>;
  onEvaluation?(epoch: number, evaluation: Evaluation, best: boolean): void;
  /** Where the last good checkpoint is, for the message of a diverged run; null when there is none yet. */
  keptCheckpoint(): string | null;
  /** true asks the loop to stop after the current iteration, with a checkpoint (Ctrl-C, the page's stop button). */
  shouldStop(): boolean;
  /** Awaited before each iteration: a page holds it while paused. Time spent here is not counted in images/s. */
  whilePaused?(): Promise<void>;
  /**
   * true when the next whilePaused call needs the GPU idle at a step boundary (a pause, GPU work of the
   * host's own such as a checkpoint download): the step in flight is settled first. Asked before each step.
   */
  wantsBoundary?(): boolean;
  onEpochStart?(epoch: number, startIndex: number, batchesPerEpoch: number): void;
  onIteration?(report: IterationReport): void;
  onEpochEnd?(epoch: number): void;
  /** With LoopOptions.traceKernels: the kernel trace of this start's first step, as text (src/gpu/trace.ts). */
  onKernelTrace?(trace: string): void | Promise<void>;
}

interface LoopOptions {
  epochs: number;
  /** stop with a checkpoint once this many iterations are done in total (Infinity: no limit) */
  maxIters: number;
  sampleEvery: number;
  patience: number;
  batchesPerEpoch: number;
  /** where to continue: (0, 0) for a fresh run, the checkpoint's position on resume */
  position: TrainingPosition;
  /** a checkpoint at least this often, besides the epoch ends (default Infinity: epoch ends only) */
  checkpointEveryMs?: number;
  /** keep each epoch's checkpoint under its own name too ('epoch-NNN'), not only the latest */
  keepEpochs?: boolean;
  /**
   * the command to run after a divergence, given the learning rate to try and whether a checkpoint is kept
   * to resume from (for the guard's message)
   */
  retryCommand?: (lr: number, resumable: boolean) => string;
  /**
   * submit each step before the previous one's statistics are back (default true); false waits for them
   * first, as a loop without pipelining would (the tests compare the two)
   */
  pipelined?: boolean;
  /** the lowest SWD of the run so far (a resume: from its log), so a later epoch is kept as the best only if lower */
  bestSwd?: number;
  /** write down every dispatch of this start's first step, with its layer and plan, for host.onKernelTrace */
  traceKernels?: boolean;
}

/** A step submitted whose statistics the loop has not handled yet, and where it is in the data. */
interface Pending {
  step: SubmittedStep;
  epoch: number;
  index: number;
  /** images of this epoch (or this session of it) up to and including this step, for images/s */
  images: number;
}

export interface LoopOutcome {
  /** 'done': all epochs; 'max-iters': reached maxIters; 'stopped': shouldStop() said so */
  reason: 'done' | 'max-iters' | 'stopped';
  iteration: number;
  position: TrainingPosition;
  /** where the last sample grid went */
  samples: string | null;
  /** the iteration of the newest checkpoint this call wrote; null when it wrote none */
  checkpointIteration: number | null;
  /**
   * why the state at the end was not checkpointed: 'untrusted' (recent iterations looked diverged, so the
   * older checkpoint is kept), 'not-started' (stopped before any iteration); null when it was saved
   */
  unsaved: 'untrusted' | 'not-started' | null;
}

/** NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity": JSON would turn them into null. */
export function loggable(entry: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry)) out[k] = typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
  return out;
}

/** One line of numbers, as the Node progress bar and the page's status line show them. */
export const formatStats = (s: StepStats): string =>
  `Loss_D ${s.lossD.toFixed(4)} Loss_G ${s.lossG.toFixed(4)} D(x) ${s.dReal.toFixed(4)} D(G(z)) ${s.dFakeBefore.toFixed(4)}/${s.dFakeAfter.toFixed(4)}`;

/** The fixed-noise samples as one RGBA grid (8×8 for the 64 samples). */
/** The first lines of a kernel trace: which step, of which model, with which kernels. */
function traceHeading(training: GanTraining): string {
  const { model, batchSize } = training.config;
  return `kernel trace of iteration ${training.iteration} (${model.imageSize}x${model.imageSize}, ngf ${model.ngf}, ndf ${model.ndf}, ` +
    `batch ${batchSize}, G ${model.gUpsample ?? 'transposed'}, the ${kernelSet()} kernel set): each scope the step recorded ` +
    'work in, then the kernels it dispatched there, with their workgroup grids\n';
}

export async function sampleGrid(training: GanTraining): Promise<RgbaImage> {
  const pixels = await training.sample();
  return imageGrid(pixels, training.fixedNoise.shape[0], training.config.model.nc, training.config.model.imageSize);
}

export async function runTraining(training: GanTraining, host: TrainingHost, options: LoopOptions): Promise<LoopOutcome> {
  const { epochs, maxIters, sampleEvery, patience, batchesPerEpoch: perEpoch, checkpointEveryMs = Infinity, keepEpochs = false, pipelined = true } = options;
  const { batchSize, model } = training.config;
  const retry = options.retryCommand;
  const guard = new DivergenceGuard(training.config.lr, patience, retry && ((lr) => retry(lr, host.keptCheckpoint() !== null)));
  let position = options.position;
  if (position.batchInEpoch >= perEpoch) position = { epoch: position.epoch + 1, batchInEpoch: 0 };
  const batch = new Float32Array(batchSize * model.nc * model.imageSize ** 2);
  let samples: string | null = null;
  let checkpointIteration: number | null = null;
  let lastCheckpoint = performance.now();
  /** when this epoch (or this session of it) started, paused time excluded: for images/s */
  let started = 0;
  /** a checkpoint that is due but not yet taken, because the guard does not trust the state */
  let due = null as { keepAs?: string; best?: boolean } | null;
  /** a due state, encoded, waiting for one more healthy iteration to confirm it */
  let held = null as { bytes: Uint8Array; at: TrainingPosition; iteration: number; keepAs?: string; best?: boolean } | null;
  let bestSwd = options.bestSwd ?? Infinity;
  const startIteration = training.iteration;
  const outcome = (reason: LoopOutcome['reason'], at: TrainingPosition, unsaved: LoopOutcome['unsaved'] = null): LoopOutcome =>
    ({ reason, iteration: training.iteration, position: at, samples, checkpointIteration, unsaved });
  const saveSamples = async (name: string) => (samples = await host.saveSamples(name, await sampleGrid(training)));
  const write = async (bytes: Uint8Array, at: TrainingPosition, iteration: number, keepAs?: string, best?: boolean) => {
    await host.saveCheckpoint(bytes, at, keepAs, best);
    checkpointIteration = iteration;
    lastCheckpoint = performance.now();
  };
  const writeHeld = async () => {
    const h = held;
    held = null;
    if (h) await write(h.bytes, h.at, h.iteration, h.keepAs, h.best);
  };
  /** Snapshot the current state to be written after the next iteration, if the guard trusts it; else keep it due. */
  const hold = async (at: TrainingPosition, keepAs?: string, best?: boolean) => {
    held = guard.trusted ? { bytes: await encodeCheckpoint(training, at), at, iteration: training.iteration, keepAs, best } : null;
    due = held ? null : { keepAs, best };
  };
  /** Checkpoint the current state now (a stop, the end), if the guard trusts it; false when it does not. */
  const saveNow = async (at: TrainingPosition, keepAs?: string, best?: boolean): Promise<boolean> => {
    held = null;
    due = guard.trusted ? null : { keepAs, best };
    if (due) return false;
    await write(await encodeCheckpoint(training, at), at, training.iteration, keepAs, best);
    return true;
  };
  /**
   * After each checked iteration: it confirms the held state (or, looking diverged, drops it), then a due
   * checkpoint is held, which encodes the GPU state: only at a boundary (`idle`), else it stays due for the next.
   */
  const afterIteration = async (at: TrainingPosition, idle: boolean) => {
    if (held && guard.trusted) await writeHeld(); // bytes encoded earlier: the step in flight does not matter
    else if (held) [held, due] = [null, {}]; // that state led to a diverged-looking step: take a later one
    if (!idle) return;
    if (!due && performance.now() - lastCheckpoint >= checkpointEveryMs) due = {};
    if (due && guard.trusted) await hold(at, due.keepAs, due.best);
  };
  /** Whether something after step `p` needs the GPU state it leaves: then `p` is settled before the next is submitted. */
  const boundaryAfter = (p: Pending): boolean =>
    !pipelined || p.step.iteration % sampleEvery === 0 || p.step.iteration >= maxIters || host.shouldStop() ||
    (host.wantsBoundary?.() ?? false) || due !== null || performance.now() - lastCheckpoint >= checkpointEveryMs;
  /** Step `p`'s statistics, once in: its log line and progress. */
  const report = async ({ step, epoch, index, images }: Pending): Promise<StepStats> => {
    const stats = await step.stats;
    const imagesPerSecond = images / ((performance.now() - started) / 1000);
    await host.log(loggable({ epoch: epoch + 1, batch: index + 1, iteration: step.iteration, ...stats, imagesPerSecond }));
    host.onIteration?.({ epoch: epoch + 1, batch: index + 1, batchesPerEpoch: perEpoch, iteration: step.iteration, stats, imagesPerSecond });
    return stats;
  };
  /**
   * Step `p` done: report, guard, then (with nothing in flight: `next` null) what is due at its boundary:
   * samples, a stop or maxIters (the outcome, to return), checkpoints. `next` is the step in flight, if any.
   */
  const settle = async (p: Pending, next: Pending | null): Promise<LoopOutcome | null> => {
    const stats = await report(p);
    const { epoch, index, step: { iteration } } = p;
    try {
      guard.check(stats, iteration); // before any checkpoint of the bad state is written
    } catch (e) {
      // the step in flight has run too: its line goes in the log as well (nothing after it is submitted)
      if (next) await report(next).catch(() => undefined);
      host.onEpochEnd?.(epoch);
      const kept = host.keptCheckpoint();
      // the newest checkpoint is this call's, or (on a resume) the one it started from
      const keptIteration = checkpointIteration ?? startIteration;
      const where = kept ? `the last good checkpoint (iteration ${keptIteration}) is kept in ${kept}` : 'no checkpoint was written';
      throw new DivergenceError(`${(e as Error).message} Stopped; ${where}.`);
    }
    const at = { epoch, batchInEpoch: index + 1 };
    if (next) {
      // boundaryAfter(p) was false: no samples, stop or maxIters here; a stop asked since waits for `next`
      await afterIteration(at, false);
      return null;
    }
    if (iteration % sampleEvery === 0) await saveSamples(`iter-${String(iteration).padStart(6, '0')}`);
    const stop = host.shouldStop();
    if (stop || iteration >= maxIters) {
      host.onEpochEnd?.(epoch);
      if ((held?.keepAs || held?.best) && guard.trusted) await writeHeld(); // the epoch copy or best it holds
      const saved = await saveNow(at);
      await saveSamples('latest');
      return outcome(stop ? 'stopped' : 'max-iters', at, saved ? null : 'untrusted');
    }
    await afterIteration(at, true);
    return null;
  };

  if (training.iteration >= maxIters) {
    // nothing to do (a resume whose --max-iters is already reached): say so instead of training one more step
    return outcome('max-iters', position);
  }
  for (let epoch = position.epoch; epoch < epochs; epoch++) {
    const start = epoch === position.epoch ? position.batchInEpoch : 0;
    host.onEpochStart?.(epoch, start, perEpoch);
    started = performance.now();
    /** the previous step while its statistics are not handled yet */
    let inFlight: Pending | null = null;
    for (let index = start; index < perEpoch; index++) {
      if (inFlight && boundaryAfter(inFlight)) {
        const end = await settle(inFlight, null);
        inFlight = null;
        if (end) return end;
      }
      if (host.whilePaused) {
        const waitStarted = performance.now();
        await host.whilePaused();
        started += performance.now() - waitStarted;
      }
      if (training.iteration === startIteration && host.shouldStop()) {
        // asked to stop before the first step: nothing new to save
        host.onEpochEnd?.(epoch);
        return outcome('stopped', { epoch, batchInEpoch: index }, 'not-started');
      }
      const real = await host.batch(epoch, index, batch); // while the previous step runs on the GPU
      const traceThis = options.traceKernels && training.iteration === startIteration;
      if (traceThis) startTrace();
      const submitted: Pending = { step: training.submitStep(real), epoch, index, images: (index - start + 1) * batchSize };
      if (traceThis) await host.onKernelTrace?.(traceHeading(training) + formatTrace(stopTrace()));
      if (inFlight) await settle(inFlight, submitted); // returns null: nothing ends with a step in flight
      inFlight = submitted;
    }
    if (inFlight) {
      const end = await settle(inFlight, null);
      if (end) return end;
    }
    host.onEpochEnd?.(epoch);
    const name = `epoch-${String(epoch + 1).padStart(3, '0')}`;
    const grid = await saveSamples(name);
    position = { epoch: epoch + 1, batchInEpoch: 0 };
    const keepAs = keepEpochs ? name : undefined;
    const evaluation = await host.evaluate?.();
    const best = evaluation ? evaluation.average < bestSwd : false;
    if (evaluation) {
      if (best) bestSwd = evaluation.average;
      const levels = Object.fromEntries(evaluation.levels.map((l) => [l.resolution, l.swd]));
      await host.log({ event: 'eval', epoch: epoch + 1, iteration: training.iteration, swd: evaluation.average, levels, images: evaluation.images, seconds: evaluation.seconds, best });
      host.onEvaluation?.(epoch, evaluation, best);
    }
    held = null; // the epoch's end is the same state, with the epoch's name
    if (epoch + 1 === epochs) await saveNow(position, keepAs, best); // the run's last state: no next iteration will confirm it
    else await hold(position, keepAs, best);
    await host.log({ event: 'epoch', epoch: epoch + 1, iteration: training.iteration, samples: grid });
  }
  return outcome('done', position, due ? 'untrusted' : null);
}
