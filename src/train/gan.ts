// One DCGAN training iteration, as PyTorch's example does it, on GPU tensors (no Node imports: the
// browser trainer runs this same file):
//   D step: maximise log D(x) + log(1 − D(G(z)))  →  BCE(D(x), 1) + BCE(D(G(z).detach()), 0), Adam on D
//   G step: maximise log D(G(z))  (the non-saturating loss)  →  BCE(D(G(z)), 1), Adam on G
// Real and fake go through D as separate batches, so batchnorm never mixes their statistics.
import { traced } from '../gpu/trace.ts';
import { Tensor, keep, tidy } from '../gpu/tensor.ts';
import { backward, frozen, noGrad } from '../autograd/tape.ts';
import { bceWithLogits } from '../autograd/loss.ts';
import { fill } from '../kernels/elementwise.ts';
import { randomNormal, randomNormalInto } from '../kernels/random.ts';
import { meanSigmoid } from '../kernels/loss.ts';
import { createDcgan, type DcganConfig, type Discriminator, type Generator, type GeneratorUpsample } from '../model/dcgan.ts';
import { Adam } from '../optim/adam.ts';
import { mixSeeds } from '../util/seeds.ts';
import { BatchNorm2d } from '../model/layers.ts';
import { GeneratorAverage } from './ema.ts';

export interface TrainingConfig {
  model: DcganConfig;
  batchSize: number;
  lr: number;
  beta1: number;
  seed: number;
  /** decay of the generator's moving average (--ema, src/train/ema.ts); absent or 0: none kept */
  ema?: number;
  /**
   * the average's warm-up (src/train/ema.ts): its horizon covers at most this share of the G steps so far.
   * New runs with --ema get EMA_RAMPUP; absent (a run from before the warm-up): the constant decay.
   */
  emaRampup?: number;
}

/** The warm-up of new runs' moving average: its horizon at most a tenth of the steps so far (ema.ts). */
export const EMA_RAMPUP = 0.1;

/**
 * How samples are drawn (grids, SWD, `generate`): 'train' normalizes each batchnorm by the drawn batch's
 * own statistics (PyTorch's example draws its grids so), without touching the running statistics;
 * 'eval' by the running statistics.
 */
export type BatchNormMode = 'train' | 'eval';
export const BATCHNORM_MODES: readonly BatchNormMode[] = ['train', 'eval'];

/** Which weights draw samples: the moving average (when kept) or G's own. */
export type SampleWeights = 'ema' | 'plain';
export const SAMPLE_WEIGHTS: readonly SampleWeights[] = ['ema', 'plain'];

export interface SamplingOptions {
  bn: BatchNormMode;
  /** 'ema' falls back to G's own weights when no average is kept */
  weights: SampleWeights;
}

export const DEFAULT_SAMPLING: SamplingOptions = { bn: 'train', weights: 'ema' };

/**
 * The trainer's G when --g-upsample is not given: nearest-neighbour doublings drew better than PyTorch's
 * strided transposed convs at every epoch measured (README, "Sample quality"). The model's own
 * DEFAULT_CONFIG (src/model/dcgan.ts) stays PyTorch's example, as do checkpoints that do not say.
 */
export const DEFAULT_G_UPSAMPLE: GeneratorUpsample = 'nearest';

/** A flag value among `allowed`, or one line naming them. */
export function parseChoice<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`--${flag} must be ${allowed.join(' or ')}, got '${value}'`);
}

/** What one iteration reports, read back from the GPU in one copy (the only read-back of a step). */
export interface StepStats {
  lossD: number;
  lossG: number;
  /** mean D(x) on real images: near 1 when D recognises them */
  dReal: number;
  /** mean D(G(z)) before and after the D update */
  dFakeBefore: number;
  dFakeAfter: number;
}

/** A step submitted to the GPU whose statistics may still be on their way back. */
export interface SubmittedStep {
  /** the iteration this step completes (1-based, as logged) */
  iteration: number;
  stats: Promise<StepStats>;
}

/** A seed per (run seed, iteration): the noise of iteration i is the same in a resumed run. */
export const iterationSeed = (seed: number, iteration: number): number => mixSeeds(seed, iteration);

