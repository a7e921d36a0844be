// What both trainers (`npm run train`, `npm run train:chrome`) do before the first iteration: read the
// flags, create or reopen the run folder (RUN/run.json, RUN/checkpoint.safetensors), build or reuse the
// uint8 image cache and its seeded BatchLoader. The folder layout and the resume rules live here once,
// so a run started by one trainer continues in the other.
import { existsSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../node/files.ts';
import { prepareDataset, BatchLoader, type CacheReport, type ImageCache } from '../data/index.ts';
import type { TrainingConfig } from '../gan.ts';
import { decodeCheckpoint, type Checkpoint } from '../checkpoint.ts';
import { DEFAULT_CONFIG, stridedLayers } from '../../model/dcgan.ts';
import { numberFlag, parseFlags, type Options } from './args.ts';
import { CHECKPOINT_FILE } from './paths.ts';

export const TRAIN_FLAGS = {
  data: { type: 'string' }, match: { type: 'string' }, out: { type: 'string' }, resume: { type: 'string' },
  epochs: { type: 'string' }, 'batch-size': { type: 'string' }, 'image-size': { type: 'string' },
  ngf: { type: 'string' }, ndf: { type: 'string' }, nz: { type: 'string' }, lr: { type: 'string' },
  beta1: { type: 'string' }, seed: { type: 'string' }, 'max-iters': { type: 'string' },
  'sample-every': { type: 'string' }, patience: { type: 'string' }, 'cache-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const TRAIN_FLAGS_USAGE = `--data DIR [--match 'dog.*'] [--out RUN] [--epochs 25] [--batch-size 64]
       [--image-size 64] [--ngf 64] [--ndf 64] [--nz 100] [--lr 0.0002] [--beta1 0.5] [--seed 1]
       [--max-iters N] [--sample-every 100] [--patience 50] [--cache-dir DIR]`;

/** What a run needs besides the training config; saved in RUN/run.json so --resume needs no other flags. */
export interface RunSettings {
  dataDir: string;
  match?: string;
  epochs: number;
  sampleEvery: number;
  patience: number;
  cacheDir?: string;
}

export interface PreparedRun {
  runDir: string;
  config: TrainingConfig;
  settings: RunSettings;
  maxIters: number;
  /** the checkpoint to continue from (--resume), null for a fresh run */
  checkpoint: Checkpoint | null;
  cache: ImageCache;
  report: CacheReport;
  loader: BatchLoader;
  logFile: string;
}

export type Flags = Record<string, string | boolean | undefined>;

/** Parse the trainer flags (plus `extra`); null when --help was given and the usage printed. */
export function parseTrainFlags(argv: string[], usage: string, extra: Options = {}): Flags | null {
  const flags = parseFlags(argv, { ...TRAIN_FLAGS, ...extra }, usage);
  if (flags.help) {
    console.log(usage);
    return null;
  }
  return flags;
}

/** The run folder and its data, ready to train; writes RUN/run.json and (for a fresh run) clears RUN/log.jsonl. */
export async function prepareRun(flags: Flags, usage: string): Promise<PreparedRun> {
  const n = (name: string, fallback: number, o?: Parameters<typeof numberFlag>[3]) => numberFlag(flags, name, fallback, o);

  let runDir: string;
  let config: TrainingConfig;
  let settings: RunSettings;
  let checkpoint: Checkpoint | null = null;
  if (flags.resume) {
    runDir = path.resolve(String(flags.resume));
    const file = path.join(runDir, CHECKPOINT_FILE);
    if (!existsSync(file)) throw new Error(`nothing to resume: ${file} does not exist (give the run folder that --out named)`);
    checkpoint = decodeCheckpoint(readFileSync(file), file);
    config = checkpoint.config;
    const saved = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunSettings;
    settings = { ...saved, epochs: n('epochs', saved.epochs, { min: 1 }), dataDir: flags.data ? String(flags.data) : saved.dataDir };
  } else {
    if (!flags.data) throw new Error(`--data DIR is required: the folder of photos to train on\n${usage}`);
    const imageSize = n('image-size', DEFAULT_CONFIG.imageSize, { min: 8 });
    stridedLayers(imageSize); // refuses sizes that are not a power of two
    config = {
      model: { imageSize, nz: n('nz', DEFAULT_CONFIG.nz, { min: 1 }), ngf: n('ngf', DEFAULT_CONFIG.ngf, { min: 1 }), ndf: n('ndf', DEFAULT_CONFIG.ndf, { min: 1 }), nc: 3 },
      batchSize: n('batch-size', 64, { min: 2 }),
      lr: n('lr', 2e-4, { integer: false, min: 0 }),
      beta1: n('beta1', 0.5, { integer: false, min: 0, max: 0.999999 }),
      seed: n('seed', 1, { min: 0, max: 2 ** 32 - 1 }),
    };
    settings = {
      dataDir: String(flags.data),
      match: flags.match as string | undefined,
      epochs: n('epochs', 25, { min: 1 }),
      sampleEvery: n('sample-every', 100, { min: 1 }),
      patience: n('patience', 50, { min: 1 }),
      cacheDir: flags['cache-dir'] as string | undefined,
    };
    runDir = path.resolve(String(flags.out ?? path.join('runs', new Date().toISOString().replace(/[:.]/g, '-'))));
    if (existsSync(path.join(runDir, CHECKPOINT_FILE))) {
      throw new Error(`${runDir} already holds a run: continue it with --resume ${flags.out ?? runDir}, or choose another --out`);
    }
  }
  const maxIters = n('max-iters', Infinity, { min: 1 });
  mkdirSync(path.join(runDir, 'samples'), { recursive: true });
  writeFileAtomic(path.join(runDir, 'run.json'), JSON.stringify({ ...settings, config }, null, 2));

  const { cache, report } = await prepareDataset({
    dataDir: settings.dataDir, match: settings.match, imageSize: config.model.imageSize, cacheDir: settings.cacheDir,
  });
  const loader = new BatchLoader(cache, { batchSize: config.batchSize, seed: config.seed });
  const logFile = path.join(runDir, 'log.jsonl');
  if (!checkpoint) rmSync(logFile, { force: true });
  return { runDir, config, settings, maxIters, checkpoint, cache, report, loader, logFile };
}
