// The layers of a DCGAN, PyTorch-style: each holds its tensors under PyTorch's names (weight, bias,
// running_mean, ...) so a Sequential can list them as `main.<index>.<name>`, the keys of PyTorch's
// DCGAN example, and checkpoints load into PyTorch unchanged.
import { Tensor, TensorArena, keep } from '../gpu/tensor.ts';
import { traced } from '../gpu/trace.ts';
import { conv2d, convTranspose2d } from '../autograd/conv.ts';
import { batchNorm2d } from '../autograd/batchnorm.ts';
import { leakyRelu, relu, sigmoid, tanh, upsample2x } from '../autograd/ops.ts';
import { fill } from '../kernels/elementwise.ts';
import { kernelSet } from '../kernels/kernel-set.ts';
import { upsample2xOutputShape } from '../kernels/upsample.ts';
import { randomNormal } from '../kernels/random.ts';
import { conv2dOutputShape, convTranspose2dOutputShape, type ConvOptions } from '../kernels/conv-shapes.ts';
import * as refAct from '../reference/activations.ts';
import * as refBn from '../reference/batchnorm.ts';
import * as refConv from '../reference/conv.ts';
import * as refUp from '../reference/upsample.ts';
import { ReferenceLayer, pointwise, pointwiseFromOutput, type ReferenceTensors } from '../reference/dcgan.ts';

export interface Layer {
  readonly kind: string;
  forward(x: Tensor): Tensor;
  /** Tensors trained by the optimizer, by PyTorch name. */
  parameters(): Record<string, Tensor>;
  /**
   * Take `slots` (by the names of parameters()) as its parameters from now on: the values are copied
   * into them and the layer's own tensors freed. Sequential moves every parameter into one arena this way.
   */
  moveParameters(slots: Record<string, Tensor>): void;
  /** Tensors saved in checkpoints but not trained (batchnorm running statistics). */
  buffers(): Record<string, Tensor>;
  /** Train mode uses batch statistics in batchnorm; eval mode uses the running ones. */
  training: boolean;
  /**
   * The same layer in float64 on the CPU (src/reference), given its parameters and buffers as downloaded:
   * what test/dcgan.test.ts checks this layer against. The reference model is built from this list.
   */
  reference(tensors: ReferenceTensors): ReferenceLayer;
}

/** A layer with no tensors (activations, upsampling): only forward and its reference to write. */
export abstract class Stateless implements Layer {
  abstract readonly kind: string;
  training = true;
  abstract forward(x: Tensor): Tensor;
  abstract reference(tensors: ReferenceTensors): ReferenceLayer;
  parameters() {
    return {};
  }
  moveParameters() {}
  buffers() {
    return {};
  }
}

/** A parameter's values copied into its arena slot, which takes its place; the old tensor is freed. */
function moveInto(own: Tensor, slot: Tensor): Tensor {
  slot.copyFrom(own);
  slot.requiresGrad = own.requiresGrad;
  own.dispose();
  return slot;
}

/** Seeds derived per tensor so every weight gets its own stream of the seeded generator. */
export interface InitSeed {
  next(): number;
}

/**
 * Conv2d and ConvTranspose2d differ only in the op and the weight layout: PyTorch stores a conv weight as
 * [out, in, kh, kw] and a transposed-conv weight as [in, out, kh, kw]. The example's convs have no bias.
 */
