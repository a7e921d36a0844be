// Launchers for shaders/fast/conv2d_gemm.wgsl: the implicit-GEMM versions of the three conv passes, in conv
// geometry (x: conv input, w [O, C, KH, KW], y: conv output), plus the split-K reduction
// (shaders/fast/split_k_reduce.wgsl). src/kernels/conv.ts decides per shape whether these or the simple kernels run.
import gemmCode from '../../shaders/fast/conv2d_gemm.wgsl?raw';
import reduceCode from '../../shaders/fast/split_k_reduce.wgsl?raw';
import skinnyCode from '../../shaders/fast/conv2d_skinny.wgsl?raw';
import { Kernel, type Binding } from '../gpu/kernel.ts';
import { Tensor, shapeText, type Shape } from '../gpu/tensor.ts';
import type { ConvOptions } from './conv-shapes.ts';

type GemmPass = 'forward' | 'backwardInput' | 'backwardWeight';
const file = 'shaders/fast/conv2d_gemm.wgsl';
/**
 * The output tile sizes the shader's `override TILE` is compiled with: one pipeline per pass, size and
 * conv window (gemmKernel).
 * 128 and 64 suit a CPU adapter (each loaded value feeds TILE multiply-adds); 32 (16 threads, 4x4
 * blocks of 8x8) gives a large GPU many more workgroups on DCGAN's small late layers. The tuner
 * (./conv-tune.ts) times them all; tileFor is the choice without tuning.
 */
export type Tile = 32 | 64 | 128;
export const TILES: readonly Tile[] = [32, 64, 128];
/**
 * The tiles that also come with half as many rows (`halfRows`, the shader's TILE_M = TILE / 2): 64 x 128
 * and 32 x 64, for a GEMM of few rows (DCGAN's 64-channel passes) and many columns, which a square tile
 * either pads (128 x 128: half of it idle) or feeds fewer multiply-adds per loaded value (64 x 64: 32,
 * against 42.7 in 64 x 128).
 */
export const HALF_ROW_TILES: readonly Tile[] = [64, 128];
/**
 * The kernels of one tile and conv window: the tile and the window (kernel size, stride, padding) are the
 * shader's override constants, so each pair is a pipeline of its own, made on first use. The window as
 * constants turns the tile loads' divisions into shifts and multiplies (shaders/fast/conv2d_gemm.wgsl).
 */
const gemmKernelCache = new Map<string, Kernel>();
function gemmKernel(pass: GemmPass, tiling: GemmTiling, window: { kh: number; kw: number; stride: number; padding: number }): Kernel {
  const { tile, halfRows } = tiling;
  if (!TILES.includes(tile) || (halfRows && !HALF_ROW_TILES.includes(tile))) {
    throw new Error(`conv gemm: no ${halfRows ? `${tile / 2} x ${tile}` : `${tile}`} tile (tiles: ${TILES.join(', ')}; half-row tiles: ${HALF_ROW_TILES.join(', ')})`);
  }
  const constants: Record<string, number> = {
    TILE: tile, ...(halfRows ? { TILE_M: tile / 2 } : {}), KH: window.kh, KW: window.kw, STRIDE: window.stride, PADDING: window.padding,
  };
  const key = `${pass} ${Object.values(constants).join(' ')}`;
  let kernel = gemmKernelCache.get(key);
  if (!kernel) gemmKernelCache.set(key, (kernel = new Kernel(file, gemmCode, entryPoints[pass], constants)));
  return kernel;
}
const entryPoints: Record<GemmPass, string> = {
  forward: 'conv2d_gemm_forward', backwardInput: 'conv2d_gemm_backward_input', backwardWeight: 'conv2d_gemm_backward_weight',
};

/** Rows of one output tile of `tiling`: the tile, or half of it. */
export const tileRows = (tiling: GemmTiling): number => (tiling.halfRows ? tiling.tile / 2 : tiling.tile);
const reduceKernel = new Kernel('shaders/fast/split_k_reduce.wgsl', reduceCode, 'split_k_reduce');
const skinnyKernel = new Kernel('shaders/fast/conv2d_skinny.wgsl', skinnyCode, 'conv2d_skinny_backward_input');

/** x pixels one workgroup of the skinny kernel covers: its grid x. */
const SKINNY_PIXELS_PER_WORKGROUP = skinnyKernel.constant('PIXELS_PER_WORKGROUP');
/**
 * x channels one workgroup of the skinny kernel covers (a vec4 per pixel), its grid y: with at most this
 * many x channels, the input gradient can skip the tiled GEMM (shaders/fast/conv2d_skinny.wgsl).
 */
export const SKINNY_CHANNELS = skinnyKernel.constant('CHANNELS');

/** A pass as a GEMM: M rows x N columns of outputs, K summed, in `phases` independent GEMMs (grid z). */
interface GemmDims {
  rows: number;
  /** N of the largest phase */
  columns: number;
  /** s² for the input gradient (one GEMM per output phase), else 1 */
  phases: number;
  /** the longest K of any phase */
  kTotal: number;
}

