// Autotuning of the conv passes, cuDNN's benchmark mode in miniature: for each distinct pass of a model
// (conv geometry, so a transposed conv's passes are conv passes too) every candidate plan is timed on the
// adapter at hand and the fastest is kept. Why not a fixed rule: tile size and split-K that suit two CPU
// threads (a few large workgroups) leave most of a 132-SM GPU idle, and the other way round; only the
// adapter itself can say. The candidates:
//   simple   shaders/conv2d.wgsl (the weight gradient only where it is small: one workgroup per weight)
//   dense    for a conv with a 1x1 output; skinny for an input gradient with ≤ SKINNY_CHANNELS channels
//   gemm     every tile (32, 64, 128) whose padded work is at most twice the least, each with K split in
//            1, 2, 4, ... 256 chunks while a chunk keeps ≥ MIN_CHUNK k and the split still adds workgroups
//            below SPLIT_WORKGROUPS (two waves of 132 SMs at batch 64 and more), plus the heuristic's own split
// Every candidate computes the same sums (test/conv-tune.test.ts runs each against the float64 reference).
// Timing: GPU timestamps of the pass's dispatches where the adapter has them, else wall time. Each wait
// sleeps through the time the work is expected to take (an untimed call of the heuristic, then each
// candidate's first timing, say how long), since a wait that polls Dawn takes a core from a CPU adapter's kernels: on lavapipe's two cores
// that read every pass ~2x slower than the same pass in a training step. A first round times each
// candidate once; the best quarter (at least 3) and the heuristic go on to ROUNDS
// alternating rounds, each measurement repeated to last ≥ 1 ms (timestamps may be quantised); the medians
// decide, and the heuristic keeps the pass unless another plan is faster in every round and by MARGIN (5%)
// in the median (noise, such as other work on a CPU adapter's cores, must not churn choices).
// A time budget bounds the whole (the trainer's --tune-budget, 60 s by default): passes go largest first (by
// multiply-adds: where a plan can save the most), each one's cost is predicted before it starts (its timed
// calls × the time one call is expected to take, scaled by what the passes so far actually cost against
// their prediction), and a pass that would not fit in what is left keeps the heuristic and is reported
// as skipped, so a later run can tune it. The same prediction gives the ETA of each progress report.
// No Node imports: the page tunes with this file unchanged; where the results are kept is the host's affair.
import conv2dCode from '../../shaders/conv2d.wgsl?raw';
import gemmCode from '../../shaders/fast/conv2d_gemm.wgsl?raw';
import skinnyCode from '../../shaders/fast/conv2d_skinny.wgsl?raw';
import denseCode from '../../shaders/fast/conv2d_dense.wgsl?raw';
import reduceCode from '../../shaders/fast/split_k_reduce.wgsl?raw';
import { sync } from '../gpu/context.ts';
import { profiler, wallTime } from '../gpu/profiler.ts';
import { tidy, type Tensor } from '../gpu/tensor.ts';
import { resolveIncludes } from '../gpu/wgsl-include.ts';
import { HALF_ROW_TILES, SKINNY_CHANNELS, TILES, gemmDims, gemmWorkgroups, type Tile } from './conv-gemm.ts';
import { isDense } from './conv-dense.ts';
import { fastPlan, heuristicPlan, passKey, planText, runConvPass, type ConvPassShape, type ConvPlan } from './conv.ts';
import { randomNormal } from './random.ts';
import { fnv1a } from '../util/hash.ts';

/** Fewest k per split-K chunk: 4 steps of the GEMM's TILE_K = 16, so a chunk is not all loop overhead. */
const MIN_CHUNK = 64;
/** Splitting stops adding candidates once a split has this many workgroups (≈ 15 waves of 132 SMs). */
const SPLIT_WORKGROUPS = 2048;
/** The simple weight gradient is a candidate only below this many multiply-adds (a workgroup per weight). */
const SIMPLE_WEIGHT_GRADIENT_MACS = 2 ** 24;
/**
 * The most K chunks a candidate has: more than the heuristic's MAX_SPLITS, since D's first weight gradient
 * (K = batch·32·32, a 64 x 48 output) needs 256 chunks of 32 tiles for two waves of a 132-SM GPU.
 */
const MAX_CANDIDATE_SPLITS = 256;
/**
 * Rounds of the finalists, and how much faster than the heuristic a plan must be to replace it: on lavapipe
 * the same pass moves by ±10% between runs, so a smaller gain is not one (on a GPU the noise is far smaller).
 */
