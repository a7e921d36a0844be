// CPU reference of the sliced Wasserstein distance between two sets of images, as Karras et al. 2018
// ("Progressive growing of GANs", §5 and their metrics/sliced_wasserstein.py) define it, in float64 loops:
// the specification that the trainer's metric (src/metrics/swd.ts) is tested against.
//
//   1. Laplacian pyramid of each image, from its resolution down to 16 px (one level per octave):
//        g₀ = image,  g_{k+1} = down(g_k) = blur(g_k)[::2, ::2],  L_k = g_k − up(g_{k+1}),  the last level L = g_last,
//      blur = the 5x5 binomial kernel [1,4,6,4,1]ᵀ[1,4,6,4,1]/256, applied as two 1-D passes, mirrored at the
//      border (… c b | a b c d | c b …, as scipy's 'mirror' and OpenCV's pyrDown/pyrUp do);
//      up(g) = 4 · blur(g with zeros between its pixels), 2x larger.
//   2. At each level, 128 random 7x7 RGB neighbourhoods per image (wholly inside it): descriptors of 3·7·7 = 147
//      numbers (channel, y, x), and each set's descriptors standardised per colour channel over that set
//      (mean and population standard deviation over all its patches and the 49 positions).
//   3. 512 random unit directions in R¹⁴⁷ (Karras: 4 repeats of 128, averaged; the same mean): project both sets
//      on each, sort the projections, and average |sorted A − sorted B| over patches and directions. That is the
//      1-D Wasserstein-1 distance along each direction between the two empirical distributions.
//   4. SWD of a level x 1e3; the reported number is the mean over levels.
// The standardisation makes the result independent of the pixel scale: images in [0, 255] or [−1, 1] give the same.
// Randomness is seeded: patch centres depend on (seed, level, image, patch), not on the images, so two calls with
// one seed use the same centres and directions (identical sets give exactly 0), and the two sets of one call take
// patches at the same places.
import { mixSeeds, mulberry32 } from '../util/seeds.ts';

export const SWD_PATCH_SIZE = 7;
export const SWD_PATCHES_PER_IMAGE = 128;
export const SWD_DIRECTIONS = 512;
/** the pyramid stops at this resolution (smaller images get one level: the image itself) */
const SWD_MIN_RESOLUTION = 16;
const CHANNELS = 3;
/** numbers per descriptor: 3 · 7 · 7 */
export const SWD_DESCRIPTOR_LENGTH = CHANNELS * SWD_PATCH_SIZE * SWD_PATCH_SIZE;

/** The pyramid's resolutions for images of `size`: size, size/2, … down to 16 (one level when size < 16). */
export function swdResolutions(size: number): number[] {
  if (size < SWD_PATCH_SIZE) throw new Error(`SWD needs images of at least ${SWD_PATCH_SIZE} px (its patches are ${SWD_PATCH_SIZE}x${SWD_PATCH_SIZE}), got ${size}`);
  const out = [size];
  for (let r = size / 2; r >= SWD_MIN_RESOLUTION && Number.isInteger(r); r /= 2) out.push(r);
  return out;
}

/** scipy's 'mirror' border (reflect about the edge pixel, edge not repeated) for an index at most n−1 outside. */
const mirror = (i: number, n: number): number => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);

const BINOMIAL = [1, 4, 6, 4, 1].map((v) => v / 16);

/** `planes` square planes of `size`, each blurred by `gain`²·binomial5x5 (two 1-D passes, mirrored borders). */
function blur(x: Float64Array, planes: number, size: number, gain: number): Float64Array {
  const row = new Float64Array(x.length);
  const out = new Float64Array(x.length);
  const taps = BINOMIAL.map((v) => v * gain);
  for (let p = 0; p < planes; p++) {
    const o = p * size * size;
    for (let y = 0; y < size; y++)
      for (let xx = 0; xx < size; xx++) {
        let s = 0;
        for (let t = -2; t <= 2; t++) s += taps[t + 2] * x[o + y * size + mirror(xx + t, size)];
        row[o + y * size + xx] = s;
      }
    for (let y = 0; y < size; y++)
      for (let xx = 0; xx < size; xx++) {
        let s = 0;
        for (let t = -2; t <= 2; t++) s += taps[t + 2] * row[o + mirror(y + t, size) * size + xx];
        out[o + y * size + xx] = s;
      }
  }
  return out;
}

