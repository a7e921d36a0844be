// GPU conv2d and transposed conv2d vs the float64 reference: forward, dx, dw, db on odd, non-square,
// batch-1 and DCGAN-shaped configurations, each with both kernel versions (simple and fast), and the
// autograd wrappers end to end.
import * as gpu from '../../src/kernels/conv.ts';
import * as ref from '../../src/reference/conv.ts';
import { conv2d, convTranspose2d } from '../../src/autograd/conv.ts';
import { conv2dOutputShape, convTranspose2dOutputShape, type ConvOptions } from '../../src/kernels/conv-shapes.ts';
import { tidy, type Tensor } from '../../src/gpu/tensor.ts';
import { backward } from '../../src/autograd/tape.ts';
import { tileSettings, type Tile } from '../../src/kernels/conv-gemm.ts';
import { assertClose, download, randomArray, rng, upload, type OpCase } from '../support/check.ts';

interface Config {
  x: [number, number, number, number];  // [N, C, H, W]
  w: [number, number, number, number];  // conv [O, C, KH, KW]; transposed conv [C, O, KH, KW]
  stride: number;
  padding: number;
  bias: boolean;
}

const convConfigs: Config[] = [
  { x: [2, 3, 7, 5], w: [4, 3, 3, 3], stride: 1, padding: 1, bias: true },    // kernel 3 stride 1 padding 1, non-square
  { x: [1, 2, 8, 8], w: [3, 2, 4, 4], stride: 2, padding: 1, bias: true },    // DCGAN D: kernel 4 stride 2 padding 1, batch 1
  { x: [2, 3, 4, 4], w: [1, 3, 4, 4], stride: 1, padding: 0, bias: false },   // DCGAN D's last layer: 4x4 -> 1x1
  { x: [3, 1, 9, 6], w: [2, 1, 3, 3], stride: 2, padding: 0, bias: false },   // odd sizes, rows the stride skips
  { x: [1, 4, 5, 7], w: [3, 4, 2, 3], stride: 2, padding: 1, bias: true },    // non-square kernel
  { x: [2, 5, 6, 3], w: [2, 5, 1, 1], stride: 1, padding: 0, bias: true },    // 1x1 kernel
  { x: [2, 2, 20, 19], w: [3, 2, 3, 3], stride: 1, padding: 1, bias: true },  // reductions longer than a workgroup
  // GEMM tile edges: M = 136 and N = 3·13·11 past a 128 tile, K = 45 past an 8 step
  { x: [3, 5, 13, 11], w: [136, 5, 3, 3], stride: 1, padding: 1, bias: true },
  // dx's M = 130 past a tile; K = 1170 on one tile: split K in the forward
  { x: [1, 130, 5, 5], w: [66, 130, 3, 3], stride: 1, padding: 1, bias: true },
  { x: [2, 6, 11, 10], w: [20, 6, 5, 5], stride: 3, padding: 2, bias: false }, // stride 3: 9 input-gradient phases of 2x2, 2x1, 1x1 taps
  { x: [2, 4, 7, 7], w: [5, 4, 1, 1], stride: 2, padding: 0, bias: false },    // 1x1 stride 2: three phases have no taps (dx = 0 there)
  // dense (1x1 output, shaders/fast/conv2d_dense.wgsl): forward K = 925 split in 3 unequal chunks, dw's 10 rows in 2 blocks
  { x: [3, 37, 5, 5], w: [10, 37, 5, 5], stride: 2, padding: 0, bias: false },
  { x: [2, 3, 4, 4], w: [2, 3, 4, 4], stride: 1, padding: 0, bias: true },    // dense with a bias: the forward takes the tiled GEMM
];

const transposeConfigs: Config[] = [
  { x: [2, 4, 1, 1], w: [4, 3, 4, 4], stride: 1, padding: 0, bias: false },   // DCGAN G's first layer: 1x1 -> 4x4
  { x: [1, 3, 4, 4], w: [3, 2, 4, 4], stride: 2, padding: 1, bias: true },    // DCGAN G: kernel 4 stride 2 padding 1, batch 1
  { x: [2, 2, 3, 5], w: [2, 3, 3, 3], stride: 1, padding: 1, bias: true },    // kernel 3 stride 1 padding 1, non-square
  { x: [3, 2, 5, 2], w: [2, 1, 3, 3], stride: 2, padding: 0, bias: false },   // odd sizes
  { x: [1, 3, 3, 4], w: [3, 2, 2, 3], stride: 2, padding: 1, bias: true },    // non-square kernel
  { x: [2, 1, 2, 3], w: [1, 2, 4, 4], stride: 2, padding: 1, bias: false },
  { x: [2, 2, 8, 9], w: [2, 2, 4, 4], stride: 2, padding: 1, bias: true },    // reductions longer than a workgroup
  { x: [1, 67, 5, 7], w: [67, 9, 4, 4], stride: 2, padding: 1, bias: true },   // GEMM tile edges, odd sizes
  { x: [9, 5, 1, 1], w: [5, 6, 3, 3], stride: 1, padding: 0, bias: true },    // 1x1 -> 3x3 with a bias; dense passes with 9 rows (2 blocks)
];