abstract class ConvLayer implements Layer {
  abstract readonly kind: string;
  training = true;
  /** its own tensor until a Sequential moves it into the network's parameter arena */
  weight: Tensor;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly options: ConvOptions,
    seed: InitSeed,
    weightChannels: [number, number],
  ) {
    // DCGAN init: conv weights ~ N(0, 0.02)
    this.weight = keep(randomNormal([...weightChannels, kernelSize, kernelSize], 0, 0.02, seed.next()));
    this.weight.requiresGrad = true;
  }
  abstract forward(x: Tensor): Tensor;
  abstract reference(tensors: ReferenceTensors): ReferenceLayer;
  /** The float64 twin from the op's four reference functions (conv and transposed conv differ only in those). */
  protected referenceWith(
    t: ReferenceTensors,
    forward: typeof refConv.conv2dForward,
    outputShape: typeof conv2dOutputShape,
    backwardInput: typeof refConv.conv2dBackwardInput,
    backwardWeight: typeof refConv.conv2dBackwardWeight,
  ): ReferenceLayer {
    const { data: w, shape: wShape } = t.weight;
    return new ReferenceLayer(t, ['weight'], (x, shape) => ({
      y: forward(x, shape, w, wShape, null, this.options),
      shape: outputShape(shape, wShape, this.options),
      backward: (dy) => ({
        dx: backwardInput(dy, w, wShape, shape, this.options),
        grads: { weight: backwardWeight(x, shape, dy, wShape, this.options) },
      }),
    }));
  }
  parameters() {
    return { weight: this.weight };
  }
  moveParameters(slots: Record<string, Tensor>) {
    this.weight = moveInto(this.weight, slots.weight);
  }
  buffers() {
    return {};
  }
}

export class Conv2d extends ConvLayer {
  readonly kind = 'Conv2d';
  constructor(inChannels: number, outChannels: number, kernelSize: number, options: ConvOptions, seed: InitSeed) {
    super(inChannels, outChannels, kernelSize, options, seed, [outChannels, inChannels]);
  }
  forward(x: Tensor) {
    return conv2d(x, this.weight, null, this.options);
  }
  reference(t: ReferenceTensors) {
    return this.referenceWith(t, refConv.conv2dForward, conv2dOutputShape, refConv.conv2dBackwardInput, refConv.conv2dBackwardWeight);
  }
}

export class ConvTranspose2d extends ConvLayer {
  readonly kind = 'ConvTranspose2d';
  constructor(inChannels: number, outChannels: number, kernelSize: number, options: ConvOptions, seed: InitSeed) {
    super(inChannels, outChannels, kernelSize, options, seed, [inChannels, outChannels]);
  }
  forward(x: Tensor) {
    return convTranspose2d(x, this.weight, null, this.options);
  }
  reference(t: ReferenceTensors) {
    return this.referenceWith(
      t, refConv.convTranspose2dForward, convTranspose2dOutputShape, refConv.convTranspose2dBackwardInput, refConv.convTranspose2dBackwardWeight,
    );
  }
}

export class BatchNorm2d implements Layer {
  readonly kind = 'BatchNorm2d';
  training = true;
  weight: Tensor; // gamma (like ConvLayer's weight, moved into the arena by a Sequential)
  bias: Tensor; // beta
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  /** counted on the CPU; saved as `num_batches_tracked` like PyTorch */
  numBatchesTracked = 0;
  /**
   * false: train mode normalizes by the batch's statistics but leaves the running ones (and the counter)
   * as they are, for drawing samples in train mode (--bn train). It runs the same kernels with momentum 0:
   * running ← (1 − 0)·running + 0·batch is the running value exactly.
   */
  updateRunningStats = true;
  constructor(
    readonly channels: number,
    seed: InitSeed,
    readonly momentum = 0.1,
    readonly eps = 1e-5,
  ) {
    // DCGAN init: gamma ~ N(1, 0.02), beta = 0; running statistics start at mean 0, variance 1
    this.weight = keep(randomNormal([channels], 1, 0.02, seed.next()));
    this.bias = keep(fill([channels], 0));
    this.weight.requiresGrad = this.bias.requiresGrad = true;
    this.runningMean = keep(fill([channels], 0));
    this.runningVar = keep(fill([channels], 1));
  }
  /** `reluSlope`: the ReLU (0) or LeakyReLU that follows, run in the same kernels (the fast set's; see Sequential). */
  forward(x: Tensor, reluSlope?: number) {
    if (this.training && this.updateRunningStats) this.numBatchesTracked++;
    return batchNorm2d(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training,
      momentum: this.updateRunningStats ? this.momentum : 0,
      eps: this.eps,
      reluSlope,
    });
  }
  /** Train mode updates the running statistics in `t` and backpropagates through the batch statistics. */
  reference(t: ReferenceTensors) {
    const [gamma, beta, mean, variance] = [t.weight, t.bias, t.running_mean, t.running_var].map((v) => v.data);
    return new ReferenceLayer(t, ['weight', 'bias'], (x, shape, training) => {
      if (!training) {
        const y = refBn.batchNormEvalForward(x, shape, gamma, beta, mean, variance, this.eps);
        return { y, shape, backward: (dy) => grads(refBn.batchNormEvalBackward(x, shape, dy, gamma, mean, variance, this.eps)) };
      }
      const r = refBn.batchNormTrainForward(x, shape, gamma, beta, mean, variance, { eps: this.eps, momentum: this.momentum });
      return { y: r.y, shape, backward: (dy) => grads(refBn.batchNormBackward(x, shape, dy, gamma, r.mean, r.invStd)) };
    });
  }
  parameters() {
    return { weight: this.weight, bias: this.bias };
  }
  moveParameters(slots: Record<string, Tensor>) {
    this.weight = moveInto(this.weight, slots.weight);
    this.bias = moveInto(this.bias, slots.bias);
  }
  buffers() {
    return { running_mean: this.runningMean, running_var: this.runningVar };
  }
}

