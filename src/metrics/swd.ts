// The sliced Wasserstein distance of the trainer (SWD x 1e3 between generated images and held-out photos),
// computed as src/reference/swd.ts specifies it, with the same seeded patch centres and directions, in float32.
// Where each part runs, by measurement on lavapipe (2 cores) at 1,000 images of 32 px (README, "Sample quality"):
//   - the Laplacian pyramid and the patch gather: on the CPU, 128 images at a time (a few % of the time);
//     each set's descriptors go up as one tensor when the adapter's buffer limit allows (1,000 images: 75 MB);
//   - the projections, [147 x patches] descriptors onto 512 directions, a GEMM of 2 x 19 G multiply-adds: the
//     engine's conv2d kernel as a 1x1 conv, x [1, 147, 1, patches] (the descriptor components as channels),
//     w [directions, 147, 1, 1]: y [1, directions, 1, patches] has one row per direction, ready to sort;
//   - the standardisation (per set and colour channel) folded into that conv instead of a pass over the
//     descriptors: Σ_ck d_ck (x_ck − m_c)/s_c = Σ_ck (d_ck/s_c) x_ck − Σ_c (m_c/s_c) Σ_k d_ck, a weight and a bias
//     per set;
//   - the sorts (1,024 rows of 128,000 per level): on the CPU, an LSD radix sort on the floats' bits.
// No Node imports: the page computes it with the same code.
import { gpu } from '../gpu/context.ts';
import { Tensor } from '../gpu/tensor.ts';
import { conv2dForward } from '../kernels/conv.ts';
import { randomNormal } from '../kernels/random.ts';
import { mixSeeds } from '../util/seeds.ts';
import { hwcBytesToNchwFloats } from '../train/data/loader.ts';
import type { Evaluation } from '../train/loop.ts';
import {
  laplacianPyramid, patchCentres, swdResolutions, unitDirections,
  SWD_DESCRIPTOR_LENGTH, SWD_DIRECTIONS, SWD_PATCH_SIZE, SWD_PATCHES_PER_IMAGE, type SwdResult,
} from '../reference/swd.ts';

/** directions projected per dispatch: 128 rows fill the GEMM's 128 tile (on lavapipe 0.8 G multiply-adds/s, 64 rows 0.6) */
const DIRECTIONS_PER_BLOCK = 128;
/** images whose pyramid is computed at once (float64: bounded memory) */
const PYRAMID_BATCH = 128;

/**
 * Images per chunk of patches (one upload, one tensor, one conv per direction block): as many as both the
 * descriptors and a block's projections allow in one buffer, so that usually each set is one chunk and a
 * direction's row is a view of the read-back, not a copy. (The tests take fewer.)
 */
function imagesPerChunk(): number {
  const { limits } = gpu().device;
  const bytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  return Math.max(1, Math.floor(bytes / (4 * SWD_PATCHES_PER_IMAGE * Math.max(SWD_DESCRIPTOR_LENGTH, DIRECTIONS_PER_BLOCK))));
}

/** A set of `count` RGB images of `size` px, NCHW, any pixel scale (SWD standardises). */
interface ImageSet {
  pixels: Float32Array;
  count: number;
}

/** One set's raw descriptors of a level on the GPU, in chunks, with the per-channel mean and std of the set. */
interface LevelDescriptors {
  chunks: Tensor[];
  /** patches per chunk (the last may hold fewer) */
  columns: number[];
  mean: number[];
  std: number[];
}

/**
 * The descriptors of level `level` of a set: raw 7x7x3 patches at the reference's centres, uploaded chunk by
 * chunk as x [1, 147, 1, patches] (component-major), and the set's per-channel statistics for standardising.
 */
function levelDescriptors(set: ImageSet, size: number, level: number, seed: number, imagesPerChunk: number): LevelDescriptors {
  const resolution = swdResolutions(size)[level];
  const centres = patchCentres(seed, level, set.count, resolution);
  const half = SWD_PATCH_SIZE >> 1;
  const area = SWD_PATCH_SIZE * SWD_PATCH_SIZE;
  const sums = [0, 0, 0];
  const squares = [0, 0, 0];
  const chunks: Tensor[] = [];
  const columns: number[] = [];
  const perImage = 3 * size * size;
  for (let first = 0; first < set.count; first += imagesPerChunk) {
    const images = Math.min(imagesPerChunk, set.count - first);
    const patches = images * SWD_PATCHES_PER_IMAGE;
    const x = new Float32Array(SWD_DESCRIPTOR_LENGTH * patches);
    let pyramid: Float64Array = new Float64Array(0);
    let pyramidFirst = 0;
    for (let p = 0; p < patches; p++) {
      const inChunk = Math.floor(p / SWD_PATCHES_PER_IMAGE);
      if (inChunk % PYRAMID_BATCH === 0 && p % SWD_PATCHES_PER_IMAGE === 0) {
        const batch = Math.min(PYRAMID_BATCH, images - inChunk);
        pyramidFirst = first + inChunk;
        pyramid = laplacianPyramid(set.pixels.subarray(pyramidFirst * perImage, (pyramidFirst + batch) * perImage), batch, size)[level];
      }
      const image = first + inChunk - pyramidFirst;
      const at = 2 * (first * SWD_PATCHES_PER_IMAGE + p);
      const [cy, cx] = [centres[at], centres[at + 1]];
      for (let c = 0; c < 3; c++) {
        let s = 0;
        let q = 0;
        for (let dy = -half; dy <= half; dy++) {
          const row = ((image * 3 + c) * resolution + cy + dy) * resolution + cx;
          for (let dx = -half; dx <= half; dx++) {
            const v = pyramid[row + dx];
            x[(c * area + (dy + half) * SWD_PATCH_SIZE + dx + half) * patches + p] = v;
            s += v;
            q += v * v;
          }
        }
        sums[c] += s;
        squares[c] += q;
      }
    }
    chunks.push(Tensor.fromArray(x, [1, SWD_DESCRIPTOR_LENGTH, 1, patches]));
    columns.push(patches);
  }
  const n = set.count * SWD_PATCHES_PER_IMAGE * area;
  const mean = sums.map((s) => s / n);
  // population std, as the reference; a constant channel is left unscaled (the reference's `|| 1`)
  const std = squares.map((q, c) => Math.sqrt(Math.max(q / n - mean[c] ** 2, 0)) || 1);
  return { chunks, columns, mean, std };
}

