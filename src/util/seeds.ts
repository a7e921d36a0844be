// Seeded randomness on the CPU, shared by everything that must be reproducible from one run seed:
// batch shuffles, per-tensor init seeds, per-iteration noise seeds, and the tests' random inputs.

/** One 32-bit seed from two integers (murmur3's finaliser), so neighbouring inputs get unrelated streams. */
export function mixSeeds(a: number, b: number): number {
  let h = Math.imul(a >>> 0, 0x9e3779b1) ^ Math.imul((b >>> 0) + 0x7f4a7c15, 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: a small, fast seeded PRNG of uniforms in [0, 1) with a full 2^32 period. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
