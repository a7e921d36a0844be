// The engine's one GPU context: the device, a pool of storage buffers, and the command encoder that
// dispatches are recorded into. Work is submitted in batches (flush). Errors are caught by one pair of
// error scopes per submitted batch (a scope pair per dispatch cost as much CPU time as the dispatch
// itself); every bind group is labelled with its kernel and shapes (so is each pass the profiler times;
// the other dispatches share one pass), so Dawn's message for a failure names the dispatch that caused it.
//
// Uploads and read-backs go through pooled mappable buffers, copied inside the same command encoder as
// the dispatches: a training step is then one encoder and one submit (its uploads are recorded in order
// with its kernels, and its logging read-back is one copy at the end), and allocates no buffer once the
// pools hold its sizes. `counters` lets the benchmark and the tests check that.
//
// Waiting quietly: Dawn's Node binding polls for finished GPU work with a setImmediate loop for as long
// as any map is pending, which keeps one CPU core busy and makes ~13 MB of garbage per second-long
// step (on a 2-core software adapter that core is half of the "GPU", and the garbage collector's pauses
// land in the next step's recording). A read-back that repeats (a training step's statistics) can be
// *paced*: it sleeps through most of the time its previous runs took before it asks for the map, and
// the upload buffers of the same work are re-mapped only once that read-back is in, when their map
// completes at once. See readBuffers.

interface GpuContext {
  device: GPUDevice;
  /** free storage buffers by byte size: training repeats the same shapes, so steady state allocates nothing */
  freeBuffers: Map<number, GPUBuffer[]>;
  encoder: GPUCommandEncoder | null;
  /** the compute pass dispatches are recorded into while nothing else needs the encoder */
  pass: GPUComputePassEncoder | null;
  pendingErrors: Promise<string | null>[];
  lost: string | null;
  bytesAllocated: number;
  /** upload buffers (MAP_WRITE | COPY_SRC), mapped and ready to fill, by byte size */
  freeUploads: Map<number, GPUBuffer[]>;
  /** upload buffers filled and copied in the current encoder: mapped again once it has run */
  uploadsInFlight: GPUBuffer[];
  /** submitted uploads waiting for a paced read-back to come in before they are mapped again, by submit number */
  uploadsToRecycle: { buffer: GPUBuffer; submit: number }[];
  /** paced read-backs submitted and not yet in */
  pacedReadsInFlight: number;
  /** per kind of paced read-back: what its recent runs took (see readBuffers) */
  pacing: Map<string, Pacing>;
  /** read-back buffers (MAP_READ | COPY_DST), unmapped, by byte size */
  freeDownloads: Map<number, GPUBuffer[]>;
  counters: GpuCounters;
}

/** Running totals of the work that crosses the CPU–GPU boundary (compare two snapshots). */
export interface GpuCounters {
  buffersCreated: number;
  bindGroupsCreated: number;
  submits: number;
  readBacks: number;
}

let ctx: GpuContext | null = null;

export function useDevice(device: GPUDevice): void {
  ctx = {
    device, freeBuffers: new Map(), encoder: null, pass: null, pendingErrors: [], lost: null, bytesAllocated: 0,
    freeUploads: new Map(), uploadsInFlight: [], uploadsToRecycle: [], pacedReadsInFlight: 0, pacing: new Map(), freeDownloads: new Map(),
    counters: { buffersCreated: 0, bindGroupsCreated: 0, submits: 0, readBacks: 0 },
  };
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
  c.counters.buffersCreated++;
  const buffer = guarded(`allocating ${what} (${size} bytes)`, () =>
    c.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label: what,
    }),
  );
  creationOrder.set(buffer, created++);
  return buffer;
}

