// The conv tuner (src/kernels/conv-tune.ts, src/train/tune.ts): every candidate plan it may choose computes
// what the float64 reference does; the candidate space reaches the workgroup counts a large GPU needs;
// kept choices are used only for the same adapter and engine, and a broken or stale file is tuned again.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as conv from '../src/kernels/conv.ts';
import { CONV_TUNE_VERSION, candidatePlans } from '../src/kernels/conv-tune.ts';
import { gemmDims, gemmWorkgroups, tileRows } from '../src/kernels/conv-gemm.ts';
import * as ref from '../src/reference/conv.ts';
import { tidy } from '../src/gpu/tensor.ts';
import { profiler } from '../src/gpu/profiler.ts';
import type { AdapterDescription } from '../src/gpu/device.ts';
import { convLayerShapes, convPassShapes } from '../src/model/conv-layers.ts';
import type { DcganConfig } from '../src/model/dcgan.ts';
import { tuneConvPlans, type TuningStore } from '../src/train/tune.ts';
import { assertClose, download, randomArray, rng, upload } from './support/check.ts';
import { useGpu } from './support/node-device.ts';
import { writeSyntheticPhotos } from './support/photos.ts';

useGpu();

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** The conv geometry passes of a few layers: DCGAN-shaped, tile edges, a bias, a dense and a skinny one. */
function passesOf(x: number[], w: number[], stride: number, padding: number, bias: boolean, transposed = false): conv.ConvPassShape[] {
  const o = { stride, padding };
  const y = transposed ? [...convTransposeShape(x, w, o)] : [...convShape(x, w, o)];
  return convPassShapes({ name: '', transposed, x, w, y, options: o, bias, macs: 0 });
}
const convShape = (x: number[], w: number[], o: { stride: number; padding: number }) =>
  [x[0], w[0], Math.floor((x[2] + 2 * o.padding - w[2]) / o.stride) + 1, Math.floor((x[3] + 2 * o.padding - w[3]) / o.stride) + 1];
const convTransposeShape = (x: number[], w: number[], o: { stride: number; padding: number }) =>
  [x[0], w[1], (x[2] - 1) * o.stride - 2 * o.padding + w[2], (x[3] - 1) * o.stride - 2 * o.padding + w[3]];

const shapes: conv.ConvPassShape[] = [
  ...passesOf([2, 16, 16, 16], [32, 16, 4, 4], 2, 1, false),        // D's middle layers: stride 2, kernel 4
  ...passesOf([2, 32, 4, 4], [32, 16, 4, 4], 2, 1, false, true),    // G's middle layers, transposed
  ...passesOf([3, 5, 13, 11], [40, 5, 3, 3], 1, 1, true),           // tile edges in M and N, a bias
  ...passesOf([1, 4, 9, 9], [4, 3, 4, 4], 2, 1, true, true),        // transposed with a bias: skinny input gradient
  ...passesOf([2, 100, 1, 1], [100, 16, 4, 4], 1, 0, false, true),  // G's first layer: dense passes
  ...passesOf([2, 70, 4, 4], [1, 70, 4, 4], 1, 0, false),           // D's last layer: 1 logit
];

/** The reference's result of pass p on the operands. */
function expectedOf(p: conv.ConvPassShape, d: { x: Float64Array; w: Float64Array; dy: Float64Array; b: Float64Array | null }): Float64Array {
  const o = { stride: p.stride, padding: p.padding };
  if (p.pass === 'forward') return ref.conv2dForward(d.x, p.x, d.w, p.w, d.b, o);
  if (p.pass === 'backwardWeight') return ref.conv2dBackwardWeight(d.x, p.x, d.dy, p.w, o);
  const dx = ref.conv2dBackwardInput(d.dy, d.w, p.w, p.x, o);
  const plane = p.x[2] * p.x[3];
  if (d.b) dx.forEach((v, i) => (dx[i] = v + d.b![Math.floor(i / plane) % p.x[1]]));
  return dx;
}

