// A GPU tensor as storage: a shape and the buffer that holds its float32 values (row-major, NCHW for
// images), made, read, written, viewed and freed here, plus the memory scopes (tidy, keep) that free an
// iteration's intermediates. Launchers (src/kernels/) compute the values; the tape (src/autograd/tape.ts)
// keeps each tensor's place in the graph, and a tensor carries only the two fields of it that a user reads:
// requiresGrad and grad. A tensor may also be one slot of an arena, a buffer shared by many tensors at
// aligned offsets (a network's parameters, gradients, Adam moments: TensorArena below).
import { allocBuffer, encoder, gpu, readBuffers, releaseBuffer, writeBuffer } from './context.ts';

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

/**
 * The bytes of a buffer one arena slot occupies. One object per slot, shared by every view of the slot:
 * kernels cache bind groups by it (src/gpu/kernel.ts), so the same slot finds the same bind group.
 */
export interface BufferRange {
  readonly buffer: GPUBuffer;
  /** in bytes, a multiple of minStorageBufferOffsetAlignment */
  readonly offset: number;
  /** in bytes */
  readonly size: number;
}

export class Tensor {
  readonly size: number;
  /** Whether backward() computes dL/d(this): set on parameters by hand, on op outputs by record() (src/autograd/tape.ts). */
  requiresGrad: boolean;
  /** dL/d(this) of a leaf (a parameter, an input), added up by backward() over its calls until zeroGrad(). */
  grad: Tensor | null = null;
  /**
   * Where backward() writes this leaf's gradient, when it has a place reserved: the leaf's slot in its
   * network's gradient arena (src/model/layers.ts's Sequential). backward() then sets grad to it rather
   * than to a tensor of its own, and zeroGrad() only unsets grad: nothing is freed or zeroed.
   */
  gradSlot: Tensor | null = null;
  private disposed = false;
  private isView = false;

  /** `range`: the slot of an arena this tensor occupies; null for a tensor that has its buffer to itself (from byte 0). */
  constructor(readonly shape: Shape, readonly buffer: GPUBuffer, requiresGrad = false, readonly range: BufferRange | null = null) {
    this.size = sizeOf(shape);
    this.requiresGrad = requiresGrad;
    scopes.at(-1)?.add(this);
  }