/**
 * Storage buffers go back to the pool in creation order (the free list of a size is kept sorted, oldest
 * last, and allocBuffer takes the oldest): which buffer a tensor gets then depends only on which buffers
 * are free, not on the order they were freed in, so every training step binds the same buffers to the
 * same kernels and finds its bind groups cached (src/gpu/kernel.ts). With last-in-first-out reuse the
 * gradients that live from one step into the next rotated the buffers, and ~80 bind groups were created
 * anew every step.
 */
export function releaseBuffer(buffer: GPUBuffer): void {
  if (!ctx) return;
  const list = ctx.freeBuffers.get(buffer.size) ?? [];
  const age = creationOrder.get(buffer) ?? 0;
  let i = list.length;
  while (i > 0 && (creationOrder.get(list[i - 1]) ?? 0) < age) i--;
  list.splice(i, 0, buffer);
  ctx.freeBuffers.set(buffer.size, list);
}
const creationOrder = new WeakMap<GPUBuffer, number>();
let created = 0;

function pushFree(pool: Map<number, GPUBuffer[]>, buffer: GPUBuffer): void {
  const list = pool.get(buffer.size) ?? [];
  list.push(buffer);
  pool.set(buffer.size, list);
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

/** The command encoder of the current batch, for copies and passes (an open shared pass is ended first). */
export function encoder(): GPUCommandEncoder {
  const c = gpu();
  if (c.pass) {
    c.pass.end();
    c.pass = null;
  }
  if (!c.encoder) {
    // the batch's error scopes: popped in flush, after the submit, so submit-time errors count too
    c.device.pushErrorScope('out-of-memory');
    c.device.pushErrorScope('validation');
    c.encoder = c.device.createCommandEncoder();
  }
  return c.encoder;
}

/**
 * A compute pass to record a dispatch into: one pass shared by consecutive dispatches (beginning and
 * ending a pass per dispatch costs CPU time), or with `timestampWrites` (the profiler) a pass of its own,
 * which the caller ends.
 */
export function computePass(label: string, timestampWrites?: GPUComputePassTimestampWrites): GPUComputePassEncoder {
  const c = gpu();
  if (timestampWrites) return encoder().beginComputePass({ label, timestampWrites });
  if (!c.pass) c.pass = encoder().beginComputePass({ label: 'dispatches' });
  return c.pass;
}

/** Submit what has been recorded so far; its upload buffers return to the pool once it has run. */
export function flush(): void {
  const c = gpu();
  if (!c.encoder) return;
  const commands = encoder().finish();
  c.encoder = null;
  c.device.queue.submit([commands]);
  c.counters.submits++;
  const validation = c.device.popErrorScope();
  const memory = c.device.popErrorScope();
  c.pendingErrors.push(
    Promise.all([validation, memory]).then(([v, m]) => {
      if (m) return `GPU out of memory: ${m.message}. Use a smaller batch size or image size`;
      if (v) return `GPU validation error: ${v.message}`;
      return null;
    }),
  );
  // while a paced read-back is out, these wait for it (mapping them now would keep Dawn polling)
  for (const upload of c.uploadsInFlight) {
    if (c.pacedReadsInFlight > 0) c.uploadsToRecycle.push({ buffer: upload, submit: c.counters.submits });
    else recycleUpload(c, upload);
  }
  c.uploadsInFlight = [];
}

function recycleUpload(c: GpuContext, upload: GPUBuffer): void {
  upload.mapAsync(GPUMapMode.WRITE).then(() => pushFree(c.freeUploads, upload), () => upload.destroy());
}

/** Map again the waiting uploads of submits up to `submit` (that work has run), or all of them. */
function recycleUploads(c: GpuContext, submit = Infinity): void {
  const waiting = c.uploadsToRecycle;
  c.uploadsToRecycle = [];
  for (const u of waiting) {
    if (u.submit <= submit) recycleUpload(c, u.buffer);
    else c.uploadsToRecycle.push(u);
  }
}

/**
 * Submit, wait for the GPU, and throw the first error any dispatch since the last sync caused. With
 * `quietUntil` (a performance.now() time before which the work cannot be done), sleep until then before
 * asking Dawn, with the uploads held back as for a paced read-back (readBuffers): a timed wait that does
 * not take a core from the work it times.
 */
export async function sync(quietUntil?: number): Promise<void> {
  const c = gpu();
  const quiet = quietUntil !== undefined && quietUntil - performance.now() >= 1;
  if (quiet) c.pacedReadsInFlight++;
  flush();
  try {
    if (quiet) await new Promise((resolve) => setTimeout(resolve, quietUntil - performance.now()));
    await c.device.queue.onSubmittedWorkDone();
  } finally {
    if (quiet) c.pacedReadsInFlight--;
    recycleUploads(c, c.pacedReadsInFlight > 0 ? c.counters.submits : Infinity);
  }
  await throwErrors(takePendingErrors());
}

/** The error scopes of everything submitted so far; what is submitted later is reported at a later sync. */
function takePendingErrors(): Promise<string | null>[] {
  const c = gpu();
  const errors = c.pendingErrors;
  c.pendingErrors = [];
  return errors;
}

async function throwErrors(errors: Promise<string | null>[]): Promise<void> {
  const c = gpu();
  const messages = (await Promise.all(errors)).filter((m): m is string => m !== null);
  if (c.lost) throw new Error(c.lost);
  if (messages.length) throw new Error(messages[0] + (messages.length > 1 ? ` (and ${messages.length - 1} more errors)` : ''));
}

/** What the recent runs of one kind of paced read-back took, for the next one's sleep. */
interface Pacing {
  /** GPU time of the last few runs: from when the GPU could start the work to when its map came in, ms */
  recentMs: number[];
  /** the wait of the last one submitted: the next one's work starts on the GPU once it is in */
  previous: Promise<void>;
}

/**
 * A paced read-back sleeps through this share of the shortest of the last PACED_RUNS_KEPT runs, then
 * waits for the map; with fewer than two runs seen it does not sleep (the first one of a kind also
 * compiled its pipelines, or waited behind other work).
 */
const PACED_SLEEP_SHARE = 0.85;
const PACED_RUNS_KEPT = 3;

/**
 * Copy several storage buffers back to the CPU with one copy each into one read-back buffer, one submit
 * and one map: the only way data leaves the GPU (a training step reads its logging scalars this way).
 * Not an async function on purpose: the copies are recorded and submitted before it returns, so the
 * sources may be freed and overwritten by later work at once (the queue runs the copy first), and the
 * caller may record the next step while this read-back is in flight (src/train/loop.ts does). Each
 * read-back has a staging buffer of its own from the pool (two in flight: two buffers), and waits only
 * for the errors of the work submitted up to its own copy: waiting for later ones would hold the
 * result until the next step had run too.
 *
 * `pace` names a read-back that repeats with about the same work before it (the training step's
 * statistics): it then sleeps (setTimeout: no polling, no garbage) for 85% of the shortest of its last
 * three runs before it asks for the map, counting from when the GPU can start it (its submit, or when
 * the previous read-back of its kind came in, if that was later). A sleep too short leaves Dawn
 * polling for the rest, as every read did before; one too long delays the result, and the run it then
 * measures is shorter, so the next sleep is shorter: the estimate only errs towards waking early.
 */
export function readBuffers(sources: { buffer: GPUBuffer; bytes: number }[], pace?: string): Promise<ArrayBuffer[]> {
  const c = gpu();
  const offsets: number[] = [];
  let size = 0;
  for (const { bytes } of sources) {
    offsets.push(size);
    size += Math.ceil(bytes / 4) * 4;
  }
  const staging = takeMappable(c.freeDownloads, size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'read-back');
  sources.forEach(({ buffer, bytes }, i) => encoder().copyBufferToBuffer(buffer, 0, staging, offsets[i], Math.ceil(bytes / 4) * 4));
  if (pace) c.pacedReadsInFlight++;
  flush();
  c.counters.readBacks++;
  const ranges = sources.map(({ bytes }, i): [number, number] => [offsets[i], offsets[i] + bytes]);
  return mapStaging(c, staging, ranges, takePendingErrors(), pace);
}

async function mapStaging(c: GpuContext, staging: GPUBuffer, ranges: [number, number][], errors: Promise<string | null>[],
  pace?: string): Promise<ArrayBuffer[]> {
  const submit = c.counters.submits;
  try {
    if (pace) await pacedMap(c, staging, pace);
    else await staging.mapAsync(GPUMapMode.READ);
  } catch (e) {
    await throwErrors(errors);
    throw e;
  } finally {
    if (pace) {
      c.pacedReadsInFlight--;
      recycleUploads(c, c.pacedReadsInFlight > 0 ? submit : Infinity); // nothing left to wait for: map them all
    }
  }
  const mapped = staging.getMappedRange();
  const copies = ranges.map(([start, end]) => mapped.slice(start, end));
  staging.unmap();
  pushFree(c.freeDownloads, staging);
  await throwErrors(errors);
  return copies;
}

/** Sleep through most of the expected GPU time of this paced read-back, then map it; learn what it took. */
async function pacedMap(c: GpuContext, staging: GPUBuffer, pace: string): Promise<void> {
  const submittedAt = performance.now();
  let p = c.pacing.get(pace);
  if (!p) c.pacing.set(pace, (p = { recentMs: [], previous: Promise.resolve() }));
  const pacing = p;
  const previous = pacing.previous;
  const wait = (async () => {
    // the GPU runs submits in order: this work starts once the previous one of its kind is in (waiting
    // for that one polls only as much as that one's own wait does)
    await previous;
    const startsAt = Math.max(submittedAt, performance.now());
    const estimateMs = pacing.recentMs.length >= 2 ? Math.min(...pacing.recentMs) : 0;
    const sleepMs = startsAt + PACED_SLEEP_SHARE * estimateMs - performance.now();
    if (sleepMs >= 1) await new Promise((resolve) => setTimeout(resolve, sleepMs));
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } finally {
      pacing.recentMs = [...pacing.recentMs, performance.now() - startsAt].slice(-PACED_RUNS_KEPT);
    }
  })();
  pacing.previous = wait.catch(() => undefined); // a failed read-back does not hold up the next one
  await wait;
}

