// CPU reference for conv2d and transposed conv2d (NCHW, PyTorch weight layouts): float64 loops, the
// specification the GPU kernels are checked against.
//
// A conv is a sum of products. Each "tap" pairs one x element, one w element and one y element:
//   y[n,o,oy,ox] += w[o,c,i,j] · x[n, c, oy·s − p + i, ox·s − p + j]    (taps that land in the padding are skipped)
// Every pass below walks the same taps and differs only in which of the three it accumulates:
//   conv forward        y  += w · x
//   conv dL/dx          dx += w · dy       (the product rule, term by term: the adjoint of the forward)
//   conv dL/dw          dw += x · dy
// A transposed conv uses the very same taps with the roles of x and y exchanged (its input sits where the
// conv's y does, its output where the conv's x does, its weight [C_in, C_out, KH, KW] where the conv's
// [O, C, KH, KW] does): each of its input pixels stamps the kernel into the output at stride s, shifted by −p.
// (dy·w summed into x is exactly that stamping, which is why conv's input gradient is the transposed conv.)
import { conv2dOutputShape, convTranspose2dOutputShape, type ConvOptions } from '../kernels/conv-shapes.ts';

type Vec = Float64Array;
type Shape = readonly number[];

/**
 * Calls visit(xi, wi, yi) for every tap of y = conv2d(x, w) with x of `xShape`,
 * w [O, C, KH, KW] and y of `yShape` (flat NCHW / OCHW indices).
 */
function forEachTap(xShape: Shape, wShape: Shape, yShape: Shape, o: ConvOptions, visit: (xi: number, wi: number, yi: number) => void): void {
  const [batch, channels, height, width] = xShape;
  const [outChannels, , kh, kw] = wShape;
  const [, , outHeight, outWidth] = yShape;
  for (let n = 0; n < batch; n++)
    for (let oc = 0; oc < outChannels; oc++)
      for (let oy = 0; oy < outHeight; oy++)
        for (let ox = 0; ox < outWidth; ox++)
          for (let c = 0; c < channels; c++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const iy = oy * o.stride - o.padding + i;
                const ix = ox * o.stride - o.padding + j;
                if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
                visit(
                  ((n * channels + c) * height + iy) * width + ix,
                  ((oc * channels + c) * kh + i) * kw + j,
                  ((n * outChannels + oc) * outHeight + oy) * outWidth + ox,
                );
              }
}

const size = (shape: Shape) => shape.reduce((a, b) => a * b, 1);

/** out[n,c,...] += bias[c] for an NCHW array. */
function addBias(out: Vec, shape: Shape, bias: Vec | null): Vec {
  if (!bias) return out;
  const [, channels, h, w] = shape;
  for (let k = 0; k < out.length; k++) out[k] += bias[Math.floor(k / (h * w)) % channels];
  return out;
}

// ---- conv2d: x [N, C, H, W], w [O, C, KH, KW], y [N, O, OH, OW]

export function conv2dForward(x: Vec, xShape: Shape, w: Vec, wShape: Shape, bias: Vec | null, o: ConvOptions): Vec {
  const yShape = conv2dOutputShape(xShape, wShape, o);
  const y = new Float64Array(size(yShape));
  forEachTap(xShape, wShape, yShape, o, (xi, wi, yi) => (y[yi] += w[wi] * x[xi]));
  return addBias(y, yShape, bias);
}

/** dL/dx[n,c,iy,ix] = Σ over the taps that read it of dy[n,o,oy,ox] · w[o,c,i,j] */
export function conv2dBackwardInput(dy: Vec, w: Vec, wShape: Shape, xShape: Shape, o: ConvOptions): Vec {
  const dx = new Float64Array(size(xShape));
  forEachTap(xShape, wShape, conv2dOutputShape(xShape, wShape, o), o, (xi, wi, yi) => (dx[xi] += w[wi] * dy[yi]));
  return dx;
}

/** dL/dw[o,c,i,j] = Σ_{n,oy,ox} dy[n,o,oy,ox] · x[n, c, oy·s − p + i, ox·s − p + j] */
export function conv2dBackwardWeight(x: Vec, xShape: Shape, dy: Vec, wShape: Shape, o: ConvOptions): Vec {
  const dw = new Float64Array(size(wShape));
  forEachTap(xShape, wShape, conv2dOutputShape(xShape, wShape, o), o, (xi, wi, yi) => (dw[wi] += x[xi] * dy[yi]));
  return dw;
}

/** dL/db[c] = Σ_{n,y,x} dy[n,c,y,x] (conv and transposed conv alike) */
export function convBiasBackward(dy: Vec, yShape: Shape): Vec {
  const [, channels, h, w] = yShape;
  const db = new Float64Array(channels);
  for (let k = 0; k < dy.length; k++) db[Math.floor(k / (h * w)) % channels] += dy[k];
  return db;
}

// ---- convTranspose2d: x [N, C, H, W], w [C, O, KH, KW], y [N, O, (H−1)s − 2p + KH, ...].
// It is the adjoint of conv2d: its taps are those of the conv from y ("conv x") to x ("conv y") with w
// read as that conv's [O, C, KH, KW] weight, so each of its passes is a conv pass with the roles swapped.
// (test/gradcheck-conv.test.ts checks this against PyTorch's definition on hand-computed examples.)

/** y[n,o, iy·s − p + i, ix·s − p + j] += x[n,c,iy,ix] · w[c,o,i,j] (+ bias[o]): conv2d's input gradient for "dy" = x */
export function convTranspose2dForward(x: Vec, xShape: Shape, w: Vec, wShape: Shape, bias: Vec | null, o: ConvOptions): Vec {
  const yShape = convTranspose2dOutputShape(xShape, wShape, o);
  return addBias(conv2dBackwardInput(x, w, wShape, yShape, o), yShape, bias);
}

/** dL/dx[n,c,iy,ix] = Σ_{o,i,j} dy[n,o, iy·s − p + i, ix·s − p + j] · w[c,o,i,j] = conv2d(dy, w) */
export function convTranspose2dBackwardInput(dy: Vec, w: Vec, wShape: Shape, xShape: Shape, o: ConvOptions): Vec {
  return conv2dForward(dy, convTranspose2dOutputShape(xShape, wShape, o), w, wShape, null, o);
}

/** dL/dw[c,o,i,j] = Σ_{n,iy,ix} x[n,c,iy,ix] · dy[n,o, iy·s − p + i, ix·s − p + j]: conv2d's weight gradient, x and dy swapped */
export function convTranspose2dBackwardWeight(x: Vec, xShape: Shape, dy: Vec, wShape: Shape, o: ConvOptions): Vec {
  return conv2dBackwardWeight(dy, convTranspose2dOutputShape(xShape, wShape, o), x, wShape, o);
}
