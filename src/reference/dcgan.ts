// The DCGAN in float64 on the CPU, built from the reference ops: the specification the GPU model's
// gradients and optimizer steps are checked against. Each layer remembers its last forward input and
// turns dL/dy into dL/dx in backward(), accumulating (+=) its parameter gradients, as in llm.c.
import * as act from './activations.ts';
import * as bn from './batchnorm.ts';
import * as conv from './conv.ts';
import { conv2dOutputShape, convTranspose2dOutputShape, type ConvOptions } from '../kernels/conv-shapes.ts';

type Vec = Float64Array;
type Shape = number[];

export interface ReferenceLayerSpec {
  kind: string; // Conv2d, ConvTranspose2d, BatchNorm2d, ReLU, LeakyReLU, Tanh, Sigmoid
  options?: ConvOptions;
  slope?: number;
  momentum?: number;
  eps?: number;
  /** weight/bias/running_mean/running_var values, with their shapes */
  tensors: Record<string, { data: Vec; shape: Shape }>;
}

class ReferenceLayer {
  readonly grads: Record<string, Vec> = {};
  private x: Vec = new Float64Array();
  private xShape: Shape = [];
  private y: Vec = new Float64Array();
  private stats: { mean: Vec; invStd: Vec } | null = null;
  training = true;

  constructor(readonly spec: ReferenceLayerSpec) {
    for (const name of ['weight', 'bias']) {
      const t = spec.tensors[name];
      if (t) this.grads[name] = new Float64Array(t.data.length);
    }
  }

  tensor(name: string): Vec {
    return this.spec.tensors[name].data;
  }

  forward(x: Vec, shape: Shape): { y: Vec; shape: Shape } {
    this.x = x;
    this.xShape = shape;
    const s = this.spec;
    const w = s.tensors.weight;
    let y: Vec;
    let yShape = shape;
    switch (s.kind) {
      case 'Conv2d':
        yShape = conv2dOutputShape(shape, w.shape, s.options!);
        y = conv.conv2dForward(x, shape, w.data, w.shape, null, s.options!);
        break;
      case 'ConvTranspose2d':
        yShape = convTranspose2dOutputShape(shape, w.shape, s.options!);
        y = conv.convTranspose2dForward(x, shape, w.data, w.shape, null, s.options!);
        break;
      case 'BatchNorm2d': {
        const [gamma, beta, mean, variance] = ['weight', 'bias', 'running_mean', 'running_var'].map((n) => this.tensor(n));
        if (this.training) {
          const r = bn.batchNormTrainForward(x, shape, gamma, beta, mean, variance, { eps: s.eps!, momentum: s.momentum! });
          this.stats = { mean: r.mean, invStd: r.invStd };
          y = r.y;
        } else y = bn.batchNormEvalForward(x, shape, gamma, beta, mean, variance, s.eps!);
        break;
      }
      case 'ReLU': y = act.reluForward(x); break;
      case 'LeakyReLU': y = act.leakyReluForward(x, s.slope!); break;
      case 'Tanh': y = act.tanhForward(x); break;
      case 'Sigmoid': y = act.sigmoidForward(x); break;
      default: throw new Error(`reference: unknown layer ${s.kind}`);
    }
    this.y = y;
    return { y, shape: [...yShape] };
  }

  backward(dy: Vec): Vec {
    const s = this.spec;
    const add = (name: string, g: Vec) => this.grads[name].forEach((_, i, a) => (a[i] += g[i]));
    switch (s.kind) {
      case 'Conv2d': {
        const w = s.tensors.weight;
        add('weight', conv.conv2dBackwardWeight(this.x, this.xShape, dy, w.shape, s.options!));
        return conv.conv2dBackwardInput(dy, w.data, w.shape, this.xShape, s.options!);
      }
      case 'ConvTranspose2d': {
        const w = s.tensors.weight;
        add('weight', conv.convTranspose2dBackwardWeight(this.x, this.xShape, dy, w.shape, s.options!));
        return conv.convTranspose2dBackwardInput(dy, w.data, w.shape, this.xShape, s.options!);
      }
      case 'BatchNorm2d': {
        const r = bn.batchNormBackward(this.x, this.xShape, dy, this.tensor('weight'), this.stats!.mean, this.stats!.invStd);
        add('weight', r.dgamma);
        add('bias', r.dbeta);
        return r.dx;
      }
      case 'ReLU': return act.reluBackward(this.x, dy);
      case 'LeakyReLU': return act.leakyReluBackward(this.x, dy, s.slope!);
      case 'Tanh': return act.tanhBackward(this.y, dy);
      case 'Sigmoid': return act.sigmoidBackward(this.y, dy);
      default: throw new Error(`reference: unknown layer ${s.kind}`);
    }
  }
}

export class ReferenceSequential {
  readonly layers: ReferenceLayer[];
  constructor(specs: ReferenceLayerSpec[]) {
    this.layers = specs.map((s) => new ReferenceLayer(s));
  }

  forward(x: Vec, shape: Shape, upTo = this.layers.length): { y: Vec; shape: Shape } {
    let h = { y: x, shape };
    for (const layer of this.layers.slice(0, upTo)) h = layer.forward(h.y, h.shape);
    return h;
  }

  /** Backpropagate through the layers used by the last forward(…, upTo). */
  backward(dy: Vec, upTo = this.layers.length): Vec {
    let g = dy;
    for (const layer of this.layers.slice(0, upTo).reverse()) g = layer.backward(g);
    return g;
  }

  zeroGrad(): void {
    for (const l of this.layers) for (const g of Object.values(l.grads)) g.fill(0);
  }

  /** `main.<i>.<name>` → gradient, matching Sequential.namedParameters() on the GPU. */
  namedGrads(): [string, Vec][] {
    return this.layers.flatMap((l, i) => Object.entries(l.grads).map(([k, g]) => [`main.${i}.${k}`, g] as [string, Vec]));
  }

  namedTensors(): [string, Vec][] {
    return this.layers.flatMap((l, i) => Object.entries(l.spec.tensors).map(([k, t]) => [`main.${i}.${k}`, t.data] as [string, Vec]));
  }
}