/**
 * Multiply-adds of the conv passes one step (submitStep) runs, from the model's conv layers at the
 * step's batch size (convLayerShapes, src/model/conv-layers.ts, from the shape-only walk of the layer
 * lists): what the bench divides by its SGEMM ceiling for the
 * adapter's floor. Per layer, with `first` the layer that reads the network's input:
 *   G: forward, input gradient (not the first: the noise needs none), weight gradient: once each;
 *   D: forward 3x (real, fake, fake after the D update); input gradient 3x, but not the first layer's
 *      in the D step (real images and the detached fake need none); weight gradient 2x (D step only:
 *      the G step freezes D).
 * Keep in step with submitStep.
 */
export function stepConvMacs(layers: readonly { name: string; macs: number }[]): number {
  let macs = 0;
  for (const network of ['G', 'D']) {
    const own = layers.filter((l) => l.name.startsWith(`${network}.`));
    own.forEach((l, i) => {
      const first = i === 0;
      if (network === 'G') macs += l.macs * (first ? 2 : 3);
      else macs += l.macs * (3 + (first ? 1 : 3) + 2);
    });
  }
  return macs;
}

export class GanTraining {
  readonly generator: Generator;
  readonly discriminator: Discriminator;
  readonly optimizerG: Adam;
  readonly optimizerD: Adam;
  /** iterations submitted so far (one D step + one G step each): done, once their statistics are in */
  iteration = 0;
  /** the fixed noise whose samples are saved during training, so progress is comparable over time */
  readonly fixedNoise: Tensor;
  /** G's moving average, when config.ema is set: updated after every G step */
  readonly average: GeneratorAverage | null;
  /** how sample grids (and the trainer's other samples) are drawn; a host sets it from its flags */
  sampling: SamplingOptions = { ...DEFAULT_SAMPLING };
  private readonly real: Tensor;
  private readonly noise: Tensor;
  private readonly ones: Tensor;
  private readonly zeros: Tensor;