const ROUNDS = 5;
const MARGIN = 1.05;
/** Bump when the candidate rules or the timing change: cached choices made under other rules are redone. */
const RULES_VERSION = 4;

/** The plans that can run `p`, the heuristic's first; each one the tests check against the reference. */
export function candidatePlans(p: ConvPassShape): ConvPlan[] {
  const plans = new Map<string, ConvPlan>();
  const add = (plan: ConvPlan) => plans.set(planText(plan), plan);
  add(heuristicPlan(p));
  add(fastPlan(p));
  const d = gemmDims(p.pass, p.x, p.w, p.y, p.stride);
  if (p.pass !== 'backwardWeight' || d.rows * d.columns * d.kTotal <= SIMPLE_WEIGHT_GRADIENT_MACS) add({ kernel: 'simple' });
  const padded = (t: number, rows = t) => Math.ceil(d.rows / rows) * Math.ceil(d.columns / t) * rows * t;
  const least = Math.min(...TILES.map((t) => padded(t)));
  const tilings: { tile: Tile; halfRows?: true }[] = [...TILES.map((tile) => ({ tile })), ...HALF_ROW_TILES.map((tile) => ({ tile, halfRows: true as const }))];
  for (const { tile, halfRows } of tilings) {
    const rows = halfRows ? tile / 2 : tile;
    if (padded(tile, rows) > 2 * least || (halfRows && d.rows > rows)) continue;  // half rows: only for GEMMs that few rows fill
    const workgroups = gemmWorkgroups(d, tile, rows);
    for (let splits = 1; splits <= MAX_CANDIDATE_SPLITS; splits *= 2) {
      if (splits > 1 && (d.kTotal / splits < MIN_CHUNK || (workgroups * splits) / 2 >= SPLIT_WORKGROUPS)) break;
      add(halfRows ? { kernel: 'gemm', tile, splits, halfRows } : { kernel: 'gemm', tile, splits });
    }
  }
  return [...plans.values()];
}

/** Whether `plan` may run `p` (a cached plan is checked before it is used: files can be stale or edited). */
export function isValidPlan(p: ConvPassShape, plan: ConvPlan): boolean {
  switch (plan.kernel) {
    case 'simple': return true;
    case 'dense': return !(p.bias && p.pass !== 'backwardWeight') && isDense(p.x, p.w, p.y, p);
    case 'skinny': return p.pass === 'backwardInput' && p.x[1] <= SKINNY_CHANNELS;
    case 'gemm': return TILES.includes(plan.tile) && Number.isInteger(plan.splits) && plan.splits >= 1 && plan.splits <= MAX_CANDIDATE_SPLITS
      && (plan.halfRows === undefined || (plan.halfRows === true && HALF_ROW_TILES.includes(plan.tile)));
    default: return false;
  }
}

/**
 * The engine's conv kernels and tuning rules as one tag: a cached choice is only used under the same
 * tag, since an edited kernel can change which plan is fastest.
 */
export const CONV_TUNE_VERSION = `${RULES_VERSION}-${fnv1a([
  ['shaders/conv2d.wgsl', conv2dCode], ['shaders/fast/conv2d_gemm.wgsl', gemmCode], ['shaders/fast/conv2d_skinny.wgsl', skinnyCode],
  ['shaders/fast/conv2d_dense.wgsl', denseCode], ['shaders/fast/split_k_reduce.wgsl', reduceCode],
].map(([file, code]) => resolveIncludes(file, code)).join('\n'))}`;

/** The outcome for one pass. */
interface TunedPass {
  key: string;
  shape: ConvPassShape;
  plan: ConvPlan;
  /** median ms of the chosen plan, and of the heuristic's, measured in the same alternating rounds */
  ms: number;
  heuristic: ConvPlan;
  heuristicMs: number;
  candidates: number;
}

/**
 * How much of a timed call's expected time its wait sleeps through, with timestamps: past the end, since
 * a call can run slower than the one it is expected from (measured on lavapipe: waking at 1x still read
 * some calls 1.5x slow; on a GPU a call is far under the 1 ms that sync sleeps at all).
 */
const SLEEP_SHARE = 1.5;

