// GPU memory stays flat across training iterations: after the first iteration every buffer comes from
// the pool, so nothing new is allocated, and no tensor leaks into the pool's "in use" set. And a step
// crosses the CPU–GPU boundary as little as it can: one submit, one read-back, no new buffer.
import { describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { gpu } from '../src/gpu/context.ts';
import { GanTraining } from '../src/train/gan.ts';

useGpu();

describe('memory', () => {
  it('a training iteration allocates nothing new after the first one', async () => {
    const training = new GanTraining({ model: { imageSize: 16, nz: 8, ngf: 4, ndf: 4, nc: 3 }, batchSize: 4, lr: 2e-4, beta1: 0.5, seed: 3 }, 8);
    const batch = new Float32Array(4 * 3 * 16 * 16).map((_, i) => Math.sin(i));
    const pooled = () => [...gpu().freeBuffers.values()].reduce((n, list) => n + list.length, 0);
    // iteration 1 allocates the working set (the parameter, gradient and Adam arenas among it: made once
    // with the model), iteration 2 whatever the pool had not yet settled
    await training.step(batch);
    await training.step(batch);
    const allocated = gpu().bytesAllocated;
    const free = pooled();
    for (let i = 0; i < 3; i++) {
      await training.step(batch);
      expect(gpu().bytesAllocated).toBe(allocated);
      expect(pooled()).toBe(free); // every buffer taken from the pool during a step went back to it
    }
    training.dispose();
  });

  it('a steady-state training step is one submit and one read-back, and creates no buffer and no bind group', async () => {
    const training = new GanTraining({ model: { imageSize: 16, nz: 8, ngf: 4, ndf: 4, nc: 3 }, batchSize: 4, lr: 2e-4, beta1: 0.5, seed: 4 }, 8);
    const batch = new Float32Array(4 * 3 * 16 * 16).map((_, i) => Math.cos(i));
    for (let i = 0; i < 4; i++) await training.step(batch); // the pool settles in a few steps
    for (let i = 0; i < 3; i++) {
      const before = { ...gpu().counters };
      const stats = await training.step(batch);
      expect(Number.isFinite(stats.lossD) && Number.isFinite(stats.lossG)).toBe(true);
      const after = gpu().counters;
      expect(after.submits - before.submits).toBe(1); // uploads, both updates and the stats copy: one encoder
      expect(after.readBacks - before.readBacks).toBe(1); // the six logging scalars together
      expect(after.buffersCreated - before.buffersCreated).toBe(0); // storage, upload and read-back buffers all pooled
      expect(after.bindGroupsCreated - before.bindGroupsCreated).toBe(0); // the same buffers bound to the same kernels
    }
    training.dispose();
  });
});