  constructor(readonly config: TrainingConfig, sampleCount = 64) {
    const { model, batchSize, lr, beta1, seed } = config;
    ({ generator: this.generator, discriminator: this.discriminator } = createDcgan(model, seed));
    const adam = { lr, beta1, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
    this.optimizerG = new Adam(this.generator.parameters(), adam);
    this.optimizerD = new Adam(this.discriminator.parameters(), adam);
    this.average = config.ema ? new GeneratorAverage(this.generator, config.ema, config.emaRampup) : null;
    this.fixedNoise = keep(randomNormal([sampleCount, model.nz, 1, 1], 0, 1, mixSeeds(seed, 0xf1eed)));
    this.real = keep(Tensor.empty([batchSize, model.nc, model.imageSize, model.imageSize], 'real batch'));
    this.noise = keep(Tensor.empty([batchSize, model.nz, 1, 1], 'noise'));
    this.ones = keep(fill([batchSize, 1, 1, 1], 1));
    this.zeros = keep(fill([batchSize, 1, 1, 1], 0));
  }

  /**
   * Records one D step and one G step on a batch of real images (NCHW floats in [−1, 1]) and submits
   * them, without waiting for the GPU: the statistics come back later. The next step may be submitted
   * before they do (the loop overlaps the two, src/train/loop.ts): every upload goes through the command
   * encoder in order, so its batch and noise land after this step has read its own. `iteration` counts
   * submitted steps, so the next step draws its own noise; the state the GPU holds once they have run is
   * that of `iteration` steps.
   */
  submitStep(realImages: Float32Array): SubmittedStep {
    const { generator: G, discriminator: D } = this;
    this.real.write(realImages);
    traced('noise', () => randomNormalInto(this.noise, 0, 1, iterationSeed(this.config.seed, this.iteration)));
    const scalars = tidy(() => {
      // ---- D step. Each phase is named for a kernel trace (src/gpu/trace.ts, --trace-kernels): `inD`
      // and `inG` file the work under the step it belongs to; G(noise) belongs to both.
      const inD = <T>(name: string, fn: () => T) => traced('D step', () => traced(name, fn));
      const inG = <T>(name: string, fn: () => T) => traced('G step', () => traced(name, fn));
      D.zeroGrad();
      const logitsReal = inD('D(real)', () => D.logits(this.real));
      const lossReal = inD('loss: BCE(D(real), 1)', () => bceWithLogits(logitsReal, this.ones));
      traced('D step', () => backward(lossReal));
      const fake = traced('G(noise), for both steps', () => G.forward(this.noise));
      const logitsFake = inD('D(fake), detached', () => D.logits(fake.detach())); // no gradient into G from D's loss
      const lossFake = inD('loss: BCE(D(fake), 0)', () => bceWithLogits(logitsFake, this.zeros));
      traced('D step', () => backward(lossFake));
      inD('Adam', () => this.optimizerD.step());
      // ---- G step, reusing the same fake batch as PyTorch's example. D is frozen: the gradient of its
      // weights here would be thrown away (the next D step starts with D.zeroGrad()), so its weight-gradient
      // passes are skipped. PyTorch's example computes and discards them; every weight, moment and loss is
      // the same either way, only D's .grad after the step holds the D step's gradient alone.
      G.zeroGrad();
      const [logitsAfter, lossG] = frozen(D.parameters(), () => {
        const logits = inG('D(fake), D frozen', () => D.logits(fake));
        const loss = inG('loss: BCE(D(fake), 1)', () => bceWithLogits(logits, this.ones));
        traced('G step', () => backward(loss));
        return [logits, loss];
      });
      inG('Adam', () => this.optimizerG.step());
      inG('the moving average', () => this.average?.update(this.iteration + 1));  // G step number iteration + 1 (1, 2, ...)
      return [lossReal, lossFake, lossG, ...traced('the logged D outputs', () => [logitsReal, logitsFake, logitsAfter].map(meanSigmoid))];
    });
    // the step's one read-back, for logging and the divergence guard: six scalars in one copy, recorded
    // and submitted with the step before readAll returns, so the scalars' buffers can go back to the pool
    // now (the next step binds the same ones, and the queue runs this copy before it overwrites them)
    const read = Tensor.readAll(scalars, 'training step'); // paced: the wait sleeps instead of polling
    for (const t of scalars) t.dispose();
    this.iteration++;
    const stats: Promise<StepStats> = read.then((values) => {
      const [lossReal, lossFake, lossG, dReal, dFakeBefore, dFakeAfter] = values.map((v) => v[0]);
      return { lossD: lossReal + lossFake, lossG, dReal, dFakeBefore, dFakeAfter };
    });
    stats.catch(() => undefined); // awaited later by the caller: a failure must not count as unhandled meanwhile
    return { iteration: this.iteration, stats };
  }

  /**
   * `count` steps on one batch, each submitted before the previous step's statistics are back (at most
   * one in flight, as runTraining runs them): the bench's steady-state timing and the tests' counters.
   */
  async pipelinedSteps(realImages: Float32Array, count: number): Promise<void> {
    let previous = this.submitStep(realImages);
    for (let i = 1; i < count; i++) {
      const next = this.submitStep(realImages);
      await previous.stats;
      previous = next;
    }
    await previous.stats;
  }

  /** One step, waiting for its statistics (no overlap with the next step). */
  async step(realImages: Float32Array): Promise<StepStats> {
    return this.submitStep(realImages).stats;
  }

  /** The generator that draws samples with `weights`: the moving average when one is kept and asked for, else G. */
  samplingGenerator(weights: SampleWeights = this.sampling.weights): Generator {
    return weights === 'ema' && this.average ? this.average.averaged() : this.generator;
  }

  /** Images drawn from `noise` (default: the fixed noise) as `sampling` says (default: this.sampling). */
  async sample(noise: Tensor = this.fixedNoise, sampling: SamplingOptions = this.sampling): Promise<Float32Array> {
    return sampleImages(this.samplingGenerator(sampling.weights), noise, sampling.bn);
  }

  dispose(): void {
    for (const t of [this.fixedNoise, this.real, this.noise, this.ones, this.zeros]) t.dispose();
    this.optimizerG.dispose();
    this.optimizerD.dispose();
    this.average?.dispose();
    this.generator.dispose();
    this.discriminator.dispose();
  }
}

/**
 * G(noise), NCHW floats in [−1, 1]. bn 'eval': batchnorm by its running statistics; 'train': by the
 * statistics of this batch of noise (so the images depend on the batch they are drawn in), the running
 * statistics left as they are. The generator is left in train mode, updating its statistics, as training needs.
 */
export async function sampleImages(generator: Generator, noise: Tensor, bn: BatchNormMode = 'eval'): Promise<Float32Array> {
  const batchnorms = generator.layers.filter((l): l is BatchNorm2d => l instanceof BatchNorm2d);
  generator.setTraining(bn === 'train');
  for (const b of batchnorms) b.updateRunningStats = false;
  let images: Tensor;
  try {
    images = noGrad(() => tidy(() => generator.forward(noise)));
  } finally {
    generator.setTraining(true);
    for (const b of batchnorms) b.updateRunningStats = true;
  }
  const pixels = await images.read();
  images.dispose();
  return pixels;
}
