// Stops a run that has diverged, before it burns hours: the original project saw D_loss 100 / G_loss 0
// at lr 0.01 and kept going. Two signs: a loss that is NaN or infinite (stop at once), and a collapsed
// discriminator held for `patience` iterations in a row:
//   D fooled:   Loss_D > 10 and Loss_G < 0.01  (D(G(z)) ≈ 1: BCE(D(x),1) + BCE(D(G(z)),0) explodes)
//   D perfect:  Loss_D < 0.01 and Loss_G > 15  (D(G(z)) ≈ 0: G's gradient vanishes, it stops learning)
import type { StepStats } from './gan.ts';

export class DivergenceError extends Error {}

export class DivergenceGuard {
  private streak = 0;
  constructor(
    readonly lr: number,
    readonly patience = 50,
  ) {}

  /** Throws a DivergenceError whose message names the likely cause and a learning rate to try. */
  check(stats: StepStats, iteration: number): void {
    const { lossD, lossG } = stats;
    const losses = `Loss_D ${lossD.toFixed(3)}, Loss_G ${lossG.toFixed(3)}`;
    if (!Number.isFinite(lossD) || !Number.isFinite(lossG)) {
      throw new DivergenceError(`training diverged at iteration ${iteration}: ${losses} is not finite. ${this.advice()}`);
    }
    const fooled = lossD > 10 && lossG < 0.01;
    const perfect = lossD < 0.01 && lossG > 15;
    this.streak = fooled || perfect ? this.streak + 1 : 0;
    if (this.streak >= this.patience) {
      const how = fooled ? 'D rates every fake as real' : 'D rejects every fake and G gets no gradient';
      throw new DivergenceError(
        `training diverged at iteration ${iteration}: the discriminator collapsed (${how}; ${losses} for ${this.patience} iterations). ${this.advice()}`,
      );
    }
  }

  private advice(): string {
    const suggestion = this.lr > 2e-4 ? 2e-4 : this.lr / 10;
    return `The learning rate ${this.lr} is the likely cause: try --lr ${suggestion}${this.lr > 2e-4 ? " (the DCGAN paper's)" : ''}.`;
  }
}
