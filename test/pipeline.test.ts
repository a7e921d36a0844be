// Pipelined steps (src/train/loop.ts): each step is submitted before the previous step's statistics are
// back, and still the run logs, samples, checkpoints, stops and resumes as a loop that waits for every
// step: what is saved is always the state after the last step logged, and nothing is in flight when
// the loop returns or throws. The loop runs here against a host in memory and a real GanTraining.
import { describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { gpu } from '../src/gpu/context.ts';
import { GanTraining, type SubmittedStep, type TrainingConfig } from '../src/train/gan.ts';
import { runTraining, type TrainingHost } from '../src/train/loop.ts';
import { decodeCheckpoint, restoreTraining, type TrainingPosition } from '../src/train/checkpoint.ts';
import { DivergenceError } from '../src/train/guard.ts';

useGpu();

const CONFIG: TrainingConfig = { model: { imageSize: 16, nz: 8, ngf: 4, ndf: 4, nc: 3 }, batchSize: 4, lr: 2e-4, beta1: 0.5, seed: 5 };
const PER_EPOCH = 6;

interface Run {
  training: GanTraining;
  host: TrainingHost;
  log: Record<string, unknown>[];
  checkpoints: { bytes: Uint8Array; position: TrainingPosition }[];
  samples: { name: string; pixels: Uint8Array }[];
  /** per submitted step: how many earlier steps the loop had not handled (logged) yet when it was submitted */
  inFlightAtSubmit: number[];
  /** per whilePaused call: the steps submitted and not handled */
  inFlightAtPause: number[];
  /** the steps submitted whose statistics are not back yet */
  unsettled: Set<Promise<unknown>>;
}

/**
 * A host in memory (seeded batches, the log, checkpoints) around a GanTraining whose submitStep is
 * watched. `stopAt` asks for a stop once that iteration is logged, `boundaryAt` asks for a boundary
 * (as the page's pause does) once it is logged, `nanAt` makes that iteration's Loss_D NaN.
 */
function watchedRun(options: { stopAt?: number; boundaryAt?: number; nanAt?: number; from?: Uint8Array } = {}): Run {
  const training = new GanTraining(CONFIG, 4);
  if (options.from) restoreTraining(training, decodeCheckpoint(options.from, 'checkpoint'));
  const run: Run = { training, host: null!, log: [], checkpoints: [], samples: [], inFlightAtSubmit: [], inFlightAtPause: [], unsettled: new Set() };
  let lastLogged = training.iteration;
  let stop = false;
  const submit = training.submitStep.bind(training);
  training.submitStep = (real: Float32Array): SubmittedStep => {
    // the loop logs each step as soon as it has its statistics: unlogged steps are those it has not awaited
    run.inFlightAtSubmit.push(training.iteration - lastLogged);
    const step = submit(real);
    const stats = step.iteration === options.nanAt ? step.stats.then((s) => ({ ...s, lossD: NaN })) : step.stats;
    run.unsettled.add(stats);
    void stats.then(() => run.unsettled.delete(stats));
    return { iteration: step.iteration, stats };
  };
  run.host = {
    batch: async (epoch, index, target) => target.map((_, i) => Math.sin(i * 0.37 + epoch * 7.1 + index * 1.3)),
    log: (entry) => {
      run.log.push(entry);
      if (!entry.event) lastLogged = entry.iteration as number;
      stop ||= lastLogged === options.stopAt;
    },
    saveSamples: async (name, grid) => {
      run.samples.push({ name, pixels: grid.data });
      return name;
    },
    saveCheckpoint: async (bytes, position) => void run.checkpoints.push({ bytes, position }),
    keptCheckpoint: () => (run.checkpoints.length ? 'memory' : null),
    shouldStop: () => stop,
    whilePaused: async () => void run.inFlightAtPause.push(training.iteration - lastLogged),
    wantsBoundary: () => lastLogged === options.boundaryAt,
  };
  return run;
}

const loopOptions = (o: { maxIters: number; sampleEvery?: number; pipelined?: boolean; position?: TrainingPosition }) => ({
  epochs: 5, patience: 50, batchesPerEpoch: PER_EPOCH, sampleEvery: Infinity, position: { epoch: 0, batchInEpoch: 0 }, ...o,
});

/** The log without the wall-clock figure. */
const lines = (run: Run) => run.log.map((e) => ({ ...e, imagesPerSecond: 0 }));
const iterations = (run: Run) => run.log.filter((e) => !e.event).map((e) => e.iteration);

describe('pipelined training steps', () => {
  it('submits each step before it has the previous step\'s statistics, except at boundaries', async () => {
    const run = watchedRun({ boundaryAt: 9 });
    await runTraining(run.training, run.host, loopOptions({ maxIters: 12 }));
    // the first step of each epoch starts from an idle GPU (the epoch end is a boundary), and so does the
    // step after the boundary the host asked for once iteration 9 was logged (then step 10 was in flight)
    expect(run.inFlightAtSubmit).toEqual([0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1]);
    expect(run.inFlightAtPause[10]).toBe(0); // the host's pause found the GPU idle
    expect(run.unsettled.size).toBe(0);
    expect(iterations(run)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    run.training.dispose();

    const sequential = watchedRun();
    await runTraining(sequential.training, sequential.host, loopOptions({ maxIters: 4, pipelined: false }));
    expect(sequential.inFlightAtSubmit).toEqual([0, 0, 0, 0]);
    sequential.training.dispose();
  });

  it('two steps in flight: still one submit and one read-back per step, and nothing created in the steady state', async () => {
    const training = new GanTraining(CONFIG, 4);
    const batch = new Float32Array(4 * 3 * 16 * 16).map((_, i) => Math.cos(i));
    const steps = (n: number) => training.pipelinedSteps(batch, n);
    await steps(5); // the pools settle: a second read-back and upload buffer for the step in flight
    const before = { ...gpu().counters };
    await steps(4);
    const after = gpu().counters;
    expect(after.submits - before.submits).toBe(4);
    expect(after.readBacks - before.readBacks).toBe(4);
    expect(after.buffersCreated - before.buffersCreated).toBe(0);
    expect(after.bindGroupsCreated - before.bindGroupsCreated).toBe(0);
    training.dispose();
  });

  it('logs, samples and checkpoints exactly as the loop that waits for each step', async () => {
    const runs = [true, false].map((pipelined) => ({ pipelined, run: watchedRun() }));
    const outcomes = [];
    for (const { pipelined, run } of runs) outcomes.push(await runTraining(run.training, run.host, loopOptions({ maxIters: 15, sampleEvery: 4, pipelined })));
    const [pipelined, sequential] = runs.map((r) => r.run);
    expect(lines(pipelined)).toEqual(lines(sequential)); // every loss of every iteration, bit for bit, and the sample names
    expect(pipelined.log.filter((e) => e.event === 'epoch').length).toBe(2);
    expect(pipelined.checkpoints.map((c) => c.position)).toEqual(sequential.checkpoints.map((c) => c.position));
    pipelined.checkpoints.forEach((c, i) => expect(c.bytes).toEqual(sequential.checkpoints[i].bytes));
    expect(pipelined.samples.map((g) => g.name)).toEqual(['iter-000004', 'epoch-001', 'iter-000008', 'iter-000012', 'epoch-002', 'latest']);
    expect(pipelined.samples).toEqual(sequential.samples); // drawn from the same states
    expect(outcomes[0]).toEqual(outcomes[1]);
    for (const r of runs) r.run.training.dispose();
  });

  it('a stop asked while the next step is in flight stops after it, saves it, and the resumed run continues bit for bit', async () => {
    const whole = watchedRun();
    await runTraining(whole.training, whole.host, loopOptions({ maxIters: 12 }));
    const stopped = watchedRun({ stopAt: 3 }); // asked while step 4 is in flight
    const outcome = await runTraining(stopped.training, stopped.host, loopOptions({ maxIters: 12 }));
    expect(outcome).toMatchObject({ reason: 'stopped', iteration: 4, position: { epoch: 0, batchInEpoch: 4 }, checkpointIteration: 4 });
    expect(iterations(stopped)).toEqual([1, 2, 3, 4]); // step 4 ran, so it is logged
    expect(stopped.unsettled.size).toBe(0);
    const saved = stopped.checkpoints.at(-1)!;
    expect(decodeCheckpoint(saved.bytes, 'checkpoint').iteration).toBe(4);
    const resumed = watchedRun({ from: saved.bytes });
    await runTraining(resumed.training, resumed.host, loopOptions({ maxIters: 12, position: saved.position }));
    expect([...lines(stopped), ...lines(resumed)]).toEqual(lines(whole));
    expect(resumed.checkpoints.at(-1)!.bytes).toEqual(whole.checkpoints.at(-1)!.bytes);
    for (const r of [whole, stopped, resumed]) r.training.dispose();
  });

  it('a divergence seen while the next step is in flight logs that step too and throws with nothing in flight', async () => {
    const run = watchedRun({ nanAt: 4 });
    await expect(runTraining(run.training, run.host, loopOptions({ maxIters: 12 }))).rejects.toThrow(DivergenceError);
    expect(iterations(run)).toEqual([1, 2, 3, 4, 5]);
    expect(run.unsettled.size).toBe(0);
    expect(run.checkpoints).toEqual([]);
    run.training.dispose();
  });
});