/** down(g) = blur(g)[::2, ::2] (OpenCV's pyrDown) */
function pyramidDown(x: Float64Array, planes: number, size: number): Float64Array {
  const blurred = blur(x, planes, size, 1);
  const half = size / 2;
  const out = new Float64Array(planes * half * half);
  for (let p = 0; p < planes; p++)
    for (let y = 0; y < half; y++)
      for (let xx = 0; xx < half; xx++) out[(p * half + y) * half + xx] = blurred[(p * size + 2 * y) * size + 2 * xx];
  return out;
}

/** up(g) = 4 · blur(g with zeros between its pixels) (OpenCV's pyrUp); `size` is g's */
function pyramidUp(x: Float64Array, planes: number, size: number): Float64Array {
  const double = 2 * size;
  const spread = new Float64Array(planes * double * double);
  for (let p = 0; p < planes; p++)
    for (let y = 0; y < size; y++)
      for (let xx = 0; xx < size; xx++) spread[(p * double + 2 * y) * double + 2 * xx] = x[(p * size + y) * size + xx];
  return blur(spread, planes, double, 2); // 2 per 1-D pass: 4 in all
}

/** The Laplacian pyramid of `count` NCHW RGB images of `size`: one array per level of swdResolutions(size). */
export function laplacianPyramid(images: ArrayLike<number>, count: number, size: number): Float64Array[] {
  const planes = count * CHANNELS;
  if (images.length !== planes * size * size) throw new Error(`laplacianPyramid: ${images.length} values for ${count}x3x${size}x${size}`);
  const resolutions = swdResolutions(size);
  const gaussian: Float64Array[] = [Float64Array.from(images)];
  for (let k = 1; k < resolutions.length; k++) gaussian.push(pyramidDown(gaussian[k - 1], planes, resolutions[k - 1]));
  return gaussian.map((g, k) => {
    if (k === resolutions.length - 1) return g;
    const up = pyramidUp(gaussian[k + 1], planes, resolutions[k + 1]);
    return g.map((v, i) => v - up[i]);
  });
}

/**
 * The patch centres of level `level` for `count` images of `size` px, as (y, x) pairs, image by image: each
 * uniform in [3, size − 4] so that the 7x7 patch lies inside. Seeded by (seed, level) only.
 */
export function patchCentres(seed: number, level: number, count: number, size: number): Int32Array {
  const random = mulberry32(mixSeeds(mixSeeds(seed, level), 0x5a7c4));
  const half = SWD_PATCH_SIZE >> 1;
  const span = size - 2 * half;
  const out = new Int32Array(count * SWD_PATCHES_PER_IMAGE * 2);
  for (let i = 0; i < out.length; i++) out[i] = half + Math.floor(random() * span);
  return out;
}

/** `SWD_DIRECTIONS` random unit vectors of R¹⁴⁷ for level `level`, direction-major ([direction][component]). */
export function unitDirections(seed: number, level: number): Float64Array {
  const random = mulberry32(mixSeeds(mixSeeds(seed, level), 0xd1ec7));
  const n = SWD_DESCRIPTOR_LENGTH;
  const out = new Float64Array(SWD_DIRECTIONS * n);
  for (let d = 0; d < SWD_DIRECTIONS; d++) {
    let norm = 0;
    for (let k = 0; k < n; k++) {
      // Box–Muller: an isotropic normal, so the normalised vector is uniform on the sphere
      const v = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      out[d * n + k] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let k = 0; k < n; k++) out[d * n + k] /= norm;
  }
  return out;
}

/**
 * The descriptors of one pyramid level ([count, 3, size, size]) at `centres`: [patch][channel, dy, dx], each
 * set standardised per channel over all its patches and positions.
 */
