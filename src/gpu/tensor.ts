// A GPU tensor as storage: a shape and the buffer that holds its float32 values (row-major, NCHW for
// images), made, read, written, viewed and freed here, plus the memory scopes (tidy, keep) that free an
// iteration's intermediates. Launchers (src/kernels/) compute the values; the tape (src/autograd/tape.ts)
// keeps each tensor's place in the graph, and a tensor carries only the two fields of it that a user reads:
// requiresGrad and grad.
import { allocBuffer, readBuffers, releaseBuffer, writeBuffer } from './context.ts';

export type Shape = readonly number[];

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

/**
 * `poison`, when set, is called with every new tensor before any kernel writes it: the tests fill it with
 * NaN (poisonOutputs, test/support/check.ts), so an element a kernel skips fails its check. Storage knows
 * no kernel, so the fill is handed in from above.
 */
export const debug: { poison: ((t: Tensor) => void) | null } = { poison: null };

export class Tensor {
  readonly size: number;
  /** Whether backward() computes dL/d(this): set on parameters by hand, on op outputs by record() (src/autograd/tape.ts). */
  requiresGrad: boolean;
  /** dL/d(this) of a leaf (a parameter, an input), added up by backward() over its calls until zeroGrad(). */
  grad: Tensor | null = null;
  private disposed = false;
  private isView = false;

  constructor(readonly shape: Shape, readonly buffer: GPUBuffer, requiresGrad = false) {
    this.size = sizeOf(shape);
    this.requiresGrad = requiresGrad;
    scopes.at(-1)?.add(this);
  }

  /** A new tensor whose contents are undefined until a kernel writes them. */
  static empty(shape: Shape, what = 'tensor'): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d <= 0) throw new Error(`impossible shape ${shapeText(shape)} for ${what}: sizes must be positive integers`);
    }
    const t = new Tensor(shape, allocBuffer(sizeOf(shape) * 4, `${what} ${shapeText(shape)}`));
    debug.poison?.(t);
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

  /**
   * The same values, cut off from the graph: a view, which no op made, so backward() stops there. It
   * shares this tensor's buffer: disposing the view frees nothing, and it must not be used after this
   * tensor is disposed.
   */
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

  get isDisposed(): boolean {
    return this.disposed;
  }

  assertAlive(): void {
    if (this.disposed) throw new Error(`tensor ${shapeText(this.shape)} was used after dispose()`);
  }

  /** Give the buffer back to the pool (a view's belongs to the tensor it views). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.isView) releaseBuffer(this.buffer);
  }

  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }
}