/**
 * The layers of the 64x64 DCGAN (PyTorch's example) at batch 2 with ngf = ndf = 8 instead of 64 (the CPU
 * reference and the CPU adapter are slow), nz = 100: G as transposed convs, D as convs.
 */
const dcganFeatures = 8;
const dcganGenerator: Config[] = [
  { x: [2, 100, 1, 1], w: [100, 8 * dcganFeatures, 4, 4], stride: 1, padding: 0, bias: false },  // 1 -> 4
  { x: [2, 8 * dcganFeatures, 4, 4], w: [8 * dcganFeatures, 4 * dcganFeatures, 4, 4], stride: 2, padding: 1, bias: false },  // 4 -> 8
  { x: [2, 4 * dcganFeatures, 8, 8], w: [4 * dcganFeatures, 2 * dcganFeatures, 4, 4], stride: 2, padding: 1, bias: false },  // 8 -> 16
  { x: [2, 2 * dcganFeatures, 16, 16], w: [2 * dcganFeatures, dcganFeatures, 4, 4], stride: 2, padding: 1, bias: false },  // 16 -> 32
  { x: [2, dcganFeatures, 32, 32], w: [dcganFeatures, 3, 4, 4], stride: 2, padding: 1, bias: false },  // 32 -> 64
];
const dcganDiscriminator: Config[] = [
  { x: [2, 3, 64, 64], w: [dcganFeatures, 3, 4, 4], stride: 2, padding: 1, bias: false },  // 64 -> 32
  { x: [2, dcganFeatures, 32, 32], w: [2 * dcganFeatures, dcganFeatures, 4, 4], stride: 2, padding: 1, bias: false },
  { x: [2, 2 * dcganFeatures, 16, 16], w: [4 * dcganFeatures, 2 * dcganFeatures, 4, 4], stride: 2, padding: 1, bias: false },
  { x: [2, 4 * dcganFeatures, 8, 8], w: [8 * dcganFeatures, 4 * dcganFeatures, 4, 4], stride: 2, padding: 1, bias: false },
  { x: [2, 8 * dcganFeatures, 4, 4], w: [1, 8 * dcganFeatures, 4, 4], stride: 1, padding: 0, bias: false },  // 4 -> 1
];

const tagOf = (c: Config, seed: number) =>
  `x [${c.x}] w [${c.w}] stride ${c.stride} padding ${c.padding}${c.bias ? ' bias' : ''} seed ${seed}`;

function data(c: Config, yShape: readonly number[], seed: number) {
  const r = rng(seed);
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  return {
    x: randomArray(size(c.x), r),
    w: randomArray(size(c.w), r),
    b: c.bias ? randomArray(yShape[1], r) : null,
    dy: randomArray(size(yShape), r),
  };
}

async function compare(tag: string, results: [string, Tensor, Float64Array][]): Promise<void> {
  try {
    for (const [what, t, expected] of results) assertClose(`${what} ${tag}`, await download(t), expected);
  } finally {
    for (const [, t] of results) t.dispose();
  }
}

type Kind = 'conv2d' | 'convTranspose2d';

/** Each op's GPU launchers, reference and autograd op under one set of names. */
const ops = {
  conv2d: {
    outputShape: conv2dOutputShape,
    gpu: { forward: gpu.conv2dForward, backwardInput: gpu.conv2dBackwardInput, backwardWeight: gpu.conv2dBackwardWeight },
    ref: { forward: ref.conv2dForward, backwardInput: ref.conv2dBackwardInput, backwardWeight: ref.conv2dBackwardWeight },
    autograd: conv2d,
  },
  convTranspose2d: {
    outputShape: convTranspose2dOutputShape,
    gpu: { forward: gpu.convTranspose2dForward, backwardInput: gpu.convTranspose2dBackwardInput, backwardWeight: gpu.convTranspose2dBackwardWeight },
    ref: { forward: ref.convTranspose2dForward, backwardInput: ref.convTranspose2dBackwardInput, backwardWeight: ref.convTranspose2dBackwardWeight },
    autograd: convTranspose2d,
  },
};

