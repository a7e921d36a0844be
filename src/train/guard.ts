// Stops a run that has diverged, before it burns hours, and tells the loop which states are safe to
// checkpoint. The original project saw D_loss 100 / G_loss 0 at lr 0.01 and kept going.
//
// An iteration looks diverged when
//   a loss is NaN or infinite                     → stop at once;
//   a loss is absurd: Loss_D > 20 or Loss_G > 50  (BCE means: the nets are sure of the wrong answer by
//                                                  a factor e^20 or more; no healthy run gets there);
//   D is fooled:   Loss_D > 10 and Loss_G < 0.01  (D(G(z)) ≈ 1: BCE(D(x),1) + BCE(D(G(z)),0) explodes);
//   D is perfect:  Loss_D < 0.01 and Loss_G > 15  (D(G(z)) ≈ 0: G's gradient vanishes, it stops learning).
// The run stops when `patience` of the last 2·patience iterations looked diverged: a collapse that holds
// stops after exactly `patience` iterations, and one healthy-looking iteration in the middle of a collapse
// (they happen) does not reset the count. A state is `trusted`, and may be checkpointed, only when none of
// the last `patience` iterations looked diverged: so the checkpoint a stopped run keeps predates the collapse.
import type { StepStats } from './gan.ts';

export class DivergenceError extends Error {}

const ABSURD_LOSS_D = 20;
const ABSURD_LOSS_G = 50;

/** Why one iteration looks diverged, or null when it looks healthy. */
function divergenceSign({ lossD, lossG }: StepStats): string | null {
  if (!Number.isFinite(lossD) || !Number.isFinite(lossG)) return 'a loss is not finite';
  if (lossD > ABSURD_LOSS_D || lossG > ABSURD_LOSS_G) return `absurd losses (Loss_D > ${ABSURD_LOSS_D} or Loss_G > ${ABSURD_LOSS_G})`;
  if (lossD > 10 && lossG < 0.01) return 'D rates every fake as real';
  if (lossD < 0.01 && lossG > 15) return 'D rejects every fake and G gets no gradient';
  return null;
}

export class DivergenceGuard {
  /** the iterations of the last 2·patience that looked diverged */
  private readonly bad: number[] = [];
  private lastIteration = 0;
  /** the first iteration of the current bad stretch (for the message) */
  private firstBad: number | null = null;

  constructor(
    readonly lr: number,
    readonly patience = 50,
    /** what to tell the user to run after a divergence, given the learning rate to try */
    readonly retryCommand: (lr: number) => string = (lr) => `--lr ${lr}`,
  ) {}

  /** Throws a DivergenceError whose message names the cause and a command to try. */
  check(stats: StepStats, iteration: number): void {
    this.lastIteration = iteration;
    while (this.bad.length > 0 && this.bad[0] <= iteration - 2 * this.patience) this.bad.shift();
    const sign = divergenceSign(stats);
    if (sign === null) {
      if (this.bad.length === 0) this.firstBad = null;
      return;
    }
    this.bad.push(iteration);
    this.firstBad ??= iteration;
    const losses = `Loss_D ${stats.lossD.toFixed(3)}, Loss_G ${stats.lossG.toFixed(3)}`;
    if (!Number.isFinite(stats.lossD) || !Number.isFinite(stats.lossG)) {
      throw new DivergenceError(`training diverged at iteration ${iteration}: ${losses} is not finite. ${this.advice()}`);
    }
    if (this.bad.length >= this.patience) {
      throw new DivergenceError(
        `training diverged at iteration ${iteration}: ${this.bad.length} of the last ${Math.min(iteration, 2 * this.patience)} iterations ` +
          `looked diverged since iteration ${this.firstBad} (now: ${sign}; ${losses}). ${this.advice()}`,
      );
    }
  }

  /** true when none of the last `patience` iterations looked diverged: this state may be checkpointed. */
  get trusted(): boolean {
    const last = this.bad.at(-1);
    return last === undefined || last <= this.lastIteration - this.patience;
  }

  private advice(): string {
    const suggestion = this.lr > 2e-4 ? 2e-4 : this.lr / 10;
    return `The learning rate ${this.lr} is the likely cause: try ${this.retryCommand(suggestion)}${this.lr > 2e-4 ? " (the DCGAN paper's lr)" : ''}.`;
  }
}
