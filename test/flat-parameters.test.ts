// One buffer per network for its parameters, one for their gradients and one each for Adam's moments
// (src/model/layers.ts's Sequential, src/gpu/tensor.ts's TensorArena, src/optim/adam.ts): the slots are
// aligned and do not overlap, zeroGrad() clears every gradient, backward() adds a second gradient into
// the arena in one pass, and Adam's one dispatch over the whole arena moves every parameter exactly as
// one dispatch per parameter does (the same kernel, element by element, so bit for bit).
import { afterEach, describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { gpu } from '../src/gpu/context.ts';
import { byKernel, profiler } from '../src/gpu/profiler.ts';
import { Tensor, TensorArena, keep, tidy } from '../src/gpu/tensor.ts';
import { backward } from '../src/autograd/tape.ts';
import { bceWithLogits } from '../src/autograd/loss.ts';
import { fill } from '../src/kernels/elementwise.ts';
import { randomNormal } from '../src/kernels/random.ts';
import { Discriminator, seedStream, type DcganConfig } from '../src/model/dcgan.ts';
import { Adam } from '../src/optim/adam.ts';

useGpu();

const config: DcganConfig = { imageSize: 16, nz: 8, ngf: 4, ndf: 6, nc: 3 };
const ADAM = 'shaders/adam.wgsl:adam_update';
const ACCUMULATE = 'shaders/elementwise.wgsl:accumulate';

/** D's loss on a fixed batch, back-propagated: every parameter of D gets a gradient. */
function lossBackward(D: Discriminator, seed: number): void {
  tidy(() => {
    const images = randomNormal([3, config.nc, config.imageSize, config.imageSize], 0, 1, seed);
    backward(bceWithLogits(D.logits(images), fill([3, 1, 1, 1], 1)));
  });
}

const readAll = async (tensors: Tensor[]) => (await Tensor.readAll(tensors)).map((a) => Array.from(a));

describe('flat parameters', () => {
  afterEach(() => {
    profiler.disable();
    profiler.reset();
  });

  it('each parameter is a slot of one arena: aligned, in order, not overlapping; each gradient slot sits at the same offset of a twin', () => {
    const D = new Discriminator(config, seedStream(5));
    const alignment = gpu().device.limits.minStorageBufferOffsetAlignment;
    const params = D.parameters();
    expect(params.length).toBeGreaterThan(3);
    const arena = TensorArena.slotOf(params[0])!.arena;
    expect(arena).toBe(D.parameterArena);
    let end = 0;
    params.forEach((p, i) => {
      expect(p.buffer).toBe(arena.buffer);
      expect(TensorArena.slotOf(p)).toEqual({ arena, index: i });
      expect(p.byteOffset % alignment).toBe(0);
      expect(p.byteOffset).toBeGreaterThanOrEqual(end); // after the previous slot: no overlap
      end = p.byteOffset + p.size * 4;
      expect(p.gradSlot!.buffer).toBe(D.gradientArena!.buffer);
      expect(p.gradSlot!.byteOffset).toBe(p.byteOffset);
      expect(p.gradSlot!.shape).toEqual(p.shape);
    });
    expect(end).toBeLessThanOrEqual(arena.whole.size * 4);
    D.dispose();
  });

  it('zeroGrad() clears every gradient; a second backward() adds into all of them in one pass', async () => {
    const D = new Discriminator(config, seedStream(6));
    const params = D.parameters();
    lossBackward(D, 1);
    expect(params.every((p) => p.grad === p.gradSlot)).toBe(true);
    const once = await readAll(params.map((p) => p.grad!));
    D.zeroGrad();
    expect(params.every((p) => p.grad === null)).toBe(true);
    lossBackward(D, 1);
    expect(await readAll(params.map((p) => p.grad!))).toEqual(once); // nothing of the first left behind
    profiler.enable();
    lossBackward(D, 1); // no zeroGrad: adds
    const counts = byKernel(await profiler.read());
    expect(counts.find((k) => k.kernel === ACCUMULATE)?.count).toBe(1);
    const twice = await readAll(params.map((p) => p.grad!));
    twice.forEach((g, i) => g.forEach((v, j) => expect(v).toBe(Math.fround(2 * once[i][j]))));
    D.dispose();
  });

  it("Adam over the flat arenas is one dispatch and equals one dispatch per parameter, bit for bit (weight decay included)", async () => {
    const D = new Discriminator(config, seedStream(7));
    const params = D.parameters();
    // the same values in tensors of their own, with their gradients set by hand: Adam's per-parameter path
    const own = (await readAll(params)).map((v, i) => keep(Tensor.fromArray(v, params[i].shape, true)));
    const options = { lr: 1e-2, beta1: 0.5, weightDecay: 0.1 };
    const flat = new Adam(params, options);
    const perParameter = new Adam(own, options);
    for (let step = 1; step <= 3; step++) {
      D.zeroGrad();
      lossBackward(D, 10 + step);
      const grads = await readAll(params.map((p) => p.grad!));
      own.forEach((p, i) => {
        p.zeroGrad();
        p.grad = keep(Tensor.fromArray(grads[i], p.shape));
      });
      profiler.enable();
      flat.step();
      perParameter.step();
      const counts = byKernel(await profiler.read());
      profiler.disable();
      profiler.reset();
      expect(counts.find((k) => k.kernel === ADAM)?.count).toBe(1 + params.length);
    }
    expect(await readAll(params)).toEqual(await readAll(own));
    expect(await readAll(flat.state.flatMap((s) => [s.m, s.v]))).toEqual(await readAll(perParameter.state.flatMap((s) => [s.m, s.v])));
    expect(flat.state.map((s) => s.step)).toEqual(params.map(() => 3));
    // the padding between slots stays 0 in the arenas the whole-arena update wrote
    const whole = (await D.parameterArena!.whole.read());
    const used = new Set(params.flatMap((p) => Array.from({ length: p.size }, (_, j) => p.byteOffset / 4 + j)));
    expect(whole.every((v, i) => used.has(i) || v === 0)).toBe(true);
    flat.dispose();
    perParameter.dispose();
    for (const p of own) {
      p.zeroGrad();
      p.dispose();
    }
    D.dispose();
  });
});