describe('every candidate plan matches the float64 reference', () => {
  for (const [k, p] of shapes.entries()) {
    const plans = candidatePlans(p);
    it(`${conv.passKey(p)}: ${plans.map(conv.planText).join(', ')}`, async () => {
      const r = rng(900 + k);
      const channels = p.pass === 'forward' ? p.y[1] : p.x[1];
      const d = { x: randomArray(size(p.x), r), w: randomArray(size(p.w), r), dy: randomArray(size(p.y), r),
        b: p.bias && p.pass !== 'backwardWeight' ? randomArray(channels, r) : null };
      const expected = expectedOf(p, d);
      for (const plan of plans) {
        const out = tidy(() => conv.runConvPass(p, plan, { x: upload(d.x, p.x), w: upload(d.w, p.w), dy: upload(d.dy, p.y), bias: d.b && upload(d.b, [channels]) }));
        try {
          assertClose(`${conv.passKey(p)} ${conv.planText(plan)}`, await download(out), expected);
        } finally {
          out.dispose();
        }
      }
    });
  }

  it('the candidates include every tile and split K, and skinny, dense and simple where they apply', () => {
    const texts = shapes.flatMap((p) => candidatePlans(p).map(conv.planText));
    for (const want of ['gemm 32', 'gemm 64', 'gemm 128', 'gemm 32x64', 'gemm 64x128', 'simple', 'skinny', 'dense']) expect(texts).toContain(want);
    expect(texts.some((t) => /split \d+/.test(t))).toBe(true);
  });

  it('every candidate is found again by its name (the bench takes plans by name), and a wrong name is none', () => {
    for (const plan of shapes.flatMap((p) => candidatePlans(p))) expect(conv.parsePlan(conv.planText(plan)), conv.planText(plan)).toEqual(plan);
    for (const bad of ['gemm 48', 'gemm 32x128', 'gemm 16x32', 'gemm 128 split 0', 'tiled', 'gemm']) expect(conv.parsePlan(bad), bad).toBeNull();
  });
});

describe('the candidate space suits a large GPU', () => {
  it('every GEMM pass of the 64x64 DCGAN at batch 64 has a candidate with two waves of 132 SMs (264 workgroups)', () => {
    const config: DcganConfig = { imageSize: 64, nz: 100, ngf: 64, ndf: 64, nc: 3 };
    const passes = convLayerShapes(config, 64).flatMap(convPassShapes);
    const short: string[] = [];
    for (const p of passes) {
      if (conv.heuristicPlan(p).kernel === 'dense') continue;  // a dense layer's few multiply-adds: its own kernel
      const gemms = candidatePlans(p).filter((plan): plan is Extract<conv.ConvPlan, { kernel: 'gemm' }> => plan.kernel === 'gemm');
      const most = Math.max(...gemms.map((g) => gemmWorkgroups(gemmDims(p.pass, p.x, p.w, p.y, p.stride), g.tile, tileRows(g)) * g.splits));
      if (most < 264) short.push(`${conv.passKey(p)}: ${most}`);
    }
    expect(short).toEqual([]);
  });
});

/** A store in memory, as the page's browser storage or the Node cache file would hold it. */
function memoryStore(text: string | null = null): TuningStore & { text: string | null; writes: number } {
  const store = {
    where: 'memory', text, writes: 0,
    read: async () => store.text,
    write: async (t: string) => { store.text = t; store.writes++; },
  };
  return store;
}

const adapter = (device: string): AdapterDescription => ({ vendor: 'test', architecture: 'arch', device, description: 'driver 1', software: true });

/** The kernels (with their shape tags) that one call of `record` dispatches. */
async function dispatchedBy(record: () => void): Promise<string[]> {
  profiler.enable();
  try {
    tidy(record);
    return (await profiler.read()).map((k) => `${k.kernel}${k.shape ? ` ${k.shape}` : ''}`);
  } finally {
    profiler.disable();
    profiler.reset();
  }
}