/** The reference's forward, dx, dw, db for one configuration and its data. */
function expected(kind: Kind, c: Config, o: ConvOptions, yShape: readonly number[], d: ReturnType<typeof data>) {
  const r = ops[kind].ref;
  return {
    y: r.forward(d.x, c.x, d.w, c.w, d.b, o),
    dx: r.backwardInput(d.dy, d.w, c.w, c.x, o),
    dw: r.backwardWeight(d.x, c.x, d.dy, c.w, o),
    db: ref.convBiasBackward(d.dy, yShape),
  };
}

/**
 * The launchers with one kernel variant: forward, dx, dw and db, each against the reference. The fast
 * variant's GEMMs pick a 64 or 128 tile per shape (tileFor): these small shapes mostly get 64, so `tile` can
 * force another (128, or the tuner's 32).
 */
function kernelCase(kind: Kind, c: Config, seed: number, variant: gpu.ConvVariant, tile: Tile | null = null): OpCase {
  const o: ConvOptions = { stride: c.stride, padding: c.padding };
  const tag = `${tagOf(c, seed)} ${variant}${tile ? ` tile ${tile}` : ''}`;
  const { outputShape, gpu: launch } = ops[kind];
  return {
    name: `${kind} ${tag}`,
    run: async () => {
      const yShape = outputShape(c.x, c.w, o);
      const d = data(c, yShape, seed);
      const [y, dx, dw, db] = tidy(() => {
        const x = upload(d.x, c.x), w = upload(d.w, c.w), dy = upload(d.dy, yShape);
        const b = d.b ? upload(d.b, [yShape[1]]) : null;
        tileSettings.forced = tile;
        try {
          return [launch.forward(x, w, b, o, variant), launch.backwardInput(dy, w, c.x, o, variant),
            launch.backwardWeight(x, dy, c.w, o, variant), gpu.convBiasBackward(dy)];
        } finally {
          tileSettings.forced = null;
        }
      });
      const e = expected(kind, c, o, yShape, d);
      await compare(tag, [[`${kind} forward`, y, e.y], [`${kind} dx`, dx, e.dx], [`${kind} dw`, dw, e.dw], [`${kind} db`, db, e.db]]);
    },
  };
}

/** The autograd op: forward, then backward with a given upstream gradient; compare the leaves' .grad. */
function autogradCase(kind: Kind, c: Config, seed: number): OpCase {
  const o: ConvOptions = { stride: c.stride, padding: c.padding };
  const tag = tagOf(c, seed);
  return {
    name: `autograd ${kind} ${tag}`,
    run: async () => {
      const yShape = ops[kind].outputShape(c.x, c.w, o);
      const d = data(c, yShape, seed);
      const x = upload(d.x, c.x, true), w = upload(d.w, c.w, true);
      const b = d.b ? upload(d.b, [yShape[1]], true) : null;
      try {
        const y = tidy(() => {
          const out = ops[kind].autograd(x, w, b, o);
          backward(out, upload(d.dy, yShape));
          return out;
        });
        const e = expected(kind, c, o, yShape, d);
        const checks: [string, Tensor | null, Float64Array][] = [['y', y, e.y], ['x.grad', x.grad, e.dx], ['w.grad', w.grad, e.dw]];
        if (b) checks.push(['b.grad', b.grad, e.db]);
        try {
          for (const [what, g, want] of checks) {
            if (!g) throw new Error(`autograd ${kind} ${tag}: ${what} is null`);
            assertClose(`autograd ${kind} ${what} ${tag}`, await download(g), want);
          }
        } finally {
          y.dispose();
        }
      } finally {
        for (const t of [x, w, b]) { t?.zeroGrad(); t?.dispose(); }
      }
    },
  };
}

const bothVariants = (kind: Kind, configs: Config[], firstSeed: number, tiles: Tile[] = [128]) => configs.flatMap((c, k) => [
  kernelCase(kind, c, firstSeed + k, 'simple'), kernelCase(kind, c, firstSeed + k, 'fast'),
  ...tiles.map((tile) => kernelCase(kind, c, firstSeed + k, 'fast', tile)),
]);

export const convCases: OpCase[] = [
  ...bothVariants('conv2d', convConfigs, 300),
  ...bothVariants('convTranspose2d', transposeConfigs, 400),
  // the DCGAN's layers also with the 32 tile, which the tuner (src/kernels/conv-tune.ts) may choose on a large GPU
  ...bothVariants('convTranspose2d', dcganGenerator, 600, [128, 32]),
  ...bothVariants('conv2d', dcganDiscriminator, 700, [128, 32]),
  autogradCase('conv2d', convConfigs[0], 500),
  autogradCase('conv2d', convConfigs[3], 501),
  autogradCase('convTranspose2d', transposeConfigs[1], 502),
  autogradCase('convTranspose2d', transposeConfigs[0], 503),
];
