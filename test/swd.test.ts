// The sliced Wasserstein distance: properties of the float64 reference (src/reference/swd.ts) on real dog
// photos, its pyramid on known inputs, and the trainer's metric (src/metrics/swd.ts) against the reference.
// Small sets (64 photos of 32 px per set) keep the float64 loops to seconds.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeSquare } from '../src/node/data/decode.ts';
import { hwcBytesToNchwFloats } from '../src/train/data/loader.ts';
import { laplacianPyramid, slicedWassersteinDistance, swdResolutions } from '../src/reference/swd.ts';
import { RadixSorter, slicedWassersteinDistanceGpu } from '../src/metrics/swd.ts';
import { GanTraining, type TrainingConfig } from '../src/train/gan.ts';
import { runTraining } from '../src/train/loop.ts';
import { mulberry32 } from '../src/util/seeds.ts';
import { useGpu } from './support/node-device.ts';

useGpu();

const DOGS = path.resolve(import.meta.dirname, '../../shared/data/dogs');
const hasDogs = existsSync(DOGS);
if (!hasDogs) console.warn(`swd.test: ${DOGS} is absent, skipping the SWD tests on real dog photos`);

const SIZE = 32;
const COUNT = 64;

/** photos dog.{first}… dog.{first+count−1} as NCHW floats in [−1, 1] */
async function photos(first: number, count: number, size = SIZE): Promise<Float32Array> {
  const bytes = new Uint8Array(count * size * size * 3);
  for (let i = 0; i < count; i++) bytes.set(await decodeSquare(path.join(DOGS, `dog.${first + i}.jpg`), size), i * size * size * 3);
  const out = new Float32Array(bytes.length);
  hwcBytesToNchwFloats(bytes, count, size, out);
  return out;
}

/** each plane box-blurred 3x3 (clamped at the border): the same photos with their fine detail gone */
function blurred(images: Float32Array, size = SIZE): Float32Array {
  const out = new Float32Array(images.length);
  for (let o = 0; o < images.length; o += size * size)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
          s += images[o + Math.min(size - 1, Math.max(0, y + dy)) * size + Math.min(size - 1, Math.max(0, x + dx))];
        }
        out[o + y * size + x] = s / 9;
      }
  return out;
}

describe('laplacianPyramid', () => {
  it('has one level per octave down to 16 px; a constant image has empty Laplacian levels and keeps its value in the last', () => {
    expect(swdResolutions(64)).toEqual([64, 32, 16]);
    expect(swdResolutions(32)).toEqual([32, 16]);
    expect(swdResolutions(16)).toEqual([16]);
    expect(swdResolutions(8)).toEqual([8]);
    const levels = laplacianPyramid(new Float64Array(2 * 3 * 32 * 32).fill(0.25), 2, 32);
    expect(levels.map((l) => l.length)).toEqual([2 * 3 * 32 * 32, 2 * 3 * 16 * 16]);
    expect(Math.max(...levels[0].map(Math.abs))).toBeLessThan(1e-12); // blur and its mirrored border keep constants
    expect(Math.max(...levels[1].map((v) => Math.abs(v - 0.25)))).toBeLessThan(1e-12);
  });

  it('sums back to the image: g₀ = L₀ + up(g₁), so a random image is L₀ + (what the coarse level explains)', () => {
    // up(g₁) = g₀ − L₀ must be smooth: its 1-px differences are much smaller than those of the random image
    const random = mulberry32(3);
    const image = Float64Array.from({ length: 3 * 32 * 32 }, () => random());
    const [fine] = laplacianPyramid(image, 1, 32);
    const coarse = image.map((v, i) => v - fine[i]);
    const roughness = (x: Float64Array) => x.reduce((s, v, i) => s + (i % 32 === 31 ? 0 : Math.abs(x[i + 1] - v)), 0);
    expect(roughness(coarse)).toBeLessThan(0.3 * roughness(image));
  });
});

describe('RadixSorter', () => {
  it('pairs the ranks as a sort does: Σ|sort(a) − sort(b)| over floats of both signs, zeros and ties', () => {
    const random = mulberry32(5);
    const a = Float32Array.from({ length: 3001 }, (_, i) => (i % 7 === 0 ? 0 : i % 11 === 0 ? -0.5 : (random() - 0.4) * 10 ** (4 * random() - 2)));
    const b = Float32Array.from({ length: 3001 }, () => (random() - 0.6) * 3);
    const [sa, sb] = [Float64Array.from(a).sort(), Float64Array.from(b).sort()];
    const expected = sa.reduce((s, v, i) => s + Math.abs(v - sb[i]), 0);
    const sorter = new RadixSorter(3001);
    expect(sorter.sortedDistance(a.slice(), b.slice())).toBeCloseTo(expected, 6);
    expect(sorter.sortedDistance(a.slice(), a.slice().reverse())).toBe(0);
  });
});

