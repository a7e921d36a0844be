// The generator's exponential moving average (--ema DECAY): a second Generator whose parameters follow
// G's after every G step,
//   ema ← d·ema + (1 − d)·w      (d = DECAY, e.g. 0.999: an average over the last ~1/(1 − d) steps),
// one dispatch over the whole parameter arena (both arenas have the same layout, padding zeros included).
// It starts as a copy of G's initial weights, and with a warm-up (rampup r, EMA_RAMPUP for new runs) the
// average's horizon grows with the run, as StyleGAN's ema_rampup does:
//   after G step t:   h_t = min(1/(1 − DECAY), max(1, r·t)),   d_t = 1 − 1/h_t
// so the first 1/r steps copy G (d = 0) and the average never reaches back more than r·t steps: without it
// a decay of 0.999 after 500 steps still holds 0.999^500 = 61% of the random initial weights, and draws
// worse than G itself (measured: README). A run from before the warm-up (no rampup in its config) keeps d. Batchnorm running statistics are not averaged: they are
// copied from G whenever the average is used (averaged()), as StyleGAN's EMA generator copies its
// buffers. Averaging them would be a second, slower average of statistics that G's own momentum (0.1)
// already averages over the last ~10 steps; neither is the statistics of the averaged weights, which is
// why --bn train (the drawn batch's own statistics) is the mode that matches an averaged generator.
import { movingAverageInto } from '../kernels/elementwise.ts';
import { Generator, seedStream } from '../model/dcgan.ts';
import { BatchNorm2d } from '../model/layers.ts';

export class GeneratorAverage {
  /** the averaged generator: its parameters are the average; its buffers are G's as of the last averaged() */
  private readonly average: Generator;

  /**
   * `rampup`: the share of the G steps so far that the average's horizon may cover (the warm-up above);
   * undefined: the constant decay.
   */
  constructor(private readonly source: Generator, readonly decay: number, readonly rampup?: number) {
    if (!(decay > 0 && decay < 1)) throw new Error(`--ema must be a decay between 0 and 1 (e.g. 0.999), got ${decay}`);
    if (rampup !== undefined && !(rampup > 0 && rampup <= 1)) throw new Error(`the moving average's rampup must be in (0, 1], got ${rampup}`);
    this.average = new Generator(source.config, seedStream(0)); // its own init is overwritten at once
    this.average.parameterArena!.whole.copyFrom(source.parameterArena!.whole);
  }

  /** The decay of the update after G step `step` (1, 2, ...): d_t of the header. */
  decayAt(step: number): number {
    if (this.rampup === undefined) return this.decay;
    const horizon = Math.min(1 / (1 - this.decay), Math.max(1, this.rampup * step));
    return 1 - 1 / horizon;
  }

  /** After G step `step` (1, 2, ...): one moving-average update of every parameter. */
  update(step: number): void {
    movingAverageInto(this.average.parameterArena!.whole, this.source.parameterArena!.whole, this.decayAt(step));
  }

  /** The averaged generator, its batchnorm running statistics (and counters) copied from G first. */
  averaged(): Generator {
    this.average.layers.forEach((layer, i) => {
      const from = this.source.layers[i];
      if (!(layer instanceof BatchNorm2d && from instanceof BatchNorm2d)) return;
      layer.runningMean.copyFrom(from.runningMean);
      layer.runningVar.copyFrom(from.runningVar);
      layer.numBatchesTracked = from.numBatchesTracked;
    });
    return this.average;
  }

  /** The averaged parameters only (a checkpoint's emaG. tensors are loaded into them). */
  get generator(): Generator {
    return this.average;
  }

  dispose(): void {
    this.average.dispose();
  }
}