/**
 * Copy CPU data into a storage buffer: filled into a pooled upload buffer, then a copy recorded in the
 * current encoder, so it lands in order with the dispatches around it (queue.writeBuffer would land
 * before every unsubmitted dispatch, and would force a submit to keep that order).
 */
export function writeBuffer(buffer: GPUBuffer, data: ArrayBufferView & { buffer: ArrayBufferLike }): void {
  const c = gpu();
  const size = Math.ceil(data.byteLength / 4) * 4;
  const upload = takeMappable(c.freeUploads, size, GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC, 'upload');
  new Uint8Array(upload.getMappedRange(0, size)).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  upload.unmap();
  encoder().copyBufferToBuffer(upload, 0, buffer, 0, size);
  c.uploadsInFlight.push(upload);
}

/** A pooled buffer of exactly `size` bytes for uploads (created mapped) or read-backs (created unmapped). */
function takeMappable(pool: Map<number, GPUBuffer[]>, size: number, usage: GPUBufferUsageFlags, what: string): GPUBuffer {
  const free = pool.get(size);
  if (free && free.length) return free.pop()!;
  const c = gpu();
  c.counters.buffersCreated++;
  const mappedAtCreation = (usage & GPUBufferUsage.MAP_WRITE) !== 0;
  return guarded(`allocating a ${what} buffer (${size} bytes)`, () => c.device.createBuffer({ size, usage, mappedAtCreation, label: what }));
}
