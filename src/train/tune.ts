// Choosing the conv plans of a training run before its first step (`--tune auto|off|force`): the passes
// of its G and D at its batch size (src/model/conv-layers.ts) are tuned on this adapter by
// src/kernels/conv-tune.ts, and the choices are kept per adapter, so the next run on the same adapter,
// engine and shapes starts at once:
//   auto   use the kept choices; tune only the passes that have none (the first run, a new batch size)
//   force  tune every pass again and keep the new choices
//   off    no tuning: every pass takes the heuristic (src/kernels/conv.ts heuristicPlan)
// A kept choice counts only under the same adapter (vendor, architecture, device, description: Dawn puts
// the driver there) and the same engine (CONV_TUNE_VERSION: the conv kernels' text and the tuning rules).
// The time it may take is bounded (budgetSeconds: the trainer's --tune-budget, DEFAULT_TUNE_BUDGET_S):
// passes that would not fit keep their kept choice, or the heuristic, and are not written, so the next
// `auto` run tunes them: a slow adapter is tuned over several runs, none of which waits long for it.
// Where the choices are kept is the host's: a file under the cache folder in Node
// (src/node/tune-store.ts), browser storage in the page. No Node imports.
import type { AdapterDescription } from '../gpu/device.ts';
import { CONV_TUNE_VERSION, isValidPlan, tuneConvPasses, type TuneProgress } from '../kernels/conv-tune.ts';
import { passKey, planText, useTunedPlans, type ConvPassShape, type ConvPlan } from '../kernels/conv.ts';
import { convLayerShapes, convPassShapes } from '../model/conv-layers.ts';
import type { GanTraining } from './gan.ts';
import { formatDuration } from '../util/duration.ts';

export const TUNE_MODES = ['auto', 'off', 'force'] as const;
export type TuneMode = (typeof TUNE_MODES)[number];

/** A tune mode by name (a flag's value); throws naming `what` for any other. */
export function parseTuneMode(value: unknown, what = '--tune'): TuneMode {
  if (TUNE_MODES.includes(value as TuneMode)) return value as TuneMode;
  throw new Error(`${what} must be one of ${TUNE_MODES.join(', ')}, not '${String(value)}'`);
}

/** Where one adapter's choices are kept: the text of a TuningFile, or null when there is none yet. */
export interface TuningStore {
  /** for messages: a path, or the page's storage key */
  where: string;
  read(): Promise<string | null>;
  write(text: string): Promise<void>;
}

const FORMAT = 'webgpu-dcgan-conv-tuning';

interface KeptPass {
  plan: ConvPlan;
  ms: number;
  heuristic: string;
  heuristicMs: number;
}

/** The kept choices of one adapter and engine, by passKey. */
interface TuningFile {
  format: typeof FORMAT;
  adapter: string;
  engine: string;
  passes: Record<string, KeptPass>;
}

/** The adapter as the choices are kept under it. */
export function adapterKey(a: AdapterDescription): string {
  return [a.vendor, a.architecture, a.device, a.description].map((s) => s || '-').join(' / ');
}

/** The conv passes one training step runs, in conv geometry (each distinct one once). */
export function trainingConvPasses(training: GanTraining): ConvPassShape[] {
  const { config } = training;
  const passes = convLayerShapes(config.model, config.batchSize).flatMap(convPassShapes);
  return [...new Map(passes.map((p) => [passKey(p), p])).values()];
}

/** Seconds the trainer's tuning may take when --tune-budget is not given (0 there: no limit). */
export const DEFAULT_TUNE_BUDGET_S = 60;

/** "at most 60 s" / "no time limit", for the line that announces the tuning. */
export const tuneBudgetText = (budgetSeconds: number): string =>
  Number.isFinite(budgetSeconds) && budgetSeconds > 0 ? `at most ${budgetSeconds} s (--tune-budget)` : 'no time limit (--tune-budget 0)';

/** One progress line of the tuning, for the terminal and the page: "conv plans 3/24  12%  0:14  ETA 0:41  <pass>: <plan>". */
export function tuneProgressText(p: TuneProgress): string {
  return `conv plans ${p.done}/${p.total}  ${Math.floor((100 * p.done) / p.total)}%  ${formatDuration(p.seconds)}  ETA ${formatDuration(p.etaSeconds)}  ${p.line.trim()}`;
}

export interface TuneOutcome {
  mode: TuneMode;
  /** passes timed now, passes whose kept choice was used, and passes left for a later run (the budget) */
  tuned: number;
  kept: number;
  skipped: number;
  seconds: number;
  /** passes whose plan differs from the heuristic's */
  changed: number;
  /** Σ median ms of the chosen plans and of the heuristic's, over the passes timed now (0 when none were) */
  chosenMs: number;
  heuristicMs: number;
  /** a line for the terminal or the page */
  summary: string;
}

