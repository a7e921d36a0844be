// A GPU tensor and the reverse-mode autograd tape, in the spirit of micrograd: every op makes its output
// and records a closure that maps the output's gradient to its inputs' gradients; backward() visits the
// graph in reverse topological order and accumulates (+=) into each input's .grad.
import { allocBuffer, readBuffers, releaseBuffer, writeBuffer } from '../gpu/context.ts';
// elementwise.ts imports Tensor too; the cycle is safe because each side only calls the other inside functions
import { add, copy, fill, fillInto } from '../kernels/elementwise.ts';

export type Shape = readonly number[];
/**
 * Given dL/d(output), return dL/d(input) for each input (null where an input needs no gradient).
 * Each returned gradient must be a new tensor: backward() frees them once accumulated.
 */
export type BackwardFn = (gradOutput: Tensor) => (Tensor | null)[];

export const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);
export const shapeText = (shape: Shape): string => `[${shape.join(',')}]`;

// ---- memory scopes: every tensor made inside tidy() is freed when it returns, except what it returns or keeps
let scopes: Set<Tensor>[] = [];

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const survivors = new Set<Tensor>(collectTensors(result));
  for (const t of scope) {
    if (survivors.has(t)) scopes.at(-1)?.add(t);
    else t.dispose();
  }
  return result;
}

/** Take a tensor out of every scope: it lives until disposed by hand (parameters, optimizer state, grads). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collectTensors(value: unknown): Tensor[] {
  if (value instanceof Tensor) return [value];
  if (Array.isArray(value)) return value.flatMap(collectTensors);
  if (value && typeof value === 'object') return Object.values(value).flatMap(collectTensors);
  return [];
}

// ---- no-grad scope: ops inside record nothing (evaluation, optimizer updates, sampling)
let gradEnabled = true;

export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

/** When set, every new output buffer is filled with NaN before its kernel runs, so tests catch unwritten elements. */
export const debug = { poisonOutputs: false };

export class Tensor {
  readonly size: number;
  grad: Tensor | null = null;
  private parents: Tensor[] = [];
  private backwardFn: BackwardFn | null = null;
  private disposed = false;

  constructor(
    readonly shape: Shape,
    readonly buffer: GPUBuffer,
    public requiresGrad = false,
  ) {
    this.size = sizeOf(shape);
    scopes.at(-1)?.add(this);
  }

  /** A new tensor whose contents are undefined until a kernel writes them. */
  static empty(shape: Shape, what = 'tensor'): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d <= 0) throw new Error(`impossible shape ${shapeText(shape)} for ${what}: sizes must be positive integers`);
    }
    const t = new Tensor(shape, allocBuffer(sizeOf(shape) * 4, `${what} ${shapeText(shape)}`));
    if (debug.poisonOutputs) fillInto(t, NaN);
    return t;
  }

  static fromArray(data: ArrayLike<number>, shape: Shape, requiresGrad = false): Tensor {
    if (data.length !== sizeOf(shape)) {
      throw new Error(`${data.length} values cannot fill a tensor of shape ${shapeText(shape)} (${sizeOf(shape)} values)`);
    }
    const t = Tensor.empty(shape, 'input');
    writeBuffer(t.buffer, Float32Array.from(data));
    t.requiresGrad = requiresGrad;
    return t;
  }

  async read(): Promise<Float32Array> {
    return (await Tensor.readAll([this]))[0];
  }

  /** Several tensors' values in one read-back: a copy each into one buffer, one submit, one map. */
  static async readAll(tensors: Tensor[]): Promise<Float32Array[]> {
    for (const t of tensors) t.assertAlive();
    const copies = await readBuffers(tensors.map((t) => ({ buffer: t.buffer, bytes: t.size * 4 })));
    return copies.map((c) => new Float32Array(c));
  }

  /** Overwrite the contents with CPU data (a new batch, a loaded checkpoint). */
  write(data: ArrayLike<number>): void {
    this.assertAlive();
    if (data.length !== this.size) throw new Error(`${data.length} values cannot fill a tensor of shape ${shapeText(this.shape)}`);
    writeBuffer(this.buffer, data instanceof Float32Array ? data : Float32Array.from(data));
  }

  /** The same values, cut off from the graph: gradients stop here. Shares the buffer, so do not dispose both. */
  detach(): Tensor {
    return this.view(this.shape);
  }

  /** The same buffer read under another shape of the same size (row-major, so no data moves); not in the graph. */
  view(shape: Shape): Tensor {
    if (sizeOf(shape) !== this.size) throw new Error(`cannot view ${shapeText(this.shape)} as ${shapeText(shape)}: sizes differ`);
    const view = new Tensor(shape, this.buffer, false);
    view.isView = true;
    return view;
  }

  private isView = false;

  get isDisposed(): boolean {
    return this.disposed;
  }

  assertAlive(): void {
    if (this.disposed) throw new Error(`tensor ${shapeText(this.shape)} was used after dispose()`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.isView) releaseBuffer(this.buffer);
    this.parents = [];
    this.backwardFn = null;
  }

  /** Called by ops: make `this` the output of an op on `inputs`, differentiated by `backward`. */
  record(inputs: Tensor[], backward: BackwardFn): this {
    if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
      this.requiresGrad = true;
      this.parents = inputs;
      this.backwardFn = backward;
    }
    return this;
  }

  /**
   * Reverse-mode differentiation from this tensor. `gradient` is dL/d(this); it defaults to ones for a scalar loss.
   * Leaves that require grad get (or accumulate into) .grad; intermediate gradients are freed as soon as used.
   */
  backward(gradient?: Tensor): void {
    if (!this.requiresGrad) throw new Error('backward() on a tensor that does not require grad: nothing to differentiate');
    if (!gradient && this.size !== 1) throw new Error(`backward() without a gradient needs a scalar, got ${shapeText(this.shape)}`);
    const order: Tensor[] = [];
    const seen = new Set<Tensor>();
    const visit = (t: Tensor) => {
      if (seen.has(t)) return;
      seen.add(t);
      for (const p of t.parents) visit(p);
      order.push(t);
    };
    visit(this);

    const grads = new Map<Tensor, Tensor>();
    grads.set(this, gradient ?? fill(this.shape, 1));
    for (const t of order.reverse()) {
      const g = grads.get(t);
      if (!g) continue;
      if (t.backwardFn) {
        const inputGrads = t.backwardFn(g);
        t.parents.forEach((p, i) => {
          const gi = inputGrads[i];
          if (!gi || !p.requiresGrad) {
            if (gi) gi.dispose();
            return;
          }
          const previous = grads.get(p);
          if (previous) {
            grads.set(p, add(previous, gi));
            previous.dispose();
            gi.dispose();
          } else grads.set(p, gi);
        });
        if (g !== gradient) g.dispose();
      } else if (t.parents.length === 0) {
        // a leaf (parameter or input): accumulate, as PyTorch does until zeroGrad
        keep(g);
        if (t.grad) {
          const sum = keep(add(t.grad, g));
          t.grad.dispose();
          g.dispose();
          t.grad = sum;
        } else t.grad = g === gradient ? keep(copy(g)) : g;
      }
    }
  }

  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }
}