  /** Where the values start in `buffer`, in bytes. */
  get byteOffset(): number {
    return this.range?.offset ?? 0;
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

  /**
   * Several tensors' values in one read-back: a copy each into one buffer, one submit, one map. An arena
   * slot is first copied to a buffer of its own (read-backs copy from byte 0), freed once recorded.
   * `pace` names a read-back that repeats after about the same work, to wait for it quietly (readBuffers).
   */
  static async readAll(tensors: Tensor[], pace?: string): Promise<Float32Array[]> {
    for (const t of tensors) t.assertAlive();
    const staged: GPUBuffer[] = [];
    const sources = tensors.map((t) => {
      const bytes = t.size * 4;
      if (!t.range) return { buffer: t.buffer, bytes };
      const buffer = allocBuffer(bytes, 'read-back of an arena slot');
      encoder().copyBufferToBuffer(t.buffer, t.byteOffset, buffer, 0, bytes);
      staged.push(buffer);
      return { buffer, bytes };
    });
    const reading = readBuffers(sources, pace); // records its copies and submits before its first await
    for (const b of staged) releaseBuffer(b); // later work that reuses them runs after those copies
    return (await reading).map((c) => new Float32Array(c));
  }

  /** Overwrite the contents with CPU data (a new batch, a loaded checkpoint). */
  write(data: ArrayLike<number>): void {
    this.assertAlive();
    if (data.length !== this.size) throw new Error(`${data.length} values cannot fill a tensor of shape ${shapeText(this.shape)}`);
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    if (!this.range) return writeBuffer(this.buffer, values);
    // an arena slot: uploads land at byte 0, so through a buffer of its own, then copied into the slot
    const staging = allocBuffer(values.byteLength, 'upload to an arena slot');
    writeBuffer(staging, values);
    encoder().copyBufferToBuffer(staging, 0, this.buffer, this.byteOffset, values.byteLength);
    releaseBuffer(staging);
  }

  /** Overwrite the contents with those of `source` (same size): a copy in the command encoder, not a dispatch. */
  copyFrom(source: Tensor): void {
    this.assertAlive();
    source.assertAlive();
    if (source.size !== this.size) throw new Error(`cannot copy ${shapeText(source.shape)} into ${shapeText(this.shape)}: sizes differ`);
    encoder().copyBufferToBuffer(source.buffer, source.byteOffset, this.buffer, this.byteOffset, this.size * 4);
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
    const view = new Tensor(shape, this.buffer, false, this.range);
    view.isView = true;
    return view;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  assertAlive(): void {
    if (this.disposed) throw new Error(`tensor ${shapeText(this.shape)} was used after dispose()`);
  }

  /** Give the buffer back to the pool (a view's belongs to the tensor it views, an arena slot's to its arena). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.isView && !this.range) releaseBuffer(this.buffer);
  }

  /** Forget the gradient: a gradient of its own is freed, one in the gradient slot is only unset. */
  zeroGrad(): void {
    if (this.grad !== this.gradSlot) this.grad?.dispose();
    this.grad = null;
  }
}

/**
 * Several tensors in one buffer, as llm.c keeps every parameter in one allocation: each tensor is a slot
 * at an offset aligned for binding (minStorageBufferOffsetAlignment, 256 bytes on common adapters, so
 * each slot is padded to a multiple of 64 floats), and `whole` spans them all, so one dispatch can run
 * over every tensor at once (Adam's update of a network). The padding is zeroed once and never written
 * by a kernel of a slot, so a kernel over `whole` reads zeros there. A twin has the same layout: slot i
 * of a parameter arena, of its gradient arena and of its Adam moments sit at the same offset.
 */
export class TensorArena {
  readonly tensors: Tensor[];
  private scratchArena: TensorArena | null = null;
  /** every float of the buffer, padding included, as one tensor */
  readonly whole: Tensor;
  readonly buffer: GPUBuffer;

  constructor(readonly shapes: Shape[], readonly what: string) {
    const alignment = gpu().device.limits.minStorageBufferOffsetAlignment / 4; // in floats
    const offsets: number[] = [];
    let floats = 0;
    for (const shape of shapes) {
      offsets.push(floats);
      floats += Math.ceil(sizeOf(shape) / alignment) * alignment;
    }
    this.buffer = allocBuffer(Math.max(floats, 1) * 4, `${what} (${shapes.length} tensors)`);
    encoder().clearBuffer(this.buffer); // a pooled buffer holds old values; the padding must read 0
    const wholeRange = { buffer: this.buffer, offset: 0, size: Math.max(floats, 1) * 4 };
    this.whole = keep(new Tensor([Math.max(floats, 1)], this.buffer, false, wholeRange));
    this.tensors = shapes.map((shape, i) => {
      const range = { buffer: this.buffer, offset: offsets[i] * 4, size: sizeOf(shape) * 4 };
      slots.set(range, { arena: this, index: i });
      return keep(new Tensor(shape, this.buffer, false, range));
    });
  }

  /** The arena and slot index a tensor (or a view of it) occupies; null for a tensor of its own. */
  static slotOf(t: Tensor): { arena: TensorArena; index: number } | null {
    return (t.range && slots.get(t.range)) ?? null;
  }

  /** A twin kept by this arena for staging values to add into it in one pass (backward(), src/autograd/tape.ts). */
  scratch(): TensorArena {
    return (this.scratchArena ??= this.twin(`${this.what} scratch`));
  }

  /** A new arena of the same layout, zero-filled (a parameter arena's gradients, Adam's moments). */
  twin(what: string): TensorArena {
    return new TensorArena(this.shapes, what);
  }

  /** Whether `tensors` are this arena's slots, all of them, in order. */
  holds(tensors: readonly Tensor[]): boolean {
    return tensors.length === this.tensors.length && tensors.every((t, i) => t === this.tensors[i]);
  }

  /** The buffer goes back to the pool; the slots must not be used afterwards. */
  dispose(): void {
    for (const t of [...this.tensors, this.whole]) t.dispose(); // frees nothing: a slot's buffer is the arena's
    releaseBuffer(this.buffer);
    this.scratchArena?.dispose();
  }
}
const slots = new WeakMap<BufferRange, { arena: TensorArena; index: number }>();
