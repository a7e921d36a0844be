// The generator's exponential moving average (--ema DECAY): a second Generator whose parameters follow
// G's after every G step,
//   ema ← d·ema + (1 − d)·w      (d = DECAY, e.g. 0.999: an average over the last ~1/(1 − d) steps),
// one dispatch over the whole parameter arena (both arenas have the same layout, padding zeros included).
// It starts as a copy of G's initial weights. Batchnorm running statistics are not averaged: they are
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

  constructor(private readonly source: Generator, readonly decay: number) {
    if (!(decay > 0 && decay < 1)) throw new Error(`--ema must be a decay between 0 and 1 (e.g. 0.999), got ${decay}`);
    this.average = new Generator(source.config, seedStream(0)); // its own init is overwritten at once
    this.average.parameterArena!.whole.copyFrom(source.parameterArena!.whole);
  }

  /** After each G step: one moving-average update of every parameter. */
  update(): void {
    movingAverageInto(this.average.parameterArena!.whole, this.source.parameterArena!.whole, this.decay);
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