/** The weight d_ck / s_c and bias −Σ_c (m_c / s_c) Σ_k d_ck that project a set's raw descriptors as standardised ones. */
function standardisedProjection(directions: Float64Array, first: number, count: number, set: LevelDescriptors): [Tensor, Tensor] {
  const n = SWD_DESCRIPTOR_LENGTH;
  const area = n / 3;
  const w = new Float32Array(count * n);
  const bias = new Float32Array(count);
  for (let d = 0; d < count; d++) {
    let offset = 0;
    for (let k = 0; k < n; k++) {
      const c = Math.floor(k / area);
      const v = directions[(first + d) * n + k] / set.std[c];
      w[d * n + k] = v;
      offset += v * set.mean[c];
    }
    bias[d] = -offset;
  }
  return [Tensor.fromArray(w, [count, n, 1, 1]), Tensor.fromArray(bias, [count])];
}

/**
 * Projections of both sets on directions [first, first + count) of a level, submitted now; resolves to
 * rows[set][direction] = the projections of all of that set's patches (not sorted yet).
 */
function project(sets: LevelDescriptors[], directions: Float64Array, first: number, count: number): Promise<Float32Array[][]> {
  const outputs: Tensor[][] = sets.map((set) => {
    const [w, bias] = standardisedProjection(directions, first, count, set);
    const ys = set.chunks.map((x) => conv2dForward(x, w, bias, { stride: 1, padding: 0 }));
    w.dispose();
    bias.dispose();
    return ys;
  });
  const reading = Tensor.readAll(outputs.flat());
  for (const y of outputs.flat()) y.dispose(); // the read-back's copies are recorded: the buffers may go back to the pool
  return reading.then((values) => {
    let next = 0;
    return sets.map((set) => {
      const total = set.columns.reduce((a, b) => a + b, 0);
      if (set.columns.length === 1) {
        const y = values[next++]; // one chunk: each direction's row is a view of the read-back
        return Array.from({ length: count }, (_, d) => y.subarray(d * total, (d + 1) * total));
      }
      const rows = Array.from({ length: count }, () => new Float32Array(total));
      let at = 0;
      for (const cols of set.columns) {
        const y = values[next++];
        for (let d = 0; d < count; d++) rows[d].set(y.subarray(d * cols, (d + 1) * cols), at);
        at += cols;
      }
      return rows;
    });
  });
}

/**
 * SWD x 1e3 between two image sets of `count` images of `size` px, as slicedWassersteinDistance of
 * src/reference/swd.ts computes it for the same seed (up to float32 rounding).
 */
export async function slicedWassersteinDistanceGpu(a: ImageSet, b: ImageSet, size: number, seed: number, chunk = imagesPerChunk()): Promise<SwdResult> {
  if (a.count !== b.count) throw new Error(`SWD compares sets of equal size, got ${a.count} and ${b.count} images`);
  for (const s of [a, b]) if (s.pixels.length !== s.count * 3 * size * size) throw new Error(`SWD: ${s.pixels.length} values for ${s.count}x3x${size}x${size}`);
  const sorter = new RadixSorter(a.count * SWD_PATCHES_PER_IMAGE);
  const levels: SwdResult['levels'] = [];
  for (const [level, resolution] of swdResolutions(size).entries()) {
    const sets = [levelDescriptors(a, size, level, seed, chunk), levelDescriptors(b, size, level, seed, chunk)];
    const directions = unitDirections(seed, level);
    let total = 0;
    try {
      // one block at a time: on a CPU adapter the GPU and the sorts share the cores, and memory stays at one block
      for (let first = 0; first < SWD_DIRECTIONS; first += DIRECTIONS_PER_BLOCK) {
        const [rowsA, rowsB] = await project(sets, directions, first, Math.min(DIRECTIONS_PER_BLOCK, SWD_DIRECTIONS - first));
        for (let d = 0; d < rowsA.length; d++) total += sorter.sortedDistance(rowsA[d], rowsB[d]);
      }
    } finally {
      for (const s of sets) for (const t of s.chunks) t.dispose();
    }
    levels.push({ resolution, swd: (1e3 * total) / (SWD_DIRECTIONS * a.count * SWD_PATCHES_PER_IMAGE) });
  }
  return { levels, average: levels.reduce((s, l) => s + l.swd, 0) / levels.length };
}

