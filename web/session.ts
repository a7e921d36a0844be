// One training session in the page: the GanTraining, the shared loop (src/train/loop.ts) run against a
// data source and a store, and the controls around it: pause/resume (a gate the loop awaits between
// iterations), stop (the loop checkpoints and returns), and `betweenSteps` for other GPU work (sample
// views, checkpoint downloads) so it never lands in the middle of a training step.
import { GanTraining, type TrainingConfig } from '../src/train/gan.ts';
import { decodeCheckpoint, encodeCheckpoint, restoreTraining, type TrainingPosition } from '../src/train/checkpoint.ts';
import { runTraining, type Evaluation, type IterationReport, type LoopOutcome, type TrainingHost } from '../src/train/loop.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import type { RgbaImage } from '../src/train/images.ts';

export type SessionState = 'idle' | 'running' | 'paused' | 'stopping' | 'finished' | 'error';

/** Where batches come from: in-page images, or the Node cache through train:chrome's API. */
export interface DataSource {
  batchesPerEpoch: number;
  batch(epoch: number, index: number, target: Float32Array): Promise<Float32Array>;
  /** SWD x 1e3 of what `draw` makes against held-out photos (src/metrics/swd.ts), at each epoch's end; absent: none held out */
  evaluate?(draw: (noise: Tensor) => Promise<Float32Array>, nz: number): Promise<Evaluation>;
}

/** Where the run's outputs go: memory in a plain page, the run folder through train:chrome's API. */
export type RunStore = Pick<TrainingHost, 'log' | 'saveSamples' | 'saveCheckpoint' | 'keptCheckpoint'>;

export interface RunSettings {
  epochs: number;
  maxIters: number;
  sampleEvery: number;
  patience: number;
  checkpointEveryMs?: number;
  keepEpochs?: boolean;
  retryCommand?: (lr: number, resumable: boolean) => string;
  /** the run's lowest SWD so far (a resume) */
  bestSwd?: number;
  /** trace the kernels of this start's first step (SessionEvents.onKernelTrace gets it) */
  traceKernels?: boolean;
}

export interface SessionEvents {
  onState?(state: SessionState): void;
  onEpochStart?(epoch: number, startIndex: number, batchesPerEpoch: number): void;
  onIteration?(report: IterationReport): void;
  onEpochEnd?(epoch: number): void;
  onEvaluation?(epoch: number, evaluation: Evaluation, best: boolean): void;
  onSamples?(name: string, grid: RgbaImage): void;
  /** the kernel trace of the first step, when RunSettings.traceKernels asked for one */
  onKernelTrace?(trace: string): void;
  /** true while the loop waits at the pause gate (the step in flight when Pause was pressed has ended) */
  onHold?(held: boolean): void;
}

export class Session {
  training: GanTraining | null = null;
  position: TrainingPosition = { epoch: 0, batchInEpoch: 0 };
  state: SessionState = 'idle';
  private stopRequested = false;
  private resumeGate: { promise: Promise<void>; open: () => void } | null = null;
  private jobs: (() => Promise<void>)[] = [];
  /**
   * true while the loop is inside a step (between two whilePaused calls; a step may still be in flight
   * at a whilePaused call unless wantsBoundary said there is work for it)
   */
  private inStep = false;

  constructor(private readonly events: SessionEvents = {}) {}

  private setState(state: SessionState): void {
    this.state = state;
    this.events.onState?.(state);
  }

  /** A fresh model and optimizers for `config` (any previous one is disposed). */
  create(config: TrainingConfig): GanTraining {
    this.training?.dispose();
    this.training = new GanTraining(config);
    this.position = { epoch: 0, batchInEpoch: 0 };
    return this.training;
  }

