// The run folder as the training loop's storage, shared by both trainers: RUN/log.jsonl (appended),
// RUN/samples/NAME.png and RUN/checkpoint.safetensors (both written atomically), and the terminal
// progress bar. `npm run train` calls these from the loop directly; `npm run train:chrome` calls them
// from its HTTP handlers with what the page sends, so the two leave the same files behind.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FileError, fsErrorLine } from '../disk.ts';
import { writeFileAtomic, writePng } from '../files.ts';
import { ProgressBar } from '../progress.ts';
import type { RgbaImage } from '../../train/images.ts';
import { formatStats, type Evaluation, type IterationReport, type LoopOutcome } from '../../train/loop.ts';
import { BEST_FILE, CHECKPOINT_FILE } from './paths.ts';

export class RunFiles {
  readonly checkpointFile: string;
  readonly logFile: string;
  constructor(readonly runDir: string) {
    this.checkpointFile = path.join(runDir, CHECKPOINT_FILE);
    this.logFile = path.join(runDir, 'log.jsonl');
  }

  /** One line appended (a line torn by a crash or a full disk is dropped at the next --resume: run-setup.ts cutLog). */
  log(entry: Record<string, unknown>): void {
    const line = JSON.stringify(entry) + '\n';
    try {
      appendFileSync(this.logFile, line);
    } catch (e) {
      throw new FileError(fsErrorLine(e, this.logFile, 'append to', { bytesNeeded: Buffer.byteLength(line) }), { cause: e });
    }
  }

  /** RUN/samples/NAME.png; NAME is checked, since the page sends it over HTTP. */
  saveSamples(name: string, grid: RgbaImage): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new Error(`bad sample name '${name}'`);
    if (grid.data.length !== grid.width * grid.height * 4) throw new Error(`sample grid ${name}: ${grid.data.length} bytes for ${grid.width}x${grid.height} RGBA`);
    const file = path.join(this.runDir, 'samples', `${name}.png`);
    writePng(file, grid);
    return file;
  }

  /**
   * The latest checkpoint; with `keepAs` ('epoch-005') also RUN/checkpoint-epoch-005.safetensors, with `best`
   * also RUN/best.safetensors (each written whole or not at all: a full disk leaves the previous one).
   */
  saveCheckpoint(bytes: Uint8Array, keepAs?: string, best = false): string {
    if (keepAs !== undefined) {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(keepAs)) throw new Error(`bad checkpoint name '${keepAs}'`);
      writeFileAtomic(path.join(this.runDir, `checkpoint-${keepAs}.safetensors`), bytes);
    }
    if (best) writeFileAtomic(path.join(this.runDir, BEST_FILE), bytes);
    writeFileAtomic(this.checkpointFile, bytes);
    return this.checkpointFile;
  }

  /** RUN/kernel-trace.txt: --trace-kernels' trace of a step (the last start's). Returns where it went. */
  saveKernelTrace(text: string): string {
    const file = path.join(this.runDir, 'kernel-trace.txt');
    writeFileAtomic(file, `${text}\n`);
    return file;
  }

  keptCheckpoint(): string | null {
    return existsSync(this.checkpointFile) ? this.checkpointFile : null;
  }

  /** The lowest SWD of the log's 'eval' lines (a resumed run's best so far), Infinity when there is none. */
  bestSwd(): number {
    if (!existsSync(this.logFile)) return Infinity;
    let best = Infinity;
    for (const line of readFileSync(this.logFile, 'utf8').split('\n')) {
      if (!line.includes('"eval"')) continue;
      try {
        const entry = JSON.parse(line) as { event?: string; swd?: unknown };
        if (entry.event === 'eval' && typeof entry.swd === 'number') best = Math.min(best, entry.swd);
      } catch {
        // a torn line: cutLog drops it at the next resume
      }
    }
    return best;
  }
}

/** 'SWD x1e3 85.2 (32 px 40.1, 16 px 130.3; 1000 generated vs 1000 held-out photos, 12.3 s)' */
export const formatEvaluation = (e: Evaluation): string =>
  `SWD x1e3 ${e.average.toFixed(1)} (${e.levels.map((l) => `${l.resolution} px ${l.swd.toFixed(1)}`).join(', ')}; ` +
  `${e.images} generated vs ${e.images} held-out photos, ${e.seconds.toFixed(1)} s)`;

/** The per-epoch progress bar on stderr, driven by the loop's events (or the page's, relayed). */
export class TerminalProgress {
  private bar: ProgressBar | null = null;
  constructor(private readonly epochs: number) {}

  epochStart(epoch: number, startIndex: number, batchesPerEpoch: number): void {
    this.bar = new ProgressBar({ total: batchesPerEpoch, label: `epoch ${epoch + 1}/${this.epochs}`, unit: 'it', start: startIndex });
  }

  iteration(r: IterationReport): void {
    this.bar?.update(r.batch, `${formatStats(r.stats)} ${r.imagesPerSecond.toFixed(1)} img/s`);
  }

  epochEnd(): void {
    this.bar?.finish();
    this.bar = null;
  }

  /** The epoch's SWD, on its own line under the finished bar. */
  evaluation(epoch: number, e: Evaluation, best: boolean): void {
    console.error(`epoch ${epoch + 1}/${this.epochs}: ${formatEvaluation(e)}${best ? `, the best yet: kept as ${BEST_FILE}` : ''}`);
  }
}

/**
 * The last line of a run, and its exit code: 0 when done or at --max-iters; after a stop, 128 + the
 * signal's number (`stopCode`: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).
 */
export function reportOutcome(outcome: LoopOutcome, files: RunFiles, epochs: number, maxIters: number, stopCode = 130): number {
  // host memory of this Node process (with train:chrome the page's memory is Chromium's, not counted)
  const peak = `peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`;
  const kept = files.keptCheckpoint();
  const untrusted = `not saved, since recent iterations looked diverged; ${kept ? `the older checkpoint is kept in ${kept}` : 'no checkpoint was written'}`;
  const code = outcome.reason === 'stopped' ? stopCode : 0;
  if (outcome.reason === 'done') {
    const end = outcome.unsaved === 'untrusted' ? `the last epoch's state was ${untrusted}` : `run folder ${files.runDir}`;
    console.error(`done: ${epochs} epochs, ${outcome.iteration} iterations; ${end}; ${peak}`);
    return code;
  }
  const why = outcome.reason === 'stopped' ? 'stopped' : `reached --max-iters ${maxIters}`;
  if (outcome.unsaved === 'not-started') {
    console.error(`${why} before the first iteration: nothing new to save${kept ? `; the checkpoint ${kept} is as it was` : ''}`);
  } else if (outcome.unsaved === 'untrusted') {
    console.error(`${why} at iteration ${outcome.iteration}: the state was ${untrusted}; ${peak}`);
  } else {
    const samples = outcome.samples ? `, samples ${outcome.samples}` : '';
    console.error(`${why} at iteration ${outcome.iteration}; checkpoint ${files.checkpointFile} (iteration ${outcome.checkpointIteration})${samples}; ${peak}`);
  }
  return code;
}