/** How one GEMM is cut up: the output tile and the number of K chunks (split-K partial sums). */
export interface GemmTiling {
  /** outputs along N (columns) per workgroup, and along M (rows) unless halfRows */
  tile: Tile;
  splits: number;
  /** a tile of tile / 2 rows (HALF_ROW_TILES only); absent: square */
  halfRows?: boolean;
}

/**
 * The GEMM of each pass, in conv geometry (x [N, C, H, W], w [O, C, KH, KW], y [N, O, OH, OW]):
 *   forward          M = O, N = batch·OH·OW,          K = C·KH·KW
 *   backwardInput    M = C, N = batch·⌈H/s⌉·⌈W/s⌉,    K = O·⌈KH/s⌉·⌈KW/s⌉, one GEMM per phase (s²)
 *   backwardWeight   M = O, N = C·KH·KW,              K = batch·OH·OW
 */
export function gemmDims(pass: GemmPass, xShape: Shape, wShape: Shape, yShape: Shape, stride: number): GemmDims {
  const [batch, channels, height, width] = xShape;
  const [outChannels, , kh, kw] = wShape;
  const [, , outHeight, outWidth] = yShape;
  const up = (a: number) => Math.ceil(a / stride);
  if (pass === 'forward') return { rows: outChannels, columns: batch * outHeight * outWidth, phases: 1, kTotal: channels * kh * kw };
  if (pass === 'backwardInput') {
    return { rows: channels, columns: batch * up(height) * up(width), phases: stride * stride, kTotal: outChannels * up(kh) * up(kw) };
  }
  return { rows: outChannels, columns: channels * kh * kw, phases: 1, kTotal: batch * outHeight * outWidth };
}

/** Workgroups of one unsplit dispatch with this tile. */
export const gemmWorkgroups = (d: GemmDims, tile: Tile, rows: number = tile): number =>
  Math.ceil(d.columns / tile) * Math.ceil(d.rows / rows) * d.phases;

/**
 * The tile for a rows x columns GEMM: the one with the least padded work, ⌈M/T⌉·⌈N/T⌉·T², where a
 * 128 tile counts 1.25x faster per element (measured on lavapipe: each loaded value feeds twice the
 * multiply-adds). DCGAN's 512-channel layers take 128; a 16-channel layer of a small model takes 64
 * rather than leave 7/8 of a 128 tile idle. `tileSettings.forced` pins one (tests, benchmarks).
 */
export const tileSettings: { forced: Tile | null } = { forced: null };
function tileFor(rows: number, columns: number): Tile {
  if (tileSettings.forced) return tileSettings.forced;
  const padded = (t: number) => Math.ceil(rows / t) * Math.ceil(columns / t) * t * t;
  return padded(128) / 1.25 < padded(64) ? 128 : 64;
}

/**
 * Split K when the output has fewer than `targetWorkgroups` tiles, in chunks of at least `minChunk` k.
 * 256 workgroups keep a large GPU busy; a CPU adapter needs far fewer, but splitting costs it little.
 */
const splitK = { targetWorkgroups: 256, minChunk: 256, maxSplits: 64 };

export function splitsFor(workgroups: number, kTotal: number): number {
  const wanted = Math.ceil(splitK.targetWorkgroups / Math.max(workgroups, 1));
  return Math.max(1, Math.min(wanted, Math.floor(kTotal / splitK.minChunk), splitK.maxSplits));
}

/** The tiling without tuning: tileFor's tile, and splitsFor's split for the workgroups it leaves. */
export function heuristicTiling(d: GemmDims): GemmTiling {
  const tile = tileFor(d.rows, d.columns);
  return { tile, splits: splitsFor(gemmWorkgroups(d, tile), d.kTotal) };
}


const describe = (...shapes: Shape[]) => ` ${shapes.map(shapeText).join(' ')}`;

interface GemmLaunch {
  pass: GemmPass;
  what: string;
  inputs: Record<string, Binding>;
  outShape: Shape;
  geometry: ReturnType<typeof geometry>;  // the conv geometry members of Params
  bias: Tensor | null;               // per output channel (dim 1 of outShape)
  dims: GemmDims;
  tiling: GemmTiling;
}

/** One GEMM dispatch, or with split K a dispatch into partial sums plus the reduction. */
function gemm(l: GemmLaunch): Tensor {
  const { tile, splits } = l.tiling;
  const g = l.geometry;
  const kernel = gemmKernel(l.pass, l.tiling, { kh: g.kernel_height, kw: g.kernel_width, stride: g.stride, padding: g.padding });
  const grid: [number, number] = [Math.ceil(l.dims.columns / tile), Math.ceil(l.dims.rows / tileRows(l.tiling))];
  const out = Tensor.empty(l.outShape, l.what);
  const bias = l.bias ?? Object.values(l.inputs)[0];  // bound but unread without a bias
  const hasBias = l.bias ? 1 : 0;
  const shapes = describe(...Object.values(l.inputs).map((t) => (t as Tensor).shape), l.outShape);
  if (splits === 1) {
    kernel.dispatch({ ...l.inputs, bias, out }, { ...l.geometry, has_bias: hasBias, count: out.size, splits }, [...grid, l.dims.phases], shapes);
    return out;
  }
  const partial = Tensor.empty([splits, out.size], `${l.what} (split-K partial sums)`);
  kernel.dispatch({ ...l.inputs, bias, out: partial }, { ...l.geometry, has_bias: 0, count: out.size, splits },
    [...grid, l.dims.phases * splits], `${shapes} split ${splits}`);
  reduceSplits(partial, out, l.bias, splits, shapes);
  partial.dispose();
  return out;
}