  /**
   * A whole training state from checkpoint bytes (the same safetensors `npm run train` writes), trained on
   * with `config` where given (a resume's new learning rate or beta1), else the checkpoint's.
   */
  load(bytes: Uint8Array, source: string, config?: TrainingConfig): GanTraining {
    const checkpoint = decodeCheckpoint(bytes, source);
    const training = this.create(config ?? checkpoint.config);
    restoreTraining(training, checkpoint);
    this.position = checkpoint.position;
    return training;
  }

  /** Train until the epochs or maxIters are done, or stop() is called. */
  async run(data: DataSource, store: RunStore, settings: RunSettings): Promise<LoopOutcome> {
    const training = this.training;
    if (!training) throw new Error('no model: create one or load a checkpoint first');
    if (this.state === 'running' || this.state === 'paused') throw new Error('already training');
    this.stopRequested = false;
    this.inStep = true;
    this.setState('running');
    try {
      const outcome = await runTraining(
        training,
        {
          ...store,
          batch: (epoch, index, target) => data.batch(epoch, index, target),
          saveSamples: async (name, grid) => {
            this.events.onSamples?.(name, grid);
            return store.saveSamples(name, grid);
          },
          shouldStop: () => this.stopRequested,
          whilePaused: () => this.betweenIterations(),
          // a pause or queued work needs the GPU idle: the loop settles its step in flight first
          wantsBoundary: () => this.resumeGate !== null || this.jobs.length > 0,
          onEpochStart: (...a) => this.events.onEpochStart?.(...a),
          onIteration: (report) => {
            this.position = { epoch: report.epoch - 1, batchInEpoch: report.batch };
            this.events.onIteration?.(report);
          },
          onEpochEnd: (epoch) => this.events.onEpochEnd?.(epoch),
          evaluate: data.evaluate && (async () => data.evaluate!((noise) => training.sample(noise), training.config.model.nz)),
          onEvaluation: (...a) => this.events.onEvaluation?.(...a),
          onKernelTrace: (trace) => this.events.onKernelTrace?.(trace),
        },
        { ...settings, batchesPerEpoch: data.batchesPerEpoch, position: this.position },
      );
      this.position = outcome.position;
      this.setState('finished');
      return outcome;
    } catch (e) {
      this.setState('error');
      throw e;
    } finally {
      this.inStep = false;
      await this.runJobs(); // anything queued while the last step ran
    }
  }

  pause(): void {
    if (this.state !== 'running') return;
    let open = () => {};
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.resumeGate = { promise, open };
    this.setState('paused');
  }

  resume(): void {
    if (this.state !== 'paused' || !this.resumeGate) return;
    const gate = this.resumeGate;
    this.resumeGate = null;
    this.setState('running');
    gate.open();
  }

  /** Ask the loop to finish this iteration, checkpoint and return. */
  stop(): void {
    if (this.state !== 'running' && this.state !== 'paused') return;
    this.stopRequested = true;
    this.resume();
    this.setState('stopping');
  }

  /** Run GPU work now when idle, else between two training steps. */
  betweenSteps<T>(work: () => Promise<T>): Promise<T> {
    if (!this.inStep) return work(); // idle, or waiting at the pause gate: no step in flight
    return new Promise<T>((resolve, reject) => this.jobs.push(() => work().then(resolve, reject)));
  }

  /** A checkpoint of the current state, taken between steps. */
  checkpointBytes(): Promise<Uint8Array> {
    const training = this.training;
    if (!training) return Promise.reject(new Error('no model to save'));
    return this.betweenSteps(() => encodeCheckpoint(training, this.position));
  }

  private async betweenIterations(): Promise<void> {
    this.inStep = false;
    await this.runJobs();
    if (this.resumeGate) {
      this.events.onHold?.(true);
      while (this.resumeGate) {
        await this.resumeGate.promise;
        await this.runJobs();
      }
      this.events.onHold?.(false);
    }
    this.inStep = true;
  }

  private async runJobs(): Promise<void> {
    while (this.jobs.length) await this.jobs.shift()!();
  }
}