export class ReLU extends Stateless {
  readonly kind = 'ReLU';
  readonly slope = 0; // a LeakyReLU of slope 0, for the fused batchnorm
  forward(x: Tensor) {
    return relu(x);
  }
  reference() {
    return pointwise((x) => ({ y: refAct.reluForward(x), dx: (dy) => refAct.reluBackward(x, dy) }));
  }
}

export class LeakyReLU extends Stateless {
  readonly kind = 'LeakyReLU';
  constructor(readonly slope = 0.2) {
    super();
  }
  forward(x: Tensor) {
    return leakyRelu(x, this.slope);
  }
  reference() {
    return pointwise((x) => ({ y: refAct.leakyReluForward(x, this.slope), dx: (dy) => refAct.leakyReluBackward(x, dy, this.slope) }));
  }
}

export class Tanh extends Stateless {
  readonly kind = 'Tanh';
  forward(x: Tensor) {
    return tanh(x);
  }
  reference() {
    return pointwiseFromOutput(refAct.tanhForward, refAct.tanhBackward);
  }
}

export class Sigmoid extends Stateless {
  readonly kind = 'Sigmoid';
  forward(x: Tensor) {
    return sigmoid(x);
  }
  reference() {
    return pointwiseFromOutput(refAct.sigmoidForward, refAct.sigmoidBackward);
  }
}

/** nn.Upsample(scale_factor=2, mode='nearest'): each pixel becomes a 2x2 block (G's doublings with --g-upsample nearest). */
export class Upsample extends Stateless {
  readonly kind = 'Upsample';
  readonly scaleFactor = 2;
  forward(x: Tensor) {
    return upsample2x(x);
  }
  reference() {
    return new ReferenceLayer({}, [], (x, shape) => ({
      y: refUp.upsample2xForward(x, shape),
      shape: upsample2xOutputShape(shape),
      backward: (dy) => ({ dx: refUp.upsample2xBackward(dy, shape) }),
    }));
  }
}

/** A batchnorm backward's result as a reference pass's: dx and the gradients of gamma (weight) and beta (bias). */
const grads = (r: { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array }) => ({ dx: r.dx, grads: { weight: r.dgamma, bias: r.dbeta } });

/**
 * Layers applied in order; tensors are named `main.<index>.<name>` as in PyTorch's DCGAN example.
 * With the fast kernels, a BatchNorm2d followed by a ReLU or LeakyReLU runs as one op (the activation
 * fused into the batchnorm kernels): the layers, their indices and the checkpoint keys stay PyTorch's, and
 * a pass that would write the normalized values and read them back, forward and backward, is saved. With
 * `--kernel-set simple` every layer runs on its own, so each op's kernel is the one its layer names.
 *
 * The network's parameters live in one buffer, llm.c style (`parameterArena`: each a slot at an aligned
 * offset, in namedParameters() order), and their gradients in a twin of it (`gradientArena`, each
 * parameter's gradSlot): zeroGrad() then frees and zeroes nothing, backward() adds a second gradient into
 * all of them in one pass, and Adam updates the whole network in one dispatch (src/optim/adam.ts).
 */
