// Output shapes of conv2d and transposed conv2d (NCHW, PyTorch weight layouts), with the shape checks
// both the GPU launchers and the float64 reference rely on. Pure functions: no GPU here.
//
//   conv2d:            x [N, C, H, W] * w [O, C, KH, KW] -> y [N, O, (H + 2p − KH)/s + 1 (floor), ...]
//   convTranspose2d:   x [N, C, H, W] * w [C, O, KH, KW] -> y [N, O, (H − 1)s − 2p + KH, ...]
type Shape = readonly number[];

export interface ConvOptions {
  stride: number;
  padding: number;
}

const text = (s: Shape) => `[${s.join(',')}]`;

function checkOperands(op: string, xShape: Shape, wShape: Shape, o: ConvOptions): void {
  if (xShape.length !== 4) throw new Error(`${op}: input must be [N,C,H,W], got ${text(xShape)}`);
  if (wShape.length !== 4) throw new Error(`${op}: weight must have 4 dimensions, got ${text(wShape)}`);
  for (const d of [...xShape, ...wShape]) {
    if (!Number.isInteger(d) || d <= 0) throw new Error(`${op}: sizes must be positive integers (${text(xShape)} vs ${text(wShape)})`);
  }
  if (!Number.isInteger(o.stride) || o.stride < 1) throw new Error(`${op}: stride must be a positive integer, got ${o.stride}`);
  if (!Number.isInteger(o.padding) || o.padding < 0) throw new Error(`${op}: padding must be a non-negative integer, got ${o.padding}`);
}

/** y = conv2d(x, w): x [N, C, H, W], w [O, C, KH, KW] -> [N, O, OH, OW]. */
export function conv2dOutputShape(xShape: Shape, wShape: Shape, o: ConvOptions, op = 'conv2d'): [number, number, number, number] {
  checkOperands(op, xShape, wShape, o);
  const [n, c, h, w] = xShape;
  const [out, wc, kh, kw] = wShape;
  if (c !== wc) throw new Error(`${op}: input has ${c} channels but weight expects ${wc} (${text(xShape)} vs ${text(wShape)})`);
  if (h + 2 * o.padding < kh || w + 2 * o.padding < kw) {
    throw new Error(`${op}: a ${kh}x${kw} kernel does not fit a ${h}x${w} input padded by ${o.padding} (${text(xShape)} vs ${text(wShape)})`);
  }
  const outH = Math.floor((h + 2 * o.padding - kh) / o.stride) + 1;
  const outW = Math.floor((w + 2 * o.padding - kw) / o.stride) + 1;
  return [n, out, outH, outW];
}

/** y = convTranspose2d(x, w): x [N, C, H, W], w [C, O, KH, KW] -> [N, O, (H−1)s − 2p + KH, (W−1)s − 2p + KW]. */
export function convTranspose2dOutputShape(xShape: Shape, wShape: Shape, o: ConvOptions, op = 'convTranspose2d'): [number, number, number, number] {
  checkOperands(op, xShape, wShape, o);
  const [n, c, h, w] = xShape;
  const [wc, out, kh, kw] = wShape;
  if (c !== wc) throw new Error(`${op}: input has ${c} channels but weight expects ${wc} (${text(xShape)} vs ${text(wShape)})`);
  const outH = (h - 1) * o.stride - 2 * o.padding + kh;
  const outW = (w - 1) * o.stride - 2 * o.padding + kw;
  if (outH <= 0 || outW <= 0) {
    throw new Error(`${op}: output would be ${outH}x${outW} (${text(xShape)} vs ${text(wShape)}, stride ${o.stride}, padding ${o.padding})`);
  }
  return [n, out, outH, outW];
}
