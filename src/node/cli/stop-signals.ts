// Every way of stopping a trainer saves the work: SIGINT (Ctrl-C), SIGTERM (kill, timeout, docker stop)
// and SIGHUP (the terminal closed) ask the loop to finish the current iteration and checkpoint, and the
// process then exits 128 + the signal's number (130, 143, 129), as a shell expects. A second signal
// exits at once: the previous checkpoint is intact, since checkpoints are replaced by an atomic rename.
//
// The parent is watched too: `npm run` does not pass SIGHUP on (and older npm nothing at all), so when the
// process that started us is gone (our parent PID changes) we stop as for SIGHUP instead of training on,
// orphaned, into a run folder nobody watches. The npm scripts `exec` the package's command
// (bin/webgpu-dcgan.mjs), with no shell in between, and it passes SIGINT, SIGTERM and SIGHUP on to this
// process once each (a terminal's Ctrl-C included: this process has a process group of its own there).
import { closeDevice } from '../webgpu.ts';

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type StopSignal = keyof typeof EXIT_CODES;

/** The exit code of a stop that quits at once (a second signal): runMain exits with it, whatever failed meanwhile. */
export let quittingWith: number | null = null;

export class StopSignals {
  /** the first signal received; null while none was */
  requested: StopSignal | null = null;
  /** set once training runs: before that a signal exits at once (there is nothing to save yet) */
  training = false;
  private readonly handlers = new Map<StopSignal, () => void>();
  private readonly parentWatch: ReturnType<typeof setInterval>;

  /** `onStop` runs at the first signal during training (e.g. to tell a page to stop). */
  constructor(private readonly onStop: (signal: StopSignal) => void = () => {}) {
    for (const signal of Object.keys(EXIT_CODES) as StopSignal[]) {
      const handler = () => this.receive(signal, `interrupted (${signal})`);
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
    // after SIGHUP the terminal may be gone: a failed write to it must not crash the trainer before it saves
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
    const parent = process.ppid;
    this.parentWatch = setInterval(() => {
      if (process.ppid !== parent) this.receive('SIGHUP', `the parent process ${parent} is gone`);
    }, 1000);
    this.parentWatch.unref();
  }

  get exitCode(): number | null {
    return this.requested ? EXIT_CODES[this.requested] : null;
  }

  private receive(signal: StopSignal, why: string): void {
    if (this.requested || !this.training) {
      const code = EXIT_CODES[this.requested ?? signal];
      console.error(`\n${why}: quitting at once${this.training ? ' (the last checkpoint is intact)' : ' (training had not started)'}`);
      this.requested ??= signal;
      quittingWith = code;
      // Dawn's threads crash a process that exits under a live device: destroy it first (the step in
      // flight then fails, and runMain, seeing quittingWith, exits with this code instead of an error)
      void closeDevice().finally(() => process.exit(code));
      return;
    }
    this.requested = signal;
    clearInterval(this.parentWatch);
    console.error(`\n${why}: finishing this iteration and saving a checkpoint (send it again to quit at once)`);
    this.onStop(signal);
  }

  dispose(): void {
    clearInterval(this.parentWatch);
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
  }
}
