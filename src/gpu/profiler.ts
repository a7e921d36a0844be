// GPU time per kernel, from timestamp queries. When enabled (and the device has 'timestamp-query'),
// every compute pass Kernel.dispatch records carries timestampWrites for a pair of query slots; the
// slots live in query sets of QUERIES_PER_SET, a new set is taken when one fills, and a full set is
// resolved into a buffer inside the same command encoder right away. read() resolves the last partial
// set, maps every pending buffer, turns (end − begin) into milliseconds and adds them up per kernel
// and shape; the sets then go back to a free list for the next round.
// Disabled, dispatch pays one property test (`profiler.passTimestamps` returns undefined at once).
// Without timestamps, wallTime() brackets a batch of dispatches with queue.onSubmittedWorkDone().
//
// Dawn may quantise timestamps (Chrome rounds them to 100 µs unless unsafe APIs are allowed): a single
// short dispatch can read 0 or one quantum, but the sum over many dispatches of one kernel is unbiased,
// so time many repeats and divide, never a single pass.
// No Node imports: the browser bench uses this file unchanged.
import { encoder, flush, gpu, sync } from './context.ts';

/** WebGPU caps a query set at 4096 queries: 2048 passes per set. */
const QUERIES_PER_SET = 4096;

/** Time and count for one kernel at one shape (`what` of the dispatch, e.g. " [8,3,64,64] [64,3,4,4]"). */
export interface KernelTiming {
  /** `file:entry`, the Kernel's name */
  kernel: string;
  /** the shape tag of the dispatch, '' when the launcher gave none */
  shape: string;
  count: number;
  /** summed GPU time; 0 when timestamps are unavailable (counts are still recorded) */
  totalMs: number;
}

interface PendingRead {
  set: GPUQuerySet;
  /** MAP_READ copy of the resolved timestamps */
  staging: GPUBuffer;
  resolve: GPUBuffer;
  /** one entry per pass: the aggregation key of slots 2i and 2i+1 */
  keys: string[];
}

class Profiler {
  private enabled = false;
  private device: GPUDevice | null = null;
  private current: { set: GPUQuerySet; keys: string[] } | null = null;
  private freeSets: GPUQuerySet[] = [];
  private pending: PendingRead[] = [];
  private totals = new Map<string, KernelTiming>();

