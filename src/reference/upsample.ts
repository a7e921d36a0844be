// CPU reference for shaders/upsample.wgsl: nearest-neighbour upsampling by 2, NCHW, in float64 loops.

type Vec = Float64Array;
type Shape = readonly number[];

/** y[n,c,2i+a,2j+b] = x[n,c,i,j] for a, b in {0, 1}; y is [N, C, 2H, 2W] */
export function upsample2xForward(x: Vec, xShape: Shape): Vec {
  const [n, c, h, w] = xShape;
  const y = new Float64Array(n * c * 4 * h * w);
  for (let p = 0; p < n * c; p++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let a = 0; a < 2; a++)
          for (let b = 0; b < 2; b++) y[(p * 2 * h + 2 * i + a) * 2 * w + 2 * j + b] = x[(p * h + i) * w + j];
  return y;
}

/** dx[n,c,i,j] = Σ_{a,b ∈ {0,1}} dy[n,c,2i+a,2j+b]; `xShape` is the forward input's [N, C, H, W] */
export function upsample2xBackward(dy: Vec, xShape: Shape): Vec {
  const [n, c, h, w] = xShape;
  const dx = new Float64Array(n * c * h * w);
  for (let p = 0; p < n * c; p++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let a = 0; a < 2; a++)
          for (let b = 0; b < 2; b++) dx[(p * h + i) * w + j] += dy[(p * 2 * h + 2 * i + a) * 2 * w + 2 * j + b];
  return dx;
}
