// The profiler records one entry per kernel and shape, with the number of dispatches, when enabled,
// and nothing when disabled. Counts and names only: tests never judge times (benchmarks report them).
import { afterEach, describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { Tensor, tidy } from '../src/gpu/tensor.ts';
import { copy, fill } from '../src/kernels/elementwise.ts';
import { byKernel, profiler } from '../src/gpu/profiler.ts';
import { sync } from '../src/gpu/context.ts';

useGpu();

const COPY = 'shaders/elementwise.wgsl:copy';
const FILL = 'shaders/elementwise.wgsl:fill';

/** `n` copies of a fresh [rows, 4] tensor, all tensors freed afterwards. */
function copies(n: number, rows: number): void {
  tidy(() => {
    const a = fill([rows, 4], 1.5);
    for (let i = 0; i < n; i++) copy(a).dispose();
  });
}

describe('profiler', () => {
  afterEach(() => {
    profiler.disable();
    profiler.reset();
  });

  it('records each kernel and shape with its dispatch count when enabled', async () => {
    profiler.enable();
    copies(3, 2);
    copies(2, 5);
    const timings = await profiler.read();
    const copyAt = (shape: string) => timings.find((t) => t.kernel === COPY && t.shape === shape);
    expect(copyAt('[2,4]')?.count).toBe(3);
    expect(copyAt('[5,4]')?.count).toBe(2);
    expect(timings.some((t) => t.kernel === FILL)).toBe(true);
    for (const t of timings) expect(Number.isFinite(t.totalMs) && t.totalMs >= 0).toBe(true);
    const merged = byKernel(timings);
    expect(merged.find((t) => t.kernel === COPY)?.count).toBe(5);
    expect(new Set(merged.map((t) => t.kernel)).size).toBe(merged.length);
  });

  it('keeps counting past one query set (2048 passes) and across reads', async () => {
    profiler.enable();
    copies(2100, 1);
    await sync();
    copies(10, 1);
    expect((await profiler.read()).find((t) => t.kernel === COPY)?.count).toBe(2110);
    copies(1, 1);
    expect((await profiler.read()).find((t) => t.kernel === COPY)?.count).toBe(2111);
  });

  it('records nothing and hands out no timestamp writes when disabled', async () => {
    profiler.enable();
    copies(1, 3);
    profiler.disable();
    profiler.reset();
    copies(4, 3);
    const t = Tensor.fromArray([1, 2, 3, 4], [4]);
    copy(t).dispose();
    t.dispose();
    expect(await profiler.read()).toEqual([]);
    expect(profiler.passTimestamps(COPY, ' [4]')).toBeUndefined();
  });
});