  /** Does this device give GPU timestamps? (Counting works either way.) */
  get hasTimestamps(): boolean {
    return gpu().device.features.has('timestamp-query');
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** Start recording; clears what was recorded before. */
  enable(): void {
    const device = gpu().device;
    if (device !== this.device) {
      this.device = device;
      this.freeSets = [];
      this.current = null;
      this.pending = [];
    }
    this.enabled = true;
    this.reset();
  }

  /** Stop recording. What was recorded stays readable with read(). */
  disable(): void {
    this.enabled = false;
  }

  /** Forget the totals (pending timestamps of passes already recorded are dropped too). */
  reset(): void {
    this.totals.clear();
    // submit first: a buffer destroyed while an unsubmitted encoder still copies into it would fail the submit
    if (this.pending.length) flush();
    for (const p of this.pending) this.recycle(p);
    this.pending = [];
    if (this.current) {
      this.freeSets.push(this.current.set);
      this.current = null;
    }
  }

  /**
   * Called by Kernel.dispatch for each compute pass. Counts the dispatch and returns the pass's
   * timestampWrites, or undefined when profiling is off or the device has no timestamps.
   */
  passTimestamps(kernel: string, shape: string): GPUComputePassTimestampWrites | undefined {
    if (!this.enabled) return undefined;
    const key = `${kernel}|${shape}`;
    const entry = this.totals.get(key) ?? { kernel, shape: shape.trim(), count: 0, totalMs: 0 };
    entry.count++;
    this.totals.set(key, entry);
    if (!this.hasTimestamps) return undefined;
    if (this.current && this.current.keys.length * 2 >= QUERIES_PER_SET) this.resolveCurrent();
    this.current ??= { set: this.takeSet(), keys: [] };
    const slot = this.current.keys.length * 2;
    this.current.keys.push(key);
    return { querySet: this.current.set, beginningOfPassWriteIndex: slot, endOfPassWriteIndex: slot + 1 };
  }

  /** Submit, read every pending timestamp back, and return the totals so far, slowest first. */
  async read(): Promise<KernelTiming[]> {
    if (this.current) this.resolveCurrent();
    flush();
    const pending = this.pending;
    this.pending = [];
    await Promise.all(pending.map((p) => p.staging.mapAsync(GPUMapMode.READ)));
    for (const p of pending) {
      const stamps = new BigInt64Array(p.staging.getMappedRange(0, p.keys.length * 16));
      p.keys.forEach((key, i) => {
        const ns = Number(stamps[2 * i + 1] - stamps[2 * i]);
        const entry = this.totals.get(key);
        // a pass the GPU reordered or a reset counter gives end < begin: count it as zero, never negative
        if (entry) entry.totalMs += Math.max(0, ns) / 1e6;
      });
      p.staging.unmap();
      this.recycle(p);
    }
    return [...this.totals.values()].sort((a, b) => b.totalMs - a.totalMs || b.count - a.count);
  }

  private takeSet(): GPUQuerySet {
    return this.freeSets.pop() ?? gpu().device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET, label: 'profiler' });
  }

  /** Resolve the current set into a buffer and queue its copy for read(); passes are already recorded before this point. */
  private resolveCurrent(): void {
    const current = this.current!;
    this.current = null;
    const device = gpu().device;
    const bytes = current.keys.length * 16;
    const resolve = device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'profiler resolve' });
    const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'profiler read' });
    const commands = encoder();
    commands.resolveQuerySet(current.set, 0, current.keys.length * 2, resolve, 0);
    commands.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
    this.pending.push({ set: current.set, staging, resolve, keys: current.keys });
  }

  private recycle(p: PendingRead): void {
    p.staging.destroy();
    p.resolve.destroy();
    this.freeSets.push(p.set);
  }
}

/** The engine's one profiler; Kernel.dispatch consults it for every pass. */
export const profiler = new Profiler();

/** Sum the per-shape timings of each kernel into one line per `file:entry`, slowest first. */
export function byKernel(timings: KernelTiming[]): KernelTiming[] {
  const merged = new Map<string, KernelTiming>();
  for (const t of timings) {
    const m = merged.get(t.kernel) ?? { kernel: t.kernel, shape: '', count: 0, totalMs: 0 };
    m.count += t.count;
    m.totalMs += t.totalMs;
    merged.set(t.kernel, m);
  }
  return [...merged.values()].sort((a, b) => b.totalMs - a.totalMs || b.count - a.count);
}

/**
 * Wall time of `repeat` calls of `record` (which records dispatches), from an idle queue to the
 * completion of the last one, in ms per call: the fallback where there are no timestamps, and the
 * honest end-to-end figure (submission, synchronisation and gaps included) where there are. With
 * `expectedMs` (what one call is known to take), the final wait sleeps through QUIET_SHARE of the time
 * still expected (sync's quietUntil), so Dawn's polling does not slow the calls on a software adapter.
 */
export async function wallTime(record: () => void | Promise<void>, repeat: number, expectedMs = 0): Promise<number> {
  await sync();
  const started = performance.now();
  for (let i = 0; i < repeat; i++) await record();
  await sync(quietUntil(started + repeat * expectedMs));
  return (performance.now() - started) / repeat;
}

/**
 * Timed waits sleep through this share of the time the work is still expected to take: 0.6 leaves room
 * for a call that runs faster than the one it is expected from.
 */
const QUIET_SHARE = 0.6;

/** The quietUntil of sync() for work expected to be done at `expectedEnd` (performance.now() time). */
export function quietUntil(expectedEnd: number): number {
  const now = performance.now();
  return now + QUIET_SHARE * Math.max(0, expectedEnd - now);
}
