// CPU reference for shaders/random.wgsl: the same counter-based hash, bit for bit, with Math.imul and >>> 0
// standing in for WGSL's wrapping u32 arithmetic; only the final log and cos are float64 here.

/** PCG hash (Jarzynski & Olano 2020) on a u32 */
function pcgHash(input: number): number {
  const state = (Math.imul(input >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** 24 random bits to (0, 1] */
const toUnit = (h: number): number => ((h >>> 8) + 1) / 16777216;

/** The uniforms (u1, u2) of element i for `seed`, exactly as the kernel makes them. */
function uniformPair(seed: number, i: number): [number, number] {
  const key = pcgHash((seed + 0x9e3779b9) >>> 0);
  return [toUnit(pcgHash((key ^ pcgHash((2 * i) >>> 0)) >>> 0)), toUnit(pcgHash((key ^ pcgHash((2 * i + 1) >>> 0)) >>> 0))];
}

/** mean + std · sqrt(−2 ln u1) · cos(π (2 u2 − 1)) for every element i < size (Box–Muller) */
export function randomNormal(size: number, mean: number, std: number, seed: number): Float64Array {
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const [u1, u2] = uniformPair(seed, i);
    out[i] = mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(Math.PI * (2 * u2 - 1));
  }
  return out;
}