export class Sequential {
  readonly parameterArena: TensorArena | null = null;
  readonly gradientArena: TensorArena | null = null;

  constructor(readonly layers: Layer[]) {
    const named = this.layers.map((l) => Object.entries(l.parameters()));
    const shapes = named.flatMap((entries) => entries.map(([, t]) => t.shape));
    if (!shapes.length) return;
    this.parameterArena = new TensorArena(shapes, 'parameters');
    this.gradientArena = this.parameterArena.twin('gradients');
    let i = 0;
    named.forEach((entries, l) => {
      const slots = Object.fromEntries(entries.map(([name]) => [name, this.parameterArena!.tensors[i++]]));
      this.layers[l].moveParameters(slots);
    });
    this.parameters().forEach((p, j) => (p.gradSlot = this.gradientArena!.tensors[j]));
  }

  forward(x: Tensor, upTo = this.layers.length): Tensor {
    const fuse = kernelSet() === 'fast';
    let h = x;
    for (let i = 0; i < upTo; i++) {
      const layer = this.layers[i];
      const next = i + 1 < upTo ? this.layers[i + 1] : undefined;
      const input = h;
      if (fuse && layer instanceof BatchNorm2d && (next instanceof ReLU || next instanceof LeakyReLU)) {
        h = traced(() => `main.${i}+${i + 1} ${layer.kind} + ${next.kind} (fused)`, () => layer.forward(input, next.slope));
        i++; // the activation ran inside the batchnorm
      } else {
        h = traced(() => `main.${i} ${layer.kind}`, () => layer.forward(input));
      }
    }
    return h;
  }

  namedParameters(): [string, Tensor][] {
    return this.layers.flatMap((l, i) => Object.entries(l.parameters()).map(([k, t]) => [`main.${i}.${k}`, t] as [string, Tensor]));
  }

  namedBuffers(): [string, Tensor][] {
    return this.layers.flatMap((l, i) => Object.entries(l.buffers()).map(([k, t]) => [`main.${i}.${k}`, t] as [string, Tensor]));
  }

  /**
   * PyTorch's state_dict() of the network: `main.<i>.<name>` → its tensor for parameters and buffers,
   * → a number for batchnorm's num_batches_tracked. In the order checkpoints store them: every parameter
   * (namedParameters), every buffer, every counter (PyTorch orders module by module; load_state_dict
   * takes either).
   */
  stateDict(): Map<string, Tensor | number> {
    const counters = this.layers.flatMap((l, i) => (l instanceof BatchNorm2d ? [[`main.${i}.num_batches_tracked`, l.numBatchesTracked] as [string, number]] : []));
    return new Map<string, Tensor | number>([...this.namedParameters(), ...this.namedBuffers(), ...counters]);
  }

  /**
   * Take a state_dict back: every parameter and buffer from `state` (a tensor, or its values), of its
   * size; a counter where `state` has one, else it stays (files of PyTorch before 0.4.1 have none).
   */
  loadStateDict(state: ReadonlyMap<string, Tensor | ArrayLike<number> | number>): void {
    for (const [key, own] of [...this.namedParameters(), ...this.namedBuffers()]) {
      const value = state.get(key);
      if (value === undefined || typeof value === 'number') throw new Error(`the state_dict has no tensor ${key}`);
      if (value instanceof Tensor) own.copyFrom(value);
      else own.write(value);
    }
    this.layers.forEach((l, i) => {
      const counter = state.get(`main.${i}.num_batches_tracked`);
      if (l instanceof BatchNorm2d && typeof counter === 'number') l.numBatchesTracked = counter;
    });
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  setTraining(training: boolean): void {
    for (const l of this.layers) l.training = training;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
      t.zeroGrad();
      t.dispose();
    }
    this.parameterArena?.dispose();
    this.gradientArena?.dispose();
  }
}
