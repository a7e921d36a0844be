// One way to time a piece of GPU work for every section of the benchmark: warm up once (pipelines
// compile, the buffer pool fills), then `repeat` calls under the profiler for GPU time per kernel, then
// `repeat` calls again without it for wall time. GPU time is the sum of the passes' timestamps divided
// by `repeat` (many dispatches, so Dawn's timestamp quantisation averages out); where the device has no
// timestamps, the wall time stands in. No Node imports.
import { sync } from '../src/gpu/context.ts';
import { profiler, wallTime, type KernelTiming } from '../src/gpu/profiler.ts';

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
  profiler.enable();
  let kernels: KernelTiming[];
  try {
    for (let i = 0; i < repeat; i++) await record();
    kernels = await profiler.read();
  } finally {
    profiler.disable();
    profiler.reset();
  }
  await sync();
  const gpuMs = profiler.hasTimestamps ? kernels.reduce((s, k) => s + k.totalMs, 0) / repeat : null;
  const wallMs = await wallTime(record, repeat);
  await sync();
  const dispatches = kernels.reduce((s, k) => s + k.count, 0) / repeat;
  return { ms: gpuMs ?? wallMs, gpuMs, wallMs, dispatches, repeat, kernels };
}
