// The fixed-pattern share (src/metrics/fixed-pattern.ts): 1 for identical textures, about 1/N for
// textures with nothing in common, 0 without any texture, and in between for a shared lattice under
// images of their own.
import { describe, expect, it } from 'vitest';
import { fixedPatternShare, highPassResidual } from '../src/metrics/fixed-pattern.ts';
import { rng } from './support/check.ts';

const size = 16;
const count = 200;

/** `count` single-channel images, each from fn(image, y, x). */
function images(fn: (i: number, y: number, x: number) => number): Float64Array {
  const out = new Float64Array(count * size * size);
  for (let i = 0; i < count; i++) for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) out[(i * size + y) * size + x] = fn(i, y, x);
  return out;
}

describe('fixed-pattern share', () => {
  it('blurring leaves no residual on a constant or a linear ramp (the binomial kernel keeps both)', () => {
    expect(Math.max(...highPassResidual(new Float64Array(64).fill(0.3), 8).map(Math.abs))).toBeLessThan(1e-12);
    const ramp = Array.from({ length: 64 }, (_, p) => 0.1 * (p % 8));
    const residual = highPassResidual(ramp, 8);
    for (let y = 0; y < 8; y++) for (let x = 2; x < 6; x++) expect(Math.abs(residual[y * 8 + x])).toBeLessThan(1e-12); // away from the mirrored border
  });

  it('is 1 for one texture in every image, about 1/N for independent noise, 0 without any texture', () => {
    const lattice = (y: number, x: number) => (y % 2 === 0 && x % 2 === 0 ? 1 : 0); // the checkerboard's dots
    expect(fixedPatternShare(images((i, y, x) => lattice(y, x) + 0.01 * i), count, 1, size)).toBeCloseTo(1, 10);
    const r = rng(3);
    const noise = fixedPatternShare(images(() => r() - 0.5), count, 1, size);
    expect(noise).toBeGreaterThan(0.2 / count);
    expect(noise).toBeLessThan(3 / count);
    expect(fixedPatternShare(images(() => 0), count, 1, size)).toBe(0);
  });

  it('a lattice under noise of each image scores between, growing with the lattice', () => {
    const r = rng(5);
    const noise = images(() => r() - 0.5);
    const withLattice = (amplitude: number) =>
      fixedPatternShare(noise.map((v, k) => v + (amplitude * (Math.floor(k / size) % 2 === 0 && k % 2 === 0 ? 1 : 0))), count, 1, size);
    const [weak, strong] = [withLattice(0.2), withLattice(1)];
    expect(weak).toBeGreaterThan(0.1);
    expect(strong).toBeGreaterThan(weak);
    expect(strong).toBeLessThan(1);
    // the same lattice shifted by a random pixel per image is no longer one pattern
    const shifted = noise.map((v, k) => {
      const i = Math.floor(k / (size * size));
      const [y, x] = [Math.floor(k / size) % size, k % size];
      return v + ((y + (i % 2)) % 2 === 0 && (x + (Math.floor(i / 2) % 2)) % 2 === 0 ? 1 : 0);
    });
    expect(fixedPatternShare(shifted, count, 1, size)).toBeLessThan(strong / 4);
  });
});
