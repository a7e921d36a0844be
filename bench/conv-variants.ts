// Simple vs GEMM conv kernels on every conv and transposed-conv layer of the 64x64 DCGAN: ms and GFLOP/s
// of each pass (forward, input gradient dX, weight gradient dW) for both versions, next to this adapter's
// tiled SGEMM (bench/sgemm.wgsl) as the ceiling to compare against. Wall time: submit, then
// device.queue.onSubmittedWorkDone(), per call, after one warm-up call; the median of the repeats.
//
//   node --import tsx --import ./scripts/register-wgsl.mjs bench/conv-variants.ts [--batch 8] [--features 64]
//        [--repeat 5] [--sgemm 512] [--only G2,D3] [--variants simple,gemm]
//
// FLOPs per pass are 2 · N·O·OH·OW·C·KH·KW in conv geometry (the transposed conv's taps are its adjoint
// conv's), padding taps included, for all three passes: the usual convention, so figures compare with cuDNN's.
import { parseArgs } from 'node:util';
import { closeDevice, nodeDevice } from '../src/node/webgpu.ts';
import { flush } from '../src/gpu/context.ts';
import { Tensor, tidy, type Shape } from '../src/autograd/tensor.ts';
import * as conv from '../src/kernels/conv.ts';
import { conv2dOutputShape, convTranspose2dOutputShape, type ConvOptions } from '../src/kernels/conv-shapes.ts';
import { checkSgemm, sgemm } from './ceilings.ts';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '8' },
    features: { type: 'string', default: '64' },  // ngf = ndf
    repeat: { type: 'string', default: '5' },
    sgemm: { type: 'string', default: '512' },
    only: { type: 'string', default: '' },          // comma-separated layer names
    variants: { type: 'string', default: 'simple,gemm' },
  },
});
const batch = Number(values.batch);
const f = Number(values.features);
const repeat = Number(values.repeat);
const variants = values.variants!.split(',') as conv.ConvVariant[];

interface Layer { name: string; transposed: boolean; x: Shape; w: Shape; o: ConvOptions }
const s2: ConvOptions = { stride: 2, padding: 1 };
const layers: Layer[] = [
  { name: 'G1', transposed: true, x: [batch, 100, 1, 1], w: [100, 8 * f, 4, 4], o: { stride: 1, padding: 0 } },
  { name: 'G2', transposed: true, x: [batch, 8 * f, 4, 4], w: [8 * f, 4 * f, 4, 4], o: s2 },
  { name: 'G3', transposed: true, x: [batch, 4 * f, 8, 8], w: [4 * f, 2 * f, 4, 4], o: s2 },
  { name: 'G4', transposed: true, x: [batch, 2 * f, 16, 16], w: [2 * f, f, 4, 4], o: s2 },
  { name: 'G5', transposed: true, x: [batch, f, 32, 32], w: [f, 3, 4, 4], o: s2 },
  { name: 'D1', transposed: false, x: [batch, 3, 64, 64], w: [f, 3, 4, 4], o: s2 },
  { name: 'D2', transposed: false, x: [batch, f, 32, 32], w: [2 * f, f, 4, 4], o: s2 },
  { name: 'D3', transposed: false, x: [batch, 2 * f, 16, 16], w: [4 * f, 2 * f, 4, 4], o: s2 },
  { name: 'D4', transposed: false, x: [batch, 4 * f, 8, 8], w: [8 * f, 4 * f, 4, 4], o: s2 },
  { name: 'D5', transposed: false, x: [batch, 8 * f, 4, 4], w: [1, 8 * f, 4, 4], o: { stride: 1, padding: 0 } },
].filter((l) => !values.only || values.only.split(',').includes(l.name));

const size = (s: Shape) => s.reduce((a, b) => a * b, 1);
const random = (shape: Shape, seed: number) => {
  const data = new Float32Array(size(shape));
  let state = seed;
  for (let i = 0; i < data.length; i++) data[i] = ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 31) - 1;
  return Tensor.fromArray(data, shape);
};

/** Median wall ms of one call of `record` (each submitted and waited for alone), after a warm-up. */
async function time(record: () => void): Promise<number> {
  const device = (await nodeDevice({ quiet: true })).device;
  const once = async () => {
    const started = performance.now();
    tidy(record);
    flush();
    await device.queue.onSubmittedWorkDone();
    return performance.now() - started;
  };
  const first = await once();  // compiles the pipelines, fills the buffer pool
  if (first > 3000) return first;  // the simple weight gradient of a wide layer takes many seconds on a CPU
  const runs = repeat;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await once());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const { adapter } = await nodeDevice();
