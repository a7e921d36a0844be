// Launcher for shaders/fast/conv2d_dense.wgsl: the three passes of a conv that is a dense layer (its kernel
// covers the whole unpadded input, so the output is 1x1), as strided products C = A · B. src/kernels/conv.ts
// sends such shapes here (DCGAN: D's last layer, and G's first one through the transposed conv's passes).
import code from '../../shaders/fast/conv2d_dense.wgsl?raw';
import { Kernel } from '../gpu/kernel.ts';
import { Tensor, shapeText, type Shape } from '../gpu/tensor.ts';
import type { ConvOptions } from './conv-shapes.ts';
import { reduceSplits, splitsFor } from './conv-gemm.ts';

const kernel = new Kernel('shaders/fast/conv2d_dense.wgsl', code, 'conv2d_dense');
const ROWS = kernel.constant('ROWS');        // rows of C per workgroup: grid y
const COLUMNS = kernel.constant('COLUMNS');  // columns of C per workgroup: grid x

/** y = conv2d(x, w) has a 1x1 output from a kernel as large as the unpadded input. */
export function isDense(xShape: Shape, wShape: Shape, yShape: Shape, o: ConvOptions): boolean {
  return yShape[2] === 1 && yShape[3] === 1 && o.padding === 0 && wShape[2] === xShape[2] && wShape[3] === xShape[3];
}

/** A matrix read through strides: element [i, j] = tensor[i · row + j · col]. */
interface Strided { tensor: Tensor; row: number; col: number }
const rowMajor = (tensor: Tensor, columns: number): Strided => ({ tensor, row: columns, col: 1 });
const transposed = (tensor: Tensor, columns: number): Strided => ({ tensor, row: 1, col: columns });

/**
 * out (of outShape, M·N values, row-major) = A [M, K] · B [K, N]; split along K when M x N is too few
 * workgroups. Threads run along N, so with N < M (D's logit: N = 1) it computes Cᵀ = Bᵀ · Aᵀ instead.
 */
function product(what: string, outShape: Shape, a: Strided, b: Strided, m: number, n: number, k: number): Tensor {
  if (n < m) {
    const t = (s: Strided): Strided => ({ tensor: s.tensor, row: s.col, col: s.row });
    return stridedProduct(what, outShape, t(b), t(a), n, m, k, { row: 1, col: n });
  }
  return stridedProduct(what, outShape, a, b, m, n, k, { row: n, col: 1 });
}

function stridedProduct(what: string, outShape: Shape, a: Strided, b: Strided, m: number, n: number, k: number,
  c: { row: number; col: number }): Tensor {
  const out = Tensor.empty(outShape, what);
  const grid: [number, number] = [Math.ceil(n / COLUMNS), Math.ceil(m / ROWS)];
  const splits = splitsFor(grid[0] * grid[1], k);
  const shapes = ` ${shapeText(a.tensor.shape)} ${shapeText(b.tensor.shape)} → ${shapeText(outShape)}`;
  const params = { m, n, k, a_row: a.row, a_col: a.col, b_row: b.row, b_col: b.col, out_row: c.row, out_col: c.col, splits };
  if (splits === 1) {
    kernel.dispatch({ a: a.tensor, b: b.tensor, out }, params, [...grid, 1], shapes);
    return out;
  }
  const partial = Tensor.empty([splits, out.size], `${what} (split-K partial sums)`);
  kernel.dispatch({ a: a.tensor, b: b.tensor, out: partial }, params, [...grid, splits], `${shapes} split ${splits}`);
  reduceSplits(partial, out, null, splits, shapes);
  partial.dispose();
  return out;
}

// With K = C·KH·KW: x is [N, K], w [O, K], y and dy [N, O] as they lie in memory.

/** y[n, o] = Σ_k x[n, k] · w[o, k]. */
export function denseForward(x: Tensor, w: Tensor, yShape: Shape): Tensor {
  const [batch, outChannels] = yShape;
  const k = x.size / batch;
  return product('conv2d output', yShape, rowMajor(x, k), transposed(w, k), batch, outChannels, k);
}

/** dx[n, k] = Σ_o dy[n, o] · w[o, k]. */
export function denseBackwardInput(dy: Tensor, w: Tensor, xShape: Shape): Tensor {
  const [batch, outChannels] = dy.shape;
  const k = w.size / outChannels;
  return product('conv2d input gradient', xShape, rowMajor(dy, outChannels), rowMajor(w, k), batch, k, outChannels);
}

/** dw[o, k] = Σ_n dy[n, o] · x[n, k]. */
export function denseBackwardWeight(x: Tensor, dy: Tensor, wShape: Shape): Tensor {
  const [batch, outChannels] = dy.shape;
  const k = x.size / batch;
  return product('conv2d weight gradient', wShape, transposed(dy, outChannels), rowMajor(x, k), outChannels, k, batch);
}