/** out = Σ_split partial[split] (+ bias per channel of an NCHW out), for the partial sums [splits, out.size] of a split K. */
export function reduceSplits(partial: Tensor, out: Tensor, bias: Tensor | null, splits: number, shapes: string): void {
  const [, channels = 1, h = 1, w = 1] = out.shape;
  reduceKernel.dispatch1d({ partial, bias: bias ?? partial, out }, { count: out.size, splits, has_bias: bias ? 1 : 0, channels, plane: h * w },
    out.size, shapes);
}

function geometry(xShape: Shape, wShape: Shape, yShape: Shape, o: ConvOptions) {
  return {
    batch: xShape[0], in_channels: xShape[1], in_height: xShape[2], in_width: xShape[3],
    out_channels: yShape[1], out_height: yShape[2], out_width: yShape[3],
    kernel_height: wShape[2], kernel_width: wShape[3], stride: o.stride, padding: o.padding,
  };
}

/** The launch of one pass with `tiling`, or the heuristic's when none is given. */
function launch(pass: GemmPass, what: string, inputs: Record<string, Tensor>, bias: Tensor | null, shapes: { x: Shape; w: Shape; y: Shape },
  o: ConvOptions, tiling?: GemmTiling): Tensor {
  const dims = gemmDims(pass, shapes.x, shapes.w, shapes.y, o.stride);
  const outShape = pass === 'forward' ? shapes.y : pass === 'backwardInput' ? shapes.x : shapes.w;
  return gemm({ pass, what, inputs, outShape, geometry: geometry(shapes.x, shapes.w, shapes.y, o), bias, dims, tiling: tiling ?? heuristicTiling(dims) });
}

/** y = conv2d(x, w) (+ bias[o]):  M = O, N = batch·OH·OW, K = C·KH·KW. */
export function gemmForward(x: Tensor, w: Tensor, bias: Tensor | null, yShape: Shape, o: ConvOptions, tiling?: GemmTiling): Tensor {
  return launch('forward', 'conv2d output', { x, weight: w }, bias, { x: x.shape, w: w.shape, y: yShape }, o, tiling);
}

/**
 * dx = the transposed conv of dy with w (+ bias[c]), one dense GEMM per output phase (sub-pixel):
 * M = C, N = batch·⌈H/s⌉·⌈W/s⌉, K = O·⌈KH/s⌉·⌈KW/s⌉ (the largest phase; the others mask).
 */
export function gemmBackwardInput(dy: Tensor, w: Tensor, bias: Tensor | null, xShape: Shape, o: ConvOptions, tiling?: GemmTiling): Tensor {
  return launch('backwardInput', 'conv2d input gradient', { grad_y: dy, weight: w }, bias, { x: xShape, w: w.shape, y: dy.shape }, o, tiling);
}

/**
 * The same dx for an x with at most SKINNY_CHANNELS channels: the skinny kernel (several pixels per
 * thread, a vec4 of channels each) does the sums of gemmBackwardInput without a tile of mostly padding.
 */
export function skinnyBackwardInput(dy: Tensor, w: Tensor, bias: Tensor | null, xShape: Shape, o: ConvOptions): Tensor {
  const [batch, channels, height, width] = xShape;
  const s = o.stride;
  const up = (a: number) => Math.ceil(a / s);
  if (channels > SKINNY_CHANNELS) throw new Error(`skinnyBackwardInput: ${channels} channels, the skinny kernel covers at most ${SKINNY_CHANNELS}`);
  const dx = Tensor.empty(xShape, 'conv2d input gradient');
  const params = { ...geometry(xShape, w.shape, dy.shape, o), has_bias: bias ? 1 : 0, count: dx.size, splits: 1 };
  skinnyKernel.dispatch({ grad_y: dy, weight: w, bias: bias ?? w, out: dx }, params,
    [Math.ceil((batch * up(height) * up(width)) / SKINNY_PIXELS_PER_WORKGROUP), Math.ceil(channels / SKINNY_CHANNELS), s * s], describe(dy.shape, w.shape));
  return dx;
}

/** dw[o,c,i,j] = Σ_{n,oy,ox} dy[n,o,oy,ox] x[n,c,oy·s−p+i,ox·s−p+j]:  M = O, N = C·KH·KW, K = batch·OH·OW (split). */
export function gemmBackwardWeight(x: Tensor, dy: Tensor, wShape: Shape, o: ConvOptions, tiling?: GemmTiling): Tensor {
  return launch('backwardWeight', 'conv2d weight gradient', { x, grad_y: dy }, null, { x: x.shape, w: wShape, y: dy.shape }, o, tiling);
}
