// The generate view: a walk through the latent space between the noise of two seeds,
//   z(t) = (1 − t)·z_a + t·z_b,
// drawn by G in eval mode (running batchnorm statistics), as `npm run generate -- --interpolate --bn eval`
// does: the slider draws one image at a time, which train mode would normalize by its own statistics. The
// strip below shows eight evenly spaced steps of the same walk.
import { Tensor, keep } from '../src/gpu/tensor.ts';
import { randomNormal } from '../src/kernels/random.ts';
import { addScaled, scale } from '../src/kernels/elementwise.ts';
import type { Generator } from '../src/model/dcgan.ts';
import { sampleImages } from '../src/train/gan.ts';
import { imageAt, imageGrid } from '../src/train/images.ts';
import { paintImage } from './charts.ts';

const STRIP_STEPS = 8;

/** G's image for z(t), as NCHW floats of one image. */
async function imageFor(generator: Generator, a: Tensor, b: Tensor, t: number): Promise<Float32Array> {
  const scaledA = scale(a, 1 - t);
  const z = addScaled(scaledA, b, t);
  try {
    return await sampleImages(generator, z);
  } finally {
    scaledA.dispose();
    z.dispose();
  }
}

/** Draws the image at t into `single` and the strip of the whole walk into `strip`. */
export async function drawWalk(
  generator: Generator,
  nz: number,
  imageSize: number,
  seeds: [number, number],
  t: number,
  canvases: { single: HTMLCanvasElement; strip?: HTMLCanvasElement },
): Promise<void> {
  const a = keep(randomNormal([1, nz, 1, 1], 0, 1, seeds[0]));
  const b = keep(randomNormal([1, nz, 1, 1], 0, 1, seeds[1]));
  try {
    paintImage(canvases.single, imageAt(await imageFor(generator, a, b, t), 0, 3, imageSize));
    if (canvases.strip) {
      const frames: Float32Array[] = [];
      for (let i = 0; i < STRIP_STEPS; i++) frames.push(await imageFor(generator, a, b, i / (STRIP_STEPS - 1)));
      const all = new Float32Array(frames.reduce((n, f) => n + f.length, 0));
      frames.forEach((f, i) => all.set(f, i * f.length));
      paintImage(canvases.strip, imageGrid(all, STRIP_STEPS, 3, imageSize, STRIP_STEPS));
    }
  } finally {
    a.dispose();
    b.dispose();
  }
}