console.log(`DCGAN 64x64, ngf = ndf = ${f}, batch ${batch}, ${repeat} timed calls per pass (median)${adapter.software ? ', software adapter' : ''}`);

await checkSgemm();
const n = Number(values.sgemm);
const [a, b] = [random([n, n], 1), random([n, n], 2)];
const sgemmMs = await time(() => void sgemm(a, b, n, n, n));
const sgemmGflops = (2 * n ** 3) / (sgemmMs * 1e6);
console.log(`SGEMM ${n}x${n}x${n}: ${sgemmMs.toFixed(2)} ms, ${sgemmGflops.toFixed(2)} GFLOP/s (the ceiling for the ratios below)\n`);
a.dispose();
b.dispose();

const header = ['layer', 'pass', 'GEMM M x N x K', ...variants.flatMap((v) => [`${v} ms`, `${v} GFLOP/s`]), 'speed-up', 'of SGEMM', 'auto'];
console.log(header.join('\t'));
for (const l of layers) {
  const yShape = (l.transposed ? convTranspose2dOutputShape : conv2dOutputShape)(l.x, l.w, l.o);
  const x = random(l.x, 3), w = random(l.w, 4), dy = random(yShape, 5);
  // conv geometry: the transposed conv's output is its adjoint conv's input
  const [convX, convY] = l.transposed ? [yShape, l.x] : [l.x, yShape];
  const [kOut, kIn, kh, kw] = l.w;
  const [convO, convC] = [kOut, kIn];  // both weight layouts put the adjoint conv's [O, C] first
  const flops = 2 * convY[0] * convO * convY[2] * convY[3] * convC * kh * kw;
  const up = (v: number) => Math.ceil(v / l.o.stride);
  const passes: { pass: 'forward' | 'backwardInput' | 'backwardWeight'; label: string; gemm: [number, number, number]; run: (v: conv.ConvVariant) => unknown }[] = l.transposed ? [
    { pass: 'backwardInput', label: 'forward', gemm: [convC, convX[0] * up(convX[2]) * up(convX[3]), convO * up(kh) * up(kw)], run: (v) => conv.convTranspose2dForward(x, w, null, l.o, v) },
    { pass: 'forward', label: 'dX', gemm: [convO, convY[0] * convY[2] * convY[3], convC * kh * kw], run: (v) => conv.convTranspose2dBackwardInput(dy, w, l.x, l.o, v) },
    { pass: 'backwardWeight', label: 'dW', gemm: [convO, convC * kh * kw, convY[0] * convY[2] * convY[3]], run: (v) => conv.convTranspose2dBackwardWeight(x, dy, l.w, l.o, v) },
  ] : [
    { pass: 'forward', label: 'forward', gemm: [convO, convY[0] * convY[2] * convY[3], convC * kh * kw], run: (v) => conv.conv2dForward(x, w, null, l.o, v) },
    { pass: 'backwardInput', label: 'dX', gemm: [convC, convX[0] * up(convX[2]) * up(convX[3]), convO * up(kh) * up(kw)], run: (v) => conv.conv2dBackwardInput(dy, w, l.x, l.o, v) },
    { pass: 'backwardWeight', label: 'dW', gemm: [convO, convC * kh * kw, convY[0] * convY[2] * convY[3]], run: (v) => conv.conv2dBackwardWeight(x, dy, l.w, l.o, v) },
  ];
  for (const p of passes) {
    const ms: number[] = [];
    for (const v of variants) ms.push(await time(() => void p.run(v)));
    const gflops = ms.map((t) => flops / (t * 1e6));
    const best = Math.max(...gflops);
    console.log([l.name, p.label, p.gemm.join(' x '), ...ms.flatMap((t, i) => [t.toFixed(2), gflops[i].toFixed(2)]),
      ms.length === 2 ? `${(ms[0] / ms[1]).toFixed(1)}x` : '', `${((100 * best) / sgemmGflops).toFixed(0)}%`, conv.chooseVariant(p.pass, p.gemm[0], p.gemm[1])].join('\t'));
  }
  for (const t of [x, w, dy]) t.dispose();
}
await closeDevice();
