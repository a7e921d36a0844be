// Shuffled float batches from the uint8 image cache, ready to upload to the GPU. Shared by both hosts:
// Node reads the cache file (src/node/data/cache.ts), the page its in-memory copy (web/dataset.ts).
//
// Reproducibility: the order of epoch e is a Fisher–Yates shuffle driven by a PRNG seeded from
// (seed, e) alone, so batch (e, i) is the same images whether the run started at epoch 0 or was
// resumed from a checkpoint at (e, i). `batch(epoch, index)` is the primitive; the iterator is
// sugar over it.
// Held-out photos (`holdout`, for the trainer's SWD, src/metrics/swd.ts) are never served: heldOutSplit picks
// them from the image count alone (a fixed seed, not the run's), so every run on the same photos holds out
// the same ones and their SWDs compare; the shuffle runs over the rest. With holdout 0 the order is the
// shuffle of all images, as before holdouts existed (runs started then resume unchanged).
import { mixSeeds, mulberry32 } from '../../util/seeds.ts';

/**
 * Where the loader reads images from: the uint8 cache file in Node (ImageCache), or the page's
 * in-memory copy of the same layout (web/dataset.ts). Only these members are used, so the loader and
 * its shuffle run unchanged in the browser.
 */
export interface ImageSource {
  readonly count: number;
  readonly imageSize: number;
  /** The images at `indices`, back to back in that order, each imageSize·imageSize·3 bytes (HWC RGB). */
  readImages(indices: ArrayLike<number>, target?: Uint8Array): Promise<Uint8Array>;
}

interface BatchLoaderOptions {
  batchSize: number;
  seed: number;
  /**
   * Drop the last, incomplete batch of each epoch (the default). BatchNorm statistics over a
   * 3-image remainder are noise, and a fixed batch shape keeps the GPU buffers fixed too.
   */
  dropLast?: boolean;
  /** images held out of training (heldOutSplit), default 0 */
  holdout?: number;
}

/** The seed of the held-out split: one for every run, so runs on the same photos hold out the same ones. */
const HOLDOUT_SEED = 0x401d0;

/**
 * `holdout` of `count` image indices chosen at random (seeded by the count alone), and the rest: both
 * ascending. The held-out photos are the first `holdout` of one Fisher–Yates shuffle of all indices.
 */
export function heldOutSplit(count: number, holdout: number): { heldOut: Uint32Array; training: Uint32Array } {
  if (!Number.isInteger(holdout) || holdout < 0 || (holdout > 0 && holdout >= count)) {
    throw new Error(`cannot hold out ${holdout} of ${count} images: give --holdout between 0 and ${count - 1}`);
  }
  const order = shuffledIndices(count, mulberry32(mixSeeds(HOLDOUT_SEED, count)));
  const heldOut = order.slice(0, holdout).sort();
  const held = new Uint8Array(count);
  for (const i of heldOut) held[i] = 1;
  const training = new Uint32Array(count - holdout);
  for (let i = 0, t = 0; i < count; i++) if (!held[i]) training[t++] = i;
  return { heldOut, training };
}

/** Pixel byte v → v/127.5 − 1, i.e. [0, 255] → [−1, 1], the range of the generator's tanh. */
const byteToUnit = Float32Array.from({ length: 256 }, (_, v) => v / 127.5 - 1);

export class BatchLoader {
  readonly batchSize: number;
  readonly seed: number;
  readonly dropLast: boolean;
  /** the cache indices never served (ascending), and those trained on (ascending) */
  readonly heldOut: Uint32Array;
  private readonly training: Uint32Array;
  private shuffledEpoch = -1;
  private shuffledOrder: Uint32Array = new Uint32Array(0);