describe('kept choices', () => {
  const passes = passesOf([2, 16, 16, 16], [32, 16, 4, 4], 2, 1, false);
  const forward = passes[0];

  it('auto tunes once and then uses the kept choices; force tunes again; off is the heuristic', async () => {
    const store = memoryStore();
    const first = await tuneConvPlans(passes, { mode: 'auto', adapter: adapter('a'), store });
    expect([first.tuned, first.kept, store.writes]).toEqual([3, 0, 1]);
    const kept = JSON.parse(store.text!);
    expect(kept.engine).toBe(CONV_TUNE_VERSION);
    expect(Object.keys(kept.passes).sort()).toEqual(passes.map(conv.passKey).sort());
    const second = await tuneConvPlans(passes, { mode: 'auto', adapter: adapter('a'), store });
    expect([second.tuned, second.kept, store.writes]).toEqual([0, 3, 1]);
    const forced = await tuneConvPlans(passes, { mode: 'force', adapter: adapter('a'), store });
    expect([forced.tuned, forced.kept, store.writes]).toEqual([3, 0, 2]);
    const off = await tuneConvPlans(passes, { mode: 'off', adapter: adapter('a'), store });
    expect([off.tuned, off.kept, store.writes]).toEqual([0, 0, 2]);
  });

  it('the launchers run the kept plan, and the heuristic again with --tune off', async () => {
    const x = upload(randomArray(size(forward.x), rng(1)), forward.x);
    const w = upload(randomArray(size(forward.w), rng(2)), forward.w);
    try {
      const run = () => void conv.conv2dForward(x, w, null, forward);
      const plan = { kernel: 'gemm', tile: 32, splits: 2 };
      const entry = { plan, ms: 1, heuristic: 'gemm 64', heuristicMs: 2 };
      const text = JSON.stringify({ format: 'webgpu-dcgan-conv-tuning', adapter: 'test / arch / a / driver 1', engine: CONV_TUNE_VERSION,
        passes: { [conv.passKey(forward)]: entry } });
      const tuned = await tuneConvPlans([forward], { mode: 'auto', adapter: adapter('a'), store: memoryStore(text) });
      expect(tuned.kept).toBe(1);
      const kernels = await dispatchedBy(run);
      expect(kernels.some((k) => k.includes('conv2d_gemm_forward TILE=32') && k.includes('split 2'))).toBe(true);
      await tuneConvPlans([forward], { mode: 'off', adapter: adapter('a'), store: null });
      const heuristic = conv.planText(conv.heuristicPlan(forward));
      expect(heuristic).not.toBe('gemm 32 split 2');
      expect((await dispatchedBy(run)).some((k) => k.includes('TILE=32'))).toBe(false);
    } finally {
      x.dispose();
      w.dispose();
    }
  });

  it('another adapter, another engine, a broken file or an impossible plan is tuned again, with a note for a broken file', async () => {
    const store = memoryStore();
    await tuneConvPlans([forward], { mode: 'auto', adapter: adapter('a'), store });
    const good = store.text!;
    const other = await tuneConvPlans([forward], { mode: 'auto', adapter: adapter('b'), store: memoryStore(good) });
    expect(other.tuned).toBe(1);
    const stale = await tuneConvPlans([forward], { mode: 'auto', adapter: adapter('a'), store: memoryStore(good.replace(CONV_TUNE_VERSION, 'old')) });
    expect(stale.tuned).toBe(1);
    const notes: string[] = [];
    const broken = await tuneConvPlans([forward], { mode: 'auto', adapter: adapter('a'), store: memoryStore('{"format": '), log: (l) => notes.push(l) });
    expect(broken.tuned).toBe(1);
    expect(notes.filter((l) => l.startsWith('note:'))).toEqual([expect.stringContaining('memory is not valid JSON')]);
    const impossible = JSON.parse(good);
    impossible.passes[conv.passKey(forward)].plan = { kernel: 'skinny' };  // 16 channels of x but a forward pass
    const redone = await tuneConvPlans([forward], { mode: 'auto', adapter: adapter('a'), store: memoryStore(JSON.stringify(impossible)) });
    expect(redone.tuned).toBe(1);
  });
});

