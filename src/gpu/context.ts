// The engine's one GPU context: the device, a pool of storage buffers, and the command encoder that
// dispatches are recorded into. Work is submitted in batches (flush) and errors are collected per
// dispatch, so a failure names the kernel and shapes that caused it.

export interface GpuContext {
  device: GPUDevice;
  /** free storage buffers by byte size: training repeats the same shapes, so steady state allocates nothing */
  freeBuffers: Map<number, GPUBuffer[]>;
  encoder: GPUCommandEncoder | null;
  pendingErrors: Promise<string | null>[];
  lost: string | null;
  bytesAllocated: number;
}

let ctx: GpuContext | null = null;

export function useDevice(device: GPUDevice): void {
  ctx = { device, freeBuffers: new Map(), encoder: null, pendingErrors: [], lost: null, bytesAllocated: 0 };
  const current = ctx;
  device.lost.then((info) => {
    current.lost = `GPU device lost (${info.reason}): ${info.message}`;
  });
}

export function gpu(): GpuContext {
  if (!ctx) throw new Error('No GPU device: call nodeDevice() (Node) or browserDevice() + useDevice() (browser) first');
  if (ctx.lost) throw new Error(`${ctx.lost}. Restart the run; resume from the last checkpoint with --resume`);
  return ctx;
}

/** A storage buffer of at least `bytes`, reused from the pool when one of that size is free. */
export function allocBuffer(bytes: number, what: string): GPUBuffer {
  const c = gpu();
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  const limit = Math.min(c.device.limits.maxStorageBufferBindingSize, c.device.limits.maxBufferSize);
  if (size > limit) {
    throw new Error(
      `${what} needs ${size} bytes, more than this device's limit of ${limit} bytes per buffer: use a smaller batch size or image size`,
    );
  }
  const free = c.freeBuffers.get(size);
  if (free && free.length) return free.pop()!;
  c.bytesAllocated += size;
  return guarded(`allocating ${what} (${size} bytes)`, () =>
    c.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label: what,
    }),
  );
}

export function releaseBuffer(buffer: GPUBuffer): void {
  if (!ctx) return;
  const list = ctx.freeBuffers.get(buffer.size) ?? [];
  list.push(buffer);
  ctx.freeBuffers.set(buffer.size, list);
}

/** Runs `fn` inside validation and out-of-memory error scopes; a failure is reported at the next sync. */
export function guarded<T>(what: string, fn: () => T): T {
  const c = gpu();
  c.device.pushErrorScope('out-of-memory');
  c.device.pushErrorScope('validation');
  const result = fn();
  const validation = c.device.popErrorScope();
  const memory = c.device.popErrorScope();
  c.pendingErrors.push(
    Promise.all([validation, memory]).then(([v, m]) => {
      if (m) return `GPU out of memory in ${what}: use a smaller batch size or image size`;
      if (v) return `GPU validation error in ${what}: ${v.message}`;
      return null;
    }),
  );
  return result;
}

export function encoder(): GPUCommandEncoder {
  const c = gpu();
  c.encoder ??= c.device.createCommandEncoder();
  return c.encoder;
}

/** Submit what has been recorded so far. */
export function flush(): void {
  const c = gpu();
  if (!c.encoder) return;
  const commands = c.encoder.finish();
  c.encoder = null;
  c.device.queue.submit([commands]);
}

/** Submit, wait for the GPU, and throw the first error any dispatch since the last sync caused. */
export async function sync(): Promise<void> {
  const c = gpu();
  flush();
  await c.device.queue.onSubmittedWorkDone();
  await throwPendingErrors();
}

async function throwPendingErrors(): Promise<void> {
  const c = gpu();
  const errors = c.pendingErrors;
  c.pendingErrors = [];
  const messages = (await Promise.all(errors)).filter((m): m is string => m !== null);
  if (c.lost) throw new Error(c.lost);
  if (messages.length) throw new Error(messages[0] + (messages.length > 1 ? ` (and ${messages.length - 1} more errors)` : ''));
}

/** Copy a storage buffer back to the CPU. The only way data leaves the GPU. */
export async function readBuffer(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  const c = gpu();
  const size = Math.ceil(bytes / 4) * 4;
  const staging = c.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  encoder().copyBufferToBuffer(buffer, 0, staging, 0, size);
  flush();
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0, bytes);
  staging.destroy();
  await throwPendingErrors();
  return copy;
}

/**
 * Copy CPU data into a storage buffer. queue.writeBuffer runs before any unsubmitted dispatch, so we
 * submit those first: a pooled buffer may still be read by work recorded before it was released.
 */
export function writeBuffer(buffer: GPUBuffer, data: ArrayBufferView & { buffer: ArrayBufferLike }): void {
  flush();
  gpu().device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
}