/**
 * ms per call of `run`, GPU time of its dispatches where there are timestamps, else wall time; one call
 * is expected to take `expectedMs`. With timestamps the wait sleeps until all of it should be done (a late
 * wake costs the tuner time, not the figure); wall time sleeps through part of it (wallTime).
 */
async function timeCalls(run: () => void, repeat: number, expectedMs: number): Promise<number> {
  if (!profiler.hasTimestamps) return wallTime(() => tidy(run), repeat, expectedMs);
  profiler.enable();
  try {
    const started = performance.now();
    for (let i = 0; i < repeat; i++) tidy(run);
    await sync(started + SLEEP_SHARE * repeat * expectedMs);
    const kernels = await profiler.read();
    return kernels.reduce((sum, k) => sum + k.totalMs, 0) / repeat;
  } finally {
    profiler.disable();
    profiler.reset();
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Random operands of `p`'s shapes (the time of a pass does not depend on the values). */
function operandsFor(p: ConvPassShape) {
  const channels = p.pass === 'forward' ? p.y[1] : p.x[1];
  return {
    x: randomNormal(p.x, 0, 1, 1), w: randomNormal(p.w, 0, 0.02, 2), dy: randomNormal(p.y, 0, 1, 3),
    bias: p.bias && p.pass !== 'backwardWeight' ? randomNormal([channels], 0, 1, 4) : null,
  };
}

/** How many candidates of `count` go on to the alternating rounds (the heuristic comes on top, when not among them). */
const finalistCount = (count: number): number => Math.max(3, Math.ceil(count / 4));

/**
 * What tuning a pass of `candidates` plans is expected to take, ms, when one call takes `callMs`: one
 * first-round call each, ROUNDS of the finalists and the heuristic (each measurement ≥ 1 ms), every wait
 * sleeping through SLEEP_SHARE of the expected time, plus a millisecond of read-back per measurement.
 */
function predictedTuningMs(candidates: number, callMs: number): number {
  const measurements = candidates + ROUNDS * Math.min(candidates, finalistCount(candidates) + 1);
  return measurements * (SLEEP_SHARE * Math.max(1, callMs) + 1);
}

/** The multiply-adds of one pass: the size of its GEMM, what orders passes and scales their predictions. */
function passMacs(p: ConvPassShape): number {
  const d = gemmDims(p.pass, p.x, p.w, p.y, p.stride);
  return d.rows * d.columns * d.kTotal;
}

/** Time every candidate of one pass and choose (see the header); `estimate` is one untimed heuristic call's wall ms. */
async function tuneConvPass(p: ConvPassShape, candidates: ConvPlan[], operands: ReturnType<typeof operandsFor>, estimate: number): Promise<TunedPass> {
  const heuristic = candidates[0];
  const runner = (plan: ConvPlan) => () => void runConvPass(p, plan, operands);
  if (!profiler.hasTimestamps) for (const plan of candidates) tidy(runner(plan));  // wall time: compile first
  // each candidate's first timed call sleeps through the heuristic's wall time (an overestimate); a
  // candidate much slower than that polls at the end and reads slower still, but such a one is no
  // finalist either way
  const first: number[] = [];
  for (const plan of candidates) first.push(await timeCalls(runner(plan), 1, estimate));
  const order = candidates.map((_, i) => i).sort((a, b) => first[a] - first[b]);
  const finalists = [...new Set([0, ...order.slice(0, finalistCount(candidates.length))])];
  // each measurement lasts ≥ 1 ms (a quantised timestamp reads 0 for a short pass), at most 20 calls
  const repeats = finalists.map((i) => (first[i] > 0 ? Math.min(20, Math.max(1, Math.ceil(1 / first[i]))) : 20));
  const samples: number[][] = finalists.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [f, i] of finalists.entries()) samples[f].push(await timeCalls(runner(candidates[i]), repeats[f], first[i]));
  }
  const medians = samples.map(median);
  // finalists[0] is the heuristic: it stays unless another plan beats it in every round (each round
  // times them back to back, so a burst of load on a shared machine hits both) and by MARGIN in the median
  const beatsHeuristic = (f: number) => samples[f].every((ms, round) => ms < samples[0][round]) && medians[f] < medians[0] / MARGIN;
  let best = 0;
  medians.forEach((ms, f) => { if (ms < medians[best] && beatsHeuristic(f)) best = f; });
  return { key: passKey(p), shape: p, plan: candidates[finalists[best]], ms: medians[best], heuristic, heuristicMs: medians[0], candidates: candidates.length };
}