  constructor(readonly cache: ImageSource, { batchSize, seed, dropLast = true, holdout = 0 }: BatchLoaderOptions) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
    ({ heldOut: this.heldOut, training: this.training } = heldOutSplit(cache.count, holdout));
    if (dropLast && batchSize > this.training.length) {
      const held = holdout > 0 ? ` (${cache.count} less the ${holdout} held out)` : '';
      throw new Error(`batch size ${batchSize} is larger than the ${this.training.length} images in the cache${held}: every batch would be dropped`);
    }
    this.batchSize = batchSize;
    this.seed = seed;
    this.dropLast = dropLast;
  }

  /** images served per epoch (the cache less the held-out ones, before dropping a last short batch) */
  get trainingCount(): number {
    return this.training.length;
  }

  get batchesPerEpoch(): number {
    const whole = Math.floor(this.trainingCount / this.batchSize);
    return this.dropLast || this.trainingCount % this.batchSize === 0 ? whole : whole + 1;
  }

  /** [channels, height, width] of one image in a batch. */
  get imageShape(): [number, number, number] {
    return [3, this.cache.imageSize, this.cache.imageSize];
  }

  /** The cache indices of epoch `epoch`, in the order they are served. */
  epochOrder(epoch: number): Uint32Array {
    if (epoch !== this.shuffledEpoch) {
      const positions = shuffledIndices(this.training.length, mulberry32(mixSeeds(this.seed, epoch)));
      this.shuffledOrder = positions.map((p) => this.training[p]);
      this.shuffledEpoch = epoch;
    }
    return this.shuffledOrder;
  }

  /**
   * Batch `index` of epoch `epoch`: NCHW float32 in [−1, 1], N = batchSize (smaller only for the
   * last batch when dropLast is false). Pass `target` to reuse a buffer instead of allocating.
   */
  async batch(epoch: number, index: number, target?: Float32Array): Promise<Float32Array> {
    if (!Number.isInteger(index) || index < 0 || index >= this.batchesPerEpoch) {
      throw new Error(`batch index ${index} out of range [0, ${this.batchesPerEpoch})`);
    }
    const start = index * this.batchSize;
    const indices = this.epochOrder(epoch).slice(start, Math.min(start + this.batchSize, this.trainingCount));
    const pixels = await this.cache.readImages(indices);
    const size = this.cache.imageSize;
    const out = target ?? new Float32Array(indices.length * 3 * size * size);
    if (out.length !== indices.length * 3 * size * size) {
      throw new Error(`batch target holds ${out.length} floats, expected ${indices.length}×3×${size}×${size}`);
    }
    hwcBytesToNchwFloats(pixels, indices.length, size, out);
    return out;
  }

  /** The batches of one epoch from `startIndex` on, reading batch i+1 while the caller works on batch i. */
  async *epochBatches(epoch: number, startIndex = 0): AsyncGenerator<Float32Array> {
    const count = this.batchesPerEpoch;
    const prefetch = (index: number) => {
      const promise = this.batch(epoch, index);
      promise.catch(() => {}); // if the caller stops early, a failed prefetch must not crash the process
      return promise;
    };
    let next = startIndex < count ? prefetch(startIndex) : undefined;
    for (let index = startIndex; index < count; index++) {
      const current = await next!;
      next = index + 1 < count ? prefetch(index + 1) : undefined;
      yield current;
    }
  }
}

/** Cache layout (image, y, x, channel) → tensor layout (image, channel, y, x), rescaled to [−1, 1]. */
export function hwcBytesToNchwFloats(pixels: Uint8Array, images: number, size: number, out: Float32Array): void {
  const plane = size * size;
  const lookup = byteToUnit; // a local alias: measurably faster in this hot loop than the module constant
  // One pass over the bytes in memory order, three sequential write streams (one per channel plane).
  for (let image = 0; image < images; image++) {
    const red = image * plane * 3;
    const green = red + plane;
    const blue = green + plane;
    let source = red;
    for (let p = 0; p < plane; p++) {
      out[red + p] = lookup[pixels[source++]];
      out[green + p] = lookup[pixels[source++]];
      out[blue + p] = lookup[pixels[source++]];
    }
  }
}

function shuffledIndices(count: number, random: () => number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = order[i];
    order[i] = order[j];
    order[j] = swap;
  }
  return order;
}