function patchDescriptors(level: Float64Array, count: number, size: number, centres: Int32Array): Float64Array {
  const half = SWD_PATCH_SIZE >> 1;
  const area = SWD_PATCH_SIZE * SWD_PATCH_SIZE;
  const patches = count * SWD_PATCHES_PER_IMAGE;
  const out = new Float64Array(patches * SWD_DESCRIPTOR_LENGTH);
  for (let p = 0; p < patches; p++) {
    const image = Math.floor(p / SWD_PATCHES_PER_IMAGE);
    const [cy, cx] = [centres[2 * p], centres[2 * p + 1]];
    for (let c = 0; c < CHANNELS; c++)
      for (let dy = -half; dy <= half; dy++)
        for (let dx = -half; dx <= half; dx++) {
          out[p * SWD_DESCRIPTOR_LENGTH + c * area + (dy + half) * SWD_PATCH_SIZE + dx + half] = level[((image * CHANNELS + c) * size + cy + dy) * size + cx + dx];
        }
  }
  for (let c = 0; c < CHANNELS; c++) {
    let sum = 0;
    let squares = 0;
    for (let p = 0; p < patches; p++) for (let k = 0; k < area; k++) sum += out[p * SWD_DESCRIPTOR_LENGTH + c * area + k];
    const mean = sum / (patches * area);
    for (let p = 0; p < patches; p++) for (let k = 0; k < area; k++) squares += (out[p * SWD_DESCRIPTOR_LENGTH + c * area + k] - mean) ** 2;
    const std = Math.sqrt(squares / (patches * area)) || 1; // a constant channel stays 0 rather than NaN
    for (let p = 0; p < patches; p++) for (let k = 0; k < area; k++) {
      const i = p * SWD_DESCRIPTOR_LENGTH + c * area + k;
      out[i] = (out[i] - mean) / std;
    }
  }
  return out;
}

/** mean over directions and ranks of |sort(A·d)[r] − sort(B·d)[r]|, for descriptor sets of equal size. */
function slicedWasserstein(a: Float64Array, b: Float64Array, directions: Float64Array): number {
  const n = SWD_DESCRIPTOR_LENGTH;
  const patches = a.length / n;
  if (b.length !== a.length) throw new Error(`slicedWasserstein: sets of ${patches} and ${b.length / n} patches (they must be equal)`);
  const count = directions.length / n;
  const pa = new Float64Array(patches);
  const pb = new Float64Array(patches);
  let total = 0;
  for (let d = 0; d < count; d++) {
    for (let p = 0; p < patches; p++) {
      let sa = 0;
      let sb = 0;
      for (let k = 0; k < n; k++) {
        sa += a[p * n + k] * directions[d * n + k];
        sb += b[p * n + k] * directions[d * n + k];
      }
      pa[p] = sa;
      pb[p] = sb;
    }
    pa.sort();
    pb.sort();
    for (let p = 0; p < patches; p++) total += Math.abs(pa[p] - pb[p]);
  }
  return total / (count * patches);
}

export interface SwdResult {
  /** SWD x 1e3 per pyramid level, finest (the image's resolution) first */
  levels: { resolution: number; swd: number }[];
  /** the mean over levels: the number that is reported */
  average: number;
}

/** SWD x 1e3 between two sets of `count` NCHW RGB images of `size` px (any pixel scale), seeded by `seed`. */
export function slicedWassersteinDistance(a: ArrayLike<number>, b: ArrayLike<number>, count: number, size: number, seed: number): SwdResult {
  const [pyramidA, pyramidB] = [laplacianPyramid(a, count, size), laplacianPyramid(b, count, size)];
  const levels = swdResolutions(size).map((resolution, level) => {
    const centres = patchCentres(seed, level, count, resolution);
    const da = patchDescriptors(pyramidA[level], count, resolution, centres);
    const db = patchDescriptors(pyramidB[level], count, resolution, centres);
    return { resolution, swd: 1e3 * slicedWasserstein(da, db, unitDirections(seed, level)) };
  });
  return { levels, average: levels.reduce((s, l) => s + l.swd, 0) / levels.length };
}