describe('npm run train -- --tune', () => {
  const exec = promisify(execFile);
  const ROOT = path.resolve(import.meta.dirname, '..');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dcgan-tune-test-'));
  const photos = path.join(tmp, 'photos');
  const TINY = ['--data', photos, '--image-size', '16', '--ngf', '4', '--ndf', '4', '--nz', '8', '--batch-size', '4', '--max-iters', '2', '--cache-dir', path.join(tmp, 'cache')];
  async function train(args: string[]): Promise<{ code: number; stderr: string }> {
    try {
      const { stderr } = await exec(process.execPath, ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', 'src/node/cli/train.ts', ...args], { cwd: ROOT, timeout: 240_000 });
      return { code: 0, stderr };
    } catch (e) {
      const err = e as { code: number; stderr: string };
      return { code: err.code, stderr: err.stderr };
    }
  }
  const tuneEvents = (out: string) => readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'tune');

  it('tunes on the first run, keeps the choices under --cache-dir for the next, and refuses an unknown mode in one line', async () => {
    await writeSyntheticPhotos(photos, 8);
    // a budget too small for any pass: every pass is reported as skipped, keeps the heuristic, and nothing is kept
    const starved = await train([...TINY, '--out', path.join(tmp, 's'), '--tune-budget', '0.001']);
    expect(starved.code, starved.stderr).toBe(0);
    const [none] = tuneEvents(path.join(tmp, 's'));
    expect(none).toEqual(expect.objectContaining({ mode: 'auto', tuned: 0, kept: 0 }));
    expect(none.skipped).toBeGreaterThan(5);
    expect(starved.stderr.match(/^conv plans \d+\/\d+ .* ETA \d+:\d\d .*: skipped, ~\d+ s to tune and 0 s left of the budget$/gm)).toHaveLength(none.skipped);
    expect(starved.stderr).toMatch(/left for a later run \(they did not fit the 0.001 s budget/);
    expect(existsSync(path.join(tmp, 'cache')) ? readdirSync(path.join(tmp, 'cache')).filter((f) => f.startsWith('conv-tuning-')) : []).toHaveLength(0);
    // the default budget fits these tiny passes: all tuned, one progress line each, then kept for the next run
    const first = await train([...TINY, '--out', path.join(tmp, 'a')]);
    expect(first.code, first.stderr).toBe(0);
    const passes = none.skipped as number;
    expect(tuneEvents(path.join(tmp, 'a'))).toEqual([expect.objectContaining({ mode: 'auto', tuned: passes, kept: 0, skipped: 0 })]);
    expect(first.stderr.match(/^conv plans \d+\/\d+  \d+%  \d+:\d\d  ETA \d+:\d\d  (forward|backwardInput|backwardWeight) .*: \w+/gm)).toHaveLength(passes);
    expect(readdirSync(path.join(tmp, 'cache')).filter((f) => f.startsWith('conv-tuning-'))).toHaveLength(1);
    const second = await train([...TINY, '--out', path.join(tmp, 'b')]);
    expect(tuneEvents(path.join(tmp, 'b'))).toEqual([expect.objectContaining({ mode: 'auto', tuned: 0, kept: passes })]);
    expect(second.stderr).toMatch(new RegExp(`conv plans: 0 passes tuned in [\\d.]+ s, ${passes} kept from before`));
    const off = await train([...TINY, '--out', path.join(tmp, 'c'), '--tune', 'off']);
    expect(tuneEvents(path.join(tmp, 'c'))).toEqual([expect.objectContaining({ mode: 'off', tuned: 0, kept: 0 })]);
    expect(off.code).toBe(0);
    const bad = await train([...TINY, '--out', path.join(tmp, 'd'), '--tune', 'fast']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n').filter((l) => !l.startsWith('Warning:'))).toEqual(["error: --tune must be one of auto, off, force, not 'fast'"]);
  }, 300_000);
});
