// The fixed-pattern share of a set of images: how much of their fine texture is one pattern that every
// image carries at the same place (the dot lattice strided transposed convolutions draw, Odena et al.
// 2016), rather than texture of each image's own. In float64 on the CPU:
//   r_i = x_i − blur(x_i)                  each image's high-pass residual, per colour channel, with the
//                                          5x5 binomial blur [1,4,6,4,1]ᵀ[1,4,6,4,1]/256, mirrored borders
//   m   = (1/N) Σ_i r_i                    the residual all images share
//   share = ‖m‖² / ((1/N) Σ_i ‖r_i‖²)      in [0, 1]
// 1 when every image has the same residual; for residuals with nothing in common it tends to 1/N (the
// energy left in the mean of N independent patterns), 0.05% at N = 2,000. A set whose residuals are all
// exactly 0 has share 0.

const BINOMIAL = [1, 4, 6, 4, 1].map((v) => v / 16);
const mirror = (i: number, n: number): number => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);

/** The high-pass residual x − blur(x) of one square plane of `size` px. */
export function highPassResidual(plane: ArrayLike<number>, size: number): Float64Array {
  const row = new Float64Array(size * size);
  const out = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let s = 0;
      for (let t = -2; t <= 2; t++) s += BINOMIAL[t + 2] * plane[y * size + mirror(x + t, size)];
      row[y * size + x] = s;
    }
  }
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let s = 0;
      for (let t = -2; t <= 2; t++) s += BINOMIAL[t + 2] * row[mirror(y + t, size) * size + x];
      out[y * size + x] = plane[y * size + x] - s;
    }
  }
  return out;
}

/** The fixed-pattern share (see the header) of `count` NCHW images of `channels` x `size` x `size`. */
export function fixedPatternShare(images: ArrayLike<number>, count: number, channels: number, size: number): number {
  const plane = size * size;
  if (images.length !== count * channels * plane) throw new Error(`fixedPatternShare: ${images.length} values for ${count}x${channels}x${size}x${size}`);
  const mean = new Float64Array(channels * plane);
  let energy = 0;
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < channels; c++) {
      const offset = (i * channels + c) * plane;
      const r = highPassResidual(Array.prototype.slice.call(images, offset, offset + plane) as number[], size);
      for (let p = 0; p < plane; p++) {
        mean[c * plane + p] += r[p] / count;
        energy += (r[p] * r[p]) / count;
      }
    }
  }
  if (energy === 0) return 0;
  return mean.reduce((s, v) => s + v * v, 0) / energy;
}
