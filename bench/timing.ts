// One way to time a piece of GPU work for every section of the benchmark: warm up once (pipelines
// compile, the buffer pool fills), time one call (what the waits after it may sleep through: a wait
// that polls takes a core from a software adapter), then `repeat` calls under the profiler for GPU
// time per kernel, then `repeat` calls again without it for wall time. GPU time is the sum of the passes' timestamps divided
// by `repeat` (many dispatches, so Dawn's timestamp quantisation averages out); where the device has no
// timestamps, the wall time stands in. No Node imports.
import { sync } from '../src/gpu/context.ts';
import { profiler, quietUntil, wallTime, type KernelTiming } from '../src/gpu/profiler.ts';

export interface Timing {
  /** the figure to report, ms per call: GPU time where timestamps exist, else wall time */
  ms: number;
  /** summed GPU pass time per call, null without timestamps */
  gpuMs: number | null;
  /** submit-to-done wall time per call, with no profiling on */
  wallMs: number;
  /** compute passes per call */
  dispatches: number;
  repeat: number;
  /** per kernel and shape, summed over the `repeat` profiled calls */
  kernels: KernelTiming[];
}

export async function timeDispatches(record: () => void | Promise<void>, repeat: number): Promise<Timing> {
  await record();
  await sync();
  // one more call, timed, so that the waits below can sleep through most of theirs (wallTime's expectedMs)
  const once = performance.now();
  await record();
  await sync();
  const onceMs = performance.now() - once;
  profiler.enable();
  let kernels: KernelTiming[];
  try {
    const started = performance.now();
    for (let i = 0; i < repeat; i++) await record();
    await sync(quietUntil(started + repeat * onceMs));
    kernels = await profiler.read();
  } finally {
    profiler.disable();
    profiler.reset();
  }
  await sync();
  const gpuMs = profiler.hasTimestamps ? kernels.reduce((s, k) => s + k.totalMs, 0) / repeat : null;
  const wallMs = await wallTime(record, repeat, onceMs);
  await sync();
  const dispatches = kernels.reduce((s, k) => s + k.count, 0) / repeat;
  return { ms: gpuMs ?? wallMs, gpuMs, wallMs, dispatches, repeat, kernels };
}