// float64 loops of seconds each unloaded; minutes on 2 cores shared with other work
describe.skipIf(!hasDogs)(`slicedWassersteinDistance on ${COUNT} dog photos of ${SIZE} px per set`, { timeout: 600_000 }, () => {
  let realA: Float32Array;
  let realB: Float32Array;
  let realAvsB: number;
  beforeAll(async () => {
    [realA, realB] = [await photos(0, COUNT), await photos(COUNT, COUNT)];
    realAvsB = slicedWassersteinDistance(realA, realB, COUNT, SIZE, 1).average;
  }, 600_000);

  it('is exactly 0 between a set and itself', () => {
    const same = slicedWassersteinDistance(realA, realA, COUNT, SIZE, 1);
    expect(same.levels.map((l) => l.resolution)).toEqual([32, 16]);
    expect(same.average).toBe(0);
  });

  it('puts disjoint real photos far below real vs noise, and real vs blurred real in between', () => {
    const random = mulberry32(9);
    const noise = Float32Array.from(realA, () => 2 * random() - 1);
    const vsNoise = slicedWassersteinDistance(realA, noise, COUNT, SIZE, 1).average;
    const vsBlurred = slicedWassersteinDistance(realA, blurred(realB), COUNT, SIZE, 1).average;
    console.log(`SWD x1e3, ${COUNT} vs ${COUNT} photos of ${SIZE} px: real/real ${realAvsB.toFixed(1)}, real/blurred ${vsBlurred.toFixed(1)}, real/noise ${vsNoise.toFixed(1)}`);
    expect(realAvsB).toBeGreaterThan(0);
    // (64 photos a set: the real/real floor is ~6x that of 2,000, the sampling noise of 8,192 patches a level)
    expect(realAvsB).toBeLessThan(vsNoise / 3);
    expect(vsBlurred).toBeGreaterThan(1.3 * realAvsB);
    expect(vsBlurred).toBeLessThan(vsNoise / 2);
  });

  it('is reproducible from its seed, moves a little with another seed, and ignores the pixel scale', () => {
    expect(slicedWassersteinDistance(realA, realB, COUNT, SIZE, 1).average).toBe(realAvsB);
    const other = slicedWassersteinDistance(realA, realB, COUNT, SIZE, 2).average;
    expect(other).not.toBe(realAvsB);
    expect(Math.abs(other - realAvsB)).toBeLessThan(0.5 * realAvsB);
    // bytes 0…255 instead of [−1, 1]: an affine map of every pixel, undone by the per-channel standardisation
    const bytesA = realA.map((v) => 127.5 * (v + 1));
    expect(slicedWassersteinDistance(bytesA, realB, COUNT, SIZE, 1).average).toBeCloseTo(realAvsB, 6);
  });

  it('the trainer\'s metric (GPU projections, radix sorts) gives the reference\'s value, per level, up to float32 rounding', async () => {
    const reference = slicedWassersteinDistance(realA, realB, COUNT, SIZE, 1);
    // 5 images a chunk: the patches of each set span 13 uploads, the last one short
    const gpu = await slicedWassersteinDistanceGpu({ pixels: realA, count: COUNT }, { pixels: realB, count: COUNT }, SIZE, 1, 5);
    expect(gpu.levels.map((l) => l.resolution)).toEqual([32, 16]);
    for (const [i, level] of gpu.levels.entries()) expect(Math.abs(level.swd - reference.levels[i].swd) / reference.levels[i].swd).toBeLessThan(1e-4);
    expect(Math.abs(gpu.average - reference.average) / reference.average).toBeLessThan(1e-4);
    const same = await slicedWassersteinDistanceGpu({ pixels: realA, count: COUNT }, { pixels: realA, count: COUNT }, SIZE, 1);
    expect(same.average).toBe(0);
   }, 600_000);
});

describe('SWD in the training loop', () => {
  const config: TrainingConfig = { model: { imageSize: 16, nz: 8, ngf: 4, ndf: 4, nc: 3 }, batchSize: 4, lr: 2e-4, beta1: 0.5, seed: 5 };

  /** three epochs of two steps whose evaluations return `swds` in turn; what the loop logged and saved */
  async function run(swds: number[], bestSwd?: number) {
    const training = new GanTraining(config, 4);
    const log: Record<string, unknown>[] = [];
    const saved: { epoch: number; best: boolean }[] = [];
    const shown: boolean[] = [];
    let epochs = 0;
    try {
      await runTraining(training, {
        batch: async (epoch, index, target) => target.map((_, i) => Math.sin(i * 0.37 + epoch * 7.1 + index * 1.3)),
        log: (entry) => void log.push(entry),
        saveSamples: async (name) => name,
        saveCheckpoint: async (_bytes, position, _keepAs, best) => void saved.push({ epoch: position.epoch, best: best ?? false }),
        keptCheckpoint: () => null,
        shouldStop: () => false,
        evaluate: async () => ({ levels: [{ resolution: 16, swd: swds[epochs] }], average: swds[epochs++], images: 4, seconds: 0.1 }),
        onEvaluation: (_epoch, _e, best) => void shown.push(best),
      }, { epochs: swds.length, maxIters: Infinity, sampleEvery: 100, patience: 50, batchesPerEpoch: 2, position: { epoch: 0, batchInEpoch: 0 }, bestSwd });
    } finally {
      training.dispose();
    }
    return { evals: log.filter((e) => e.event === 'eval'), saved, shown };
  }

  it("logs each epoch's SWD and keeps the epoch with the lowest yet as the best checkpoint", async () => {
    const { evals, saved, shown } = await run([50, 40, 45]);
    expect(evals.map((e) => [e.epoch, e.iteration, e.swd, e.best])).toEqual([[1, 2, 50, true], [2, 4, 40, true], [3, 6, 45, false]]);
    expect(evals[0].levels).toEqual({ 16: 50 });
    expect(shown).toEqual([true, true, false]);
    // each epoch's end is checkpointed once (held, then written after the next healthy step; the last at once)
    expect(saved).toEqual([{ epoch: 1, best: true }, { epoch: 2, best: true }, { epoch: 3, best: false }]);
  });

  it('a resumed run keeps its best so far: only a lower SWD replaces it', async () => {
    const { saved } = await run([50, 30], 35);
    expect(saved.map((s) => s.best)).toEqual([false, true]);
  });
});
