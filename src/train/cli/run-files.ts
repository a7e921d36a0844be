// The run folder as the training loop's storage, shared by both trainers: RUN/log.jsonl (appended),
// RUN/samples/NAME.png and RUN/checkpoint.safetensors (both written atomically), and the terminal
// progress bar. `npm run train` calls these from the loop directly; `npm run train:chrome` calls them
// from its HTTP handlers with what the page sends, so the two leave the same files behind.
import { appendFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, writePng } from '../../node/files.ts';
import { ProgressBar } from '../data/index.ts';
import type { RgbaImage } from '../images.ts';
import { formatStats, type IterationReport, type LoopOutcome } from '../loop.ts';
import { CHECKPOINT_FILE } from './paths.ts';

export class RunFiles {
  readonly checkpointFile: string;
  readonly logFile: string;
  constructor(readonly runDir: string) {
    this.checkpointFile = path.join(runDir, CHECKPOINT_FILE);
    this.logFile = path.join(runDir, 'log.jsonl');
  }

  log(entry: Record<string, unknown>): void {
    appendFileSync(this.logFile, JSON.stringify(entry) + '\n');
  }

  /** RUN/samples/NAME.png; NAME is checked, since the page sends it over HTTP. */
  saveSamples(name: string, grid: RgbaImage): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new Error(`bad sample name '${name}'`);
    if (grid.data.length !== grid.width * grid.height * 4) throw new Error(`sample grid ${name}: ${grid.data.length} bytes for ${grid.width}x${grid.height} RGBA`);
    const file = path.join(this.runDir, 'samples', `${name}.png`);
    writePng(file, grid);
    return file;
  }

  saveCheckpoint(bytes: Uint8Array): void {
    writeFileAtomic(this.checkpointFile, bytes);
  }

  keptCheckpoint(): string | null {
    return existsSync(this.checkpointFile) ? this.checkpointFile : null;
  }
}

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
}

/** The last line of a run, and its exit code (130 after Ctrl-C, as a shell expects). */
export function reportOutcome(outcome: LoopOutcome, files: RunFiles, epochs: number, maxIters: number): number {
  // host memory of this Node process (with train:chrome the page's memory is Chromium's, not counted)
  const peak = `peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`;
  if (outcome.reason === 'done') {
    console.error(`done: ${epochs} epochs, ${outcome.iteration} iterations; run folder ${files.runDir}; ${peak}`);
    return 0;
  }
  const why = outcome.reason === 'stopped' ? 'stopped' : `reached --max-iters ${maxIters}`;
  console.error(`${why} at iteration ${outcome.iteration}; checkpoint ${files.checkpointFile}${outcome.samples ? `, samples ${outcome.samples}` : ''}; ${peak}`);
  return outcome.reason === 'stopped' ? 130 : 0;
}
