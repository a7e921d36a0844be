// What this adapter can do at best, so each layer's figures read as a fraction of something:
//  - compute: our own tiled SGEMM (bench/sgemm.wgsl), checked against a CPU product first, in GFLOP/s
//    (2·m·n·k floating-point operations per product), the best of several calls;
//  - memory: copyBufferToBuffer of a large buffer, in GB/s counting the bytes read plus the bytes written;
//  - launch: the GPU time of the smallest dispatch (one workgroup filling one value), the floor under any
//    pass however little work it does: a pass whose FLOPs at 50% of the SGEMM rate would take less than
//    this cannot reach 50% (DCGAN's 1-logit layer at small batches).
// No Node imports: the browser bench runs this file too.
import code from './sgemm.wgsl?raw';
import tilesCode from '../shaders/shared/gemm_tiles.wgsl?raw';
import { Kernel } from '../src/gpu/kernel.ts';
import { gpu } from '../src/gpu/context.ts';
import { Tensor, tidy } from '../src/gpu/tensor.ts';
import { timeDispatches, type Timing } from './timing.ts';
import { wallTime } from '../src/gpu/profiler.ts';
import { fillInto } from '../src/kernels/elementwise.ts';

const sgemmKernel = new Kernel('bench/sgemm.wgsl', tilesCode + code, 'sgemm', { TILE: 128 });

/** C = A · B for row-major A [m, k], B [k, n]. */
export function sgemm(a: Tensor, b: Tensor, m: number, n: number, k: number): Tensor {
  if (m % 128 || n % 128 || k % 16) throw new Error(`sgemm: m and n must be multiples of 128 and k of 16, got ${m}x${n}x${k}`);
  if (a.size !== m * k || b.size !== k * n) throw new Error(`sgemm: A has ${a.size} values and B ${b.size}, expected ${m * k} and ${k * n}`);
  const c = Tensor.empty([m, n], 'sgemm output');
  sgemmKernel.dispatch({ a, b, c }, { m, n, k, unused: 0 }, [n / 128, m / 128], ` [${m},${k}]x[${k},${n}]`);
  return c;
}

/** Seeded values in [−1, 1) (a tiny LCG: the ceilings only need non-trivial data). */
function randomValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** The SGEMM against a float64 product on a small case: a ceiling from a wrong kernel would be worthless. */
export async function checkSgemm(): Promise<number> {
  const [m, n, k] = [256, 128, 48];  // two tiles along m, K in three steps
  const a = randomValues(m * k, 1);
  const b = randomValues(k * n, 2);
  const ta = Tensor.fromArray(a, [m, k]);
  const tb = Tensor.fromArray(b, [k, n]);
  const tc = sgemm(ta, tb, m, n, k);
  const c = await tc.read();
  for (const t of [ta, tb, tc]) t.dispose();
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a[i * k + p] * b[p * n + j];
      diff += (c[i * n + j] - sum) ** 2;
      norm += sum ** 2;
    }
  }
  const error = Math.sqrt(diff / norm);
  if (!(error < 1e-4)) throw new Error(`bench/sgemm.wgsl is wrong: relative error ${error} against the CPU product`);
  return error;
}

export interface Ceilings {
  sgemm: { size: number; timing: Timing; gflops: number; checkError: number };
  copy: { megabytes: number; ms: number; gbps: number };
  /** GPU (or wall) ms of one smallest dispatch, averaged over many */
  dispatch: { ms: number };
}

/** Dispatches per timed call of the launch floor: enough to average out timestamp quantisation. */
const FLOOR_DISPATCHES = 64;

export async function measureCeilings(sgemmSize: number, copyMegabytes: number, repeat: number): Promise<Ceilings> {
  const checkError = await checkSgemm();
  const s = sgemmSize;
  const a = Tensor.fromArray(randomValues(s * s, 3), [s, s]);
  const b = Tensor.fromArray(randomValues(s * s, 4), [s, s]);
  // The best of several timed calls, not their mean: a ceiling is what the adapter can do, and on a shared
  // machine a neighbour's load only ever slows a call down (the same command read 5.9 to 9.1 GFLOP/s here
  // as a mean of 3 calls). A high ceiling keeps every pass's "% SGEMM" conservative.
  const calls: Timing[] = [];
  for (let i = 0; i < Math.max(3, repeat); i++) calls.push(await timeDispatches(() => tidy(() => void sgemm(a, b, s, s, s)), 1));
  const timing = calls.reduce((best, t) => (t.ms < best.ms ? t : best));
  a.dispose();
  b.dispose();
  const gflops = (2 * s ** 3) / (timing.ms * 1e6);

  const device = gpu().device;
  const bytes = copyMegabytes * 2 ** 20;
  const usage = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | GPUBufferUsage.STORAGE;
  const source = device.createBuffer({ size: bytes, usage, label: 'copy ceiling source' });
  const target = device.createBuffer({ size: bytes, usage, label: 'copy ceiling target' });
  const copyOnce = () => {
    const commands = device.createCommandEncoder();
    commands.copyBufferToBuffer(source, 0, target, 0, bytes);
    device.queue.submit([commands.finish()]);
  };
  await wallTime(copyOnce, 1); // first touch of the memory
  const ms = await wallTime(copyOnce, repeat);
  source.destroy();
  target.destroy();

  const one = Tensor.empty([1], 'launch floor');
  const floor = await timeDispatches(() => { for (let i = 0; i < FLOOR_DISPATCHES; i++) fillInto(one, i); }, repeat);
  one.dispose();
  return {
    sgemm: { size: s, timing, gflops, checkError },
    copy: { megabytes: copyMegabytes, ms, gbps: (2 * bytes) / (ms * 1e6) },
    dispatch: { ms: floor.ms / FLOOR_DISPATCHES },
  };
}
