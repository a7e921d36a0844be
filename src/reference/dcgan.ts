// The DCGAN in float64 on the CPU, built from the reference ops: the specification the GPU model's
// gradients and optimizer steps are checked against. It is built from the GPU model's own layer list:
// each layer of src/model/layers.ts makes its float64 twin (Layer.reference), so a new layer kind needs
// no edit here. A reference layer's forward returns its output and a closure mapping dL/dy to dL/dx and
// its parameter gradients, which backward() accumulates (+=), as in llm.c.

type Vec = Float64Array;
type Shape = number[];

/** A layer's tensors (weight, bias, running_mean, running_var), downloaded as float64, with their shapes. */
export type ReferenceTensors = Record<string, { data: Vec; shape: Shape }>;

/** What one reference forward returns: the output and how to take the gradient back through it. */
interface ReferencePass {
  y: Vec;
  shape: Shape;
  /** dL/dy → dL/dx, and dL/d(parameter) for the layer's trained tensors */
  backward(dy: Vec): { dx: Vec; grads?: Record<string, Vec> };
}

/** One layer in float64: `pass` is its forward (reading `tensors`, which a train-mode batchnorm updates). */
export class ReferenceLayer {
  readonly grads: Record<string, Vec> = {};
  training = true;
  private last: ReferencePass | null = null;

  constructor(
    readonly tensors: ReferenceTensors,
    trained: string[],
    private readonly pass: (x: Vec, shape: Shape, training: boolean) => ReferencePass,
  ) {
    for (const name of trained) this.grads[name] = new Float64Array(tensors[name].data.length);
  }

  forward(x: Vec, shape: Shape): { y: Vec; shape: Shape } {
    this.last = this.pass(x, shape, this.training);
    return { y: this.last.y, shape: [...this.last.shape] };
  }

  backward(dy: Vec): Vec {
    if (!this.last) throw new Error('reference: backward() before forward()');
    const { dx, grads = {} } = this.last.backward(dy);
    for (const [name, g] of Object.entries(grads)) this.grads[name].forEach((_, i, a) => (a[i] += g[i]));
    return dx;
  }
}

/** A layer without tensors whose output has its input's shape (activations). */
export const pointwise = (pass: (x: Vec) => { y: Vec; dx: (dy: Vec) => Vec }) =>
  new ReferenceLayer({}, [], (x, shape) => {
    const { y, dx } = pass(x);
    return { y, shape, backward: (dy) => ({ dx: dx(dy) }) };
  });

/** An activation whose derivative is written with its output y (tanh' = 1 − y², σ' = σ(1 − σ)). */
export const pointwiseFromOutput = (forward: (x: Vec) => Vec, backward: (y: Vec, dy: Vec) => Vec) =>
  pointwise((x) => {
    const y = forward(x);
    return { y, dx: (dy) => backward(y, dy) };
  });

export class ReferenceSequential {
  constructor(readonly layers: ReferenceLayer[]) {}

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
    return this.layers.flatMap((l, i) => Object.entries(l.tensors).map(([k, t]) => [`main.${i}.${k}`, t.data] as [string, Vec]));
  }
}