/** The kept file, or null with a note when it is absent, unreadable, or for another adapter or engine. */
async function readKept(store: TuningStore, adapter: string, log: (line: string) => void): Promise<TuningFile | null> {
  const text = await store.read();
  if (text === null) return null;
  let file: TuningFile;
  try {
    file = JSON.parse(text) as TuningFile;
  } catch (e) {
    log(`note: ${store.where} is not valid JSON (${(e as Error).message}); tuning again`);
    return null;
  }
  if (file?.format !== FORMAT || typeof file.passes !== 'object' || file.passes === null) {
    log(`note: ${store.where} is not a conv tuning file; tuning again`);
    return null;
  }
  if (file.adapter !== adapter || file.engine !== CONV_TUNE_VERSION) return null;  // another adapter or engine: silently redone
  return file;
}

/**
 * Set the conv plans for `passes` by `mode` (see the header), reading and updating `store`. `log` hears
 * a line per pass tuned, and notes.
 */
export async function tuneConvPlans(passes: ConvPassShape[], options: { mode: TuneMode; adapter: AdapterDescription; store: TuningStore | null;
  log?: (line: string) => void; onProgress?: (progress: TuneProgress) => void; budgetSeconds?: number }): Promise<TuneOutcome> {
  const { mode, store } = options;
  passes = [...new Map(passes.map((p) => [passKey(p), p])).values()];  // each distinct pass once
  const log = options.log ?? (() => undefined);
  const started = performance.now();
  const outcome = (tuned: number, kept: number, skipped: number, changed: number, chosenMs: number, heuristicMs: number, summary: string): TuneOutcome =>
    ({ mode, tuned, kept, skipped, seconds: (performance.now() - started) / 1000, changed, chosenMs, heuristicMs, summary });
  if (mode === 'off') {
    useTunedPlans([]);
    return outcome(0, 0, 0, 0, 0, 0, 'conv plans: heuristic (--tune off)');
  }
  const adapter = adapterKey(options.adapter);
  const file: TuningFile = (store && (await readKept(store, adapter, log))) || { format: FORMAT, adapter, engine: CONV_TUNE_VERSION, passes: {} };
  const chosen: [ConvPassShape, ConvPlan][] = [];
  const toTune: ConvPassShape[] = [];
  for (const p of passes) {
    const kept = file.passes[passKey(p)];
    if (mode === 'auto' && kept && isValidPlan(p, kept.plan)) chosen.push([p, kept.plan]);
    else toTune.push(p);
  }
  const kept = chosen.length;
  const budgetSeconds = options.budgetSeconds && options.budgetSeconds > 0 ? options.budgetSeconds : Infinity;
  const { tuned, skipped } = await tuneConvPasses(toTune, { log, onProgress: options.onProgress, budgetSeconds });
  for (const t of tuned) {
    chosen.push([t.shape, t.plan]);
    file.passes[t.key] = { plan: t.plan, ms: t.ms, heuristic: planText(t.heuristic), heuristicMs: t.heuristicMs };
  }
  // a pass left out by the budget runs its kept choice where there is one (--tune force), else the heuristic
  for (const p of skipped) {
    const before = file.passes[passKey(p)];
    if (before && isValidPlan(p, before.plan)) chosen.push([p, before.plan]);
  }
  useTunedPlans(chosen);
  if (store && tuned.length) await store.write(`${JSON.stringify(file, null, 1)}\n`);
  const changed = chosen.filter(([p, plan]) => planText(plan) !== (file.passes[passKey(p)]?.heuristic ?? planText(plan))).length;
  const chosenMs = tuned.reduce((s, t) => s + t.ms, 0);
  const heuristicMs = tuned.reduce((s, t) => s + t.heuristicMs, 0);
  const seconds = (performance.now() - started) / 1000;
  const timing = tuned.length ? `; the tuned passes ${chosenMs.toFixed(2)} ms against the heuristic's ${heuristicMs.toFixed(2)} ms` : '';
  const where = store ? ` (kept in ${store.where})` : '';
  const left = skipped.length
    ? `; ${skipped.length} left for a later run (they did not fit the ${budgetSeconds} s budget: --tune-budget SECONDS, 0 for none)` : '';
  const summary = `conv plans: ${tuned.length} passes tuned in ${seconds.toFixed(1)} s, ${kept} kept from before${where}${left}; ` +
    `${changed} of ${passes.length} differ from the heuristic${timing}`;
  return outcome(tuned.length, kept, skipped.length, changed, chosenMs, heuristicMs, summary);
}
