// A paced read-back (src/gpu/context.ts readBuffers) waits for work that repeats by sleeping through
// most of the time its previous runs took, instead of leaving Dawn's Node binding polling with
// setImmediate for the whole wait (a busy CPU core and ~13 MB of garbage per second). Checked here by
// counting the binding's setImmediate calls while the same GPU work is waited for both ways.
import { afterAll, describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { Tensor } from '../src/gpu/tensor.ts';
import { conv2dForward } from '../src/kernels/conv.ts';
import { gpu } from '../src/gpu/context.ts';

useGpu();

const original = globalThis.setImmediate;
let immediates = 0;
globalThis.setImmediate = ((...args: Parameters<typeof setImmediate>) => {
  immediates++;
  return original(...args);
}) as typeof setImmediate;
afterAll(() => {
  globalThis.setImmediate = original;
});

const x = Tensor.fromArray;
describe('paced read-backs', () => {
  it('return the same values, poll far less than unpaced ones for the same work, and keep uploads pooled', async () => {
    const input = x(new Float32Array(2 * 32 * 32 * 32).map((_, i) => Math.sin(i)), [2, 32, 32, 32]);
    const weight = x(new Float32Array(32 * 32 * 9).map((_, i) => Math.cos(i) * 0.1), [32, 32, 3, 3]);
    const upload = new Float32Array(input.size).map((_, i) => Math.sin(i));
    /** Some seconds of software-GPU work with an upload in front, read back paced or not; the polls it took. */
    const run = async (pace?: string): Promise<{ values: Float32Array; polls: number }> => {
      input.write(upload);
      let y = input;
      for (let i = 0; i < 3; i++) {
        const next = conv2dForward(y, weight, null, { stride: 1, padding: 1 });
        if (y !== input) y.dispose();
        y = next;
      }
      const before = immediates;
      const [values] = await Tensor.readAll([y], pace);
      y.dispose();
      return { values, polls: immediates - before };
    };
    const unpaced = await run();
    for (let i = 0; i < 3; i++) await run('test'); // the pace learns what the work takes
    const buffersBefore = gpu().counters.buffersCreated;
    let pacedPolls = 0;
    let unpacedPolls = 0;
    for (let i = 0; i < 3; i++) {
      const paced = await run('test');
      expect(paced.values).toEqual(unpaced.values);
      pacedPolls += paced.polls;
      unpacedPolls += (await run()).polls;
    }
    expect(gpu().counters.buffersCreated).toBe(buffersBefore); // the uploads went back to their pool
    expect(unpacedPolls).toBeGreaterThan(100); // the unpaced wait polls all through the work
    expect(pacedPolls, `polls over three waits: paced ${pacedPolls}, unpaced ${unpacedPolls}`).toBeLessThan(0.5 * unpacedPolls);
    input.dispose();
    weight.dispose();
  });
});
