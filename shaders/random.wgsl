// Seeded normal random numbers, reproducible and counter-based: element i of a tensor is a pure function of
// (seed, i), so the same seed gives the same tensor on any device and in the CPU reference (src/reference/random.ts).
//   key = pcg(seed + 0x9E3779B9)
//   a   = pcg(key ^ pcg(2i)),  b = pcg(key ^ pcg(2i + 1))              two 32-bit hashes per element
//   u1  = ((a >> 8) + 1) / 2^24,  u2 = ((b >> 8) + 1) / 2^24          uniforms in (0, 1], exact in f32
//   z   = sqrt(−2 ln u1) · cos(π (2 u2 − 1))                           Box–Muller (one of the pair)
//   out = mean + std · z
// The angle is taken in (−π, π]; cos(π(2u − 1)) = −cos(2πu) has the same law.
// The seed, mean and std come from a storage buffer, not params: uniforms are cached by content, and a
// training loop asks for fresh noise with a new seed every step.

struct Params { n: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> settings: array<f32>;  // [seed low 16 bits, seed high 16 bits, mean, std]
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// #include "shared/grid.wgsl"

// PCG hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020): one LCG step, then a
// random-shift xorshift and multiply. u32 arithmetic wraps modulo 2^32.
fn pcg(input: u32) -> u32 {
  let state = input * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// 24 random bits to a float in (0, 1]: never 0, so log(u) is finite
fn to_unit(h: u32) -> f32 { return f32((h >> 8u) + 1u) / 16777216.0; }

// ln(u) for u in (0, 1]. WGSL lets log() be off by 2^-21 absolute near 1, which is a large relative error
// when ln u ≈ 0 (SwiftShader uses that allowance). There w = 1 − u is exact, and the series
// ln(1 − w) = −(w + w²/2 + w³/3 + w⁴/4 + w⁵/5 + …) is accurate to w⁶/6 < 4e-9 for w < 1/16.
fn log_unit(u: f32) -> f32 {
  let w = 1.0 - u;
  if (w >= 0.0625) { return log(u); }
  return -w * (1.0 + w * (0.5 + w * (1.0 / 3.0 + w * (0.25 + w * 0.2))));
}

// cos(π t) for t in [−1, 1]. WGSL allows cos() an absolute error of 2^-11, which SwiftShader uses; these
// Taylor polynomials on [0, π/4] are accurate to 1e-7. Symmetries: cos(π t) = cos(π |t|),
// cos(π a) = −cos(π (1 − a)), and cos(π a) = sin(π (1/2 − a)).
fn cos_pi(t: f32) -> f32 {
  var a = abs(t);
  var sign = 1.0;
  if (a > 0.5) { a = 1.0 - a; sign = -1.0; }
  if (a <= 0.25) {
    let x2 = (3.14159265358979 * a) * (3.14159265358979 * a);
    return sign * (1.0 - x2 / 2.0 * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0 * (1.0 - x2 / 56.0))));
  }
  let x = 3.14159265358979 * (0.5 - a);
  let x2 = x * x;
  return sign * x * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0))));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn random_normal(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= params.n) { return; }
  let seed = u32(settings[0]) | (u32(settings[1]) << 16u);
  let key = pcg(seed + 0x9E3779B9u);
  let u1 = to_unit(pcg(key ^ pcg(2u * i)));
  let u2 = to_unit(pcg(key ^ pcg(2u * i + 1u)));
  let z = sqrt(-2.0 * log_unit(u1)) * cos_pi(2.0 * u2 - 1.0);
  out[i] = settings[2] + settings[3] * z;
}