/**
 * Σ_r |sort(a)[r] − sort(b)[r]| for float32 rows, by an LSD radix sort on the bits (3 passes of 11 bits):
 * flipping the sign bit of positives and all bits of negatives orders the floats as unsigned integers.
 * About 10x faster than Float32Array.prototype.sort on 128,000 values.
 */
export class RadixSorter {
  private readonly keys: Uint32Array;
  private readonly scratch: Uint32Array;
  private readonly sortedA: Uint32Array;
  private readonly counts = new Uint32Array(2048);

  constructor(length: number) {
    this.keys = new Uint32Array(length);
    this.scratch = new Uint32Array(length);
    this.sortedA = new Uint32Array(length);
  }

  sortedDistance(a: Float32Array, b: Float32Array): number {
    if (a.length !== this.keys.length || b.length !== this.keys.length) throw new Error(`RadixSorter of ${this.keys.length} given rows of ${a.length} and ${b.length}`);
    this.sortKeys(a);
    this.sortedA.set(this.keys);
    this.sortKeys(b);
    const fa = new Float32Array(1);
    const ua = new Uint32Array(fa.buffer);
    const fb = new Float32Array(1);
    const ub = new Uint32Array(fb.buffer);
    let sum = 0;
    for (let i = 0; i < this.keys.length; i++) {
      ua[0] = fromKey(this.sortedA[i]);
      ub[0] = fromKey(this.keys[i]);
      sum += Math.abs(fa[0] - fb[0]);
    }
    return sum;
  }

  /** the keys of `values`, sorted ascending, into this.keys */
  private sortKeys(values: Float32Array): void {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    let from = this.keys;
    let to = this.scratch;
    for (let i = 0; i < bits.length; i++) from[i] = toKey(bits[i]);
    const counts = this.counts;
    for (let shift = 0; shift < 32; shift += 11) {
      counts.fill(0);
      for (let i = 0; i < from.length; i++) counts[(from[i] >>> shift) & 2047]++;
      let sum = 0;
      for (let k = 0; k < 2048; k++) {
        const c = counts[k];
        counts[k] = sum;
        sum += c;
      }
      for (let i = 0; i < from.length; i++) {
        const key = from[i];
        to[counts[(key >>> shift) & 2047]++] = key;
      }
      [from, to] = [to, from];
    }
    // three passes: the sorted keys are in `scratch`
    this.keys.set(from);
  }
}

/** float bits → an unsigned key in the floats' order (NaN aside) */
const toKey = (u: number): number => (u & 0x80000000 ? ~u : u | 0x80000000) >>> 0;
const fromKey = (k: number): number => (k & 0x80000000 ? k & 0x7fffffff : ~k) >>> 0;

/** The metric's seed: one for every run and epoch, so every SWD of a run (and of runs on the same photos) uses the same patches and directions. */
const SWD_SEED = 0x5d;
/** images G draws per forward pass (the trainer's checkFits makes sure 64 fit) */
const GENERATED_PER_BATCH = 64;

/**
 * SWD x 1e3 of what a generator draws against held-out photos: the same number of images, from fixed noise
 * (the same every epoch and run), drawn by `draw` (the trainer's: GanTraining.sample, as its sample grids).
 */
export class SwdEvaluator {
  readonly heldOut: ImageSet;

  /** `photos`: the held-out images as the cache holds them (HWC RGB bytes, `count` of `size` px) */
  constructor(photos: Uint8Array, count: number, readonly size: number) {
    const pixels = new Float32Array(count * 3 * size * size);
    hwcBytesToNchwFloats(photos, count, size, pixels);
    this.heldOut = { pixels, count };
  }

  async evaluate(draw: (noise: Tensor) => Promise<Float32Array>, nz: number): Promise<Evaluation> {
    const started = performance.now();
    const { count } = this.heldOut;
    const pixels = new Float32Array(this.heldOut.pixels.length);
    const perImage = 3 * this.size * this.size;
    for (let first = 0; first < count; first += GENERATED_PER_BATCH) {
      const n = Math.min(GENERATED_PER_BATCH, count - first);
      const noise = randomNormal([n, nz, 1, 1], 0, 1, mixSeeds(SWD_SEED, first));
      try {
        pixels.set(await draw(noise), first * perImage);
      } finally {
        noise.dispose();
      }
    }
    const result = await slicedWassersteinDistanceGpu({ pixels, count }, this.heldOut, this.size, SWD_SEED);
    return { ...result, images: count, seconds: (performance.now() - started) / 1000 };
  }
}