/** One progress report of tuneConvPasses: after each pass, tuned or skipped. */
export interface TuneProgress {
  /** passes done (tuned or skipped) and in all */
  done: number;
  total: number;
  /** seconds since tuning began, and the expected seconds left (within the budget) */
  seconds: number;
  etaSeconds: number;
  /** the pass and what became of it, one line */
  line: string;
}

interface TuneOptions {
  /** hears one line per pass (the line of each TuneProgress) */
  log?: (line: string) => void;
  /** after each pass */
  onProgress?: (progress: TuneProgress) => void;
  /** seconds the whole may take; passes that would not fit are skipped (Infinity or absent: no limit) */
  budgetSeconds?: number;
}

/**
 * Tune each distinct pass of `passes` (by passKey), largest first, within the budget (see the header).
 * Returns the passes tuned, and those skipped for the budget (they keep whatever plan they had).
 */
export async function tuneConvPasses(passes: ConvPassShape[], options: TuneOptions = {}): Promise<{ tuned: TunedPass[]; skipped: ConvPassShape[] }> {
  const budgetMs = (options.budgetSeconds ?? Infinity) * 1000;
  const order = [...new Map(passes.map((p) => [passKey(p), p])).values()].sort((a, b) => passMacs(b) - passMacs(a));
  const tuned: TunedPass[] = [];
  const skipped: ConvPassShape[] = [];
  const started = performance.now();
  // learnt as tuning goes: wall ms per multiply-add of a heuristic call, and actual / predicted tuning time
  let estimatedMs = 0, estimatedMacs = 0, actualMs = 0, predictedMs = 0;
  const msPerMac = () => (estimatedMacs > 0 ? estimatedMs / estimatedMacs : null);
  // until a pass has been tuned, assume twice the prediction: measured on lavapipe with other work on its
  // cores, a pass took up to ~2x its prediction, and overrunning the budget is worse than leaving a pass
  const scale = () => (predictedMs > 0 ? Math.max(1, actualMs / predictedMs) : 2);
  const guess = (p: ConvPassShape) => { const m = msPerMac(); return m === null ? null : predictedTuningMs(candidatePlans(p).length, m * passMacs(p)) * scale(); };
  const report = (line: string, index: number) => {
    const seconds = (performance.now() - started) / 1000;
    const left = order.slice(index + 1).reduce((sum, p) => sum + (guess(p) ?? 0), 0) / 1000;
    const etaSeconds = Math.max(0, Math.min(left, budgetMs / 1000 - seconds));
    options.log?.(line);
    options.onProgress?.({ done: index + 1, total: order.length, seconds, etaSeconds, line });
  };
  for (const [index, p] of order.entries()) {
    const leftMs = budgetMs - (performance.now() - started);
    const skip = (needMs: number) => {
      skipped.push(p);
      report(`  ${passKey(p)}: skipped, ~${(needMs / 1000).toFixed(0)} s to tune and ${Math.max(0, leftMs / 1000).toFixed(0)} s left of the budget`, index);
    };
    const before = guess(p);
    if (before !== null && before > leftMs) { skip(before); continue; }  // no call at all: it would not fit
    const candidates = candidatePlans(p);
    const operands = operandsFor(p);
    try {
      // an untimed call of the heuristic: its wall time is the pass's prediction, and what each
      // candidate's first timed call sleeps through
      const callStarted = performance.now();
      tidy(() => void runConvPass(p, candidates[0], operands));
      await sync();
      const estimate = performance.now() - callStarted;
      estimatedMs += estimate;
      estimatedMacs += passMacs(p);
      const predicted = predictedTuningMs(candidates.length, estimate);
      if (predicted * scale() > leftMs - estimate) { skip(predicted * scale()); continue; }
      const tuningStarted = performance.now();
      const t = await tuneConvPass(p, candidates, operands, estimate);
      actualMs += performance.now() - tuningStarted;
      predictedMs += predicted;
      tuned.push(t);
      report(`  ${t.key}: ${planText(t.plan)} ${t.ms.toFixed(3)} ms (heuristic ${planText(t.heuristic)} ${t.heuristicMs.toFixed(3)} ms, ${t.candidates} candidates)`, index);
    } finally {
      for (const t of Object.values(operands)) (t as Tensor | null)?.dispose();
      await sync();
    }
  }
  return { tuned, skipped };
}
