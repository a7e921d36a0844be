// What both trainers (`npm run train`, `npm run train:chrome`) do before the first iteration, in an order
// that does no work and writes nothing until the run is known to be possible:
//   planRun:    read and check every flag; for --resume read RUN/checkpoint.safetensors and RUN/run.json,
//               refuse flags that would change the model or the data, apply those that may change; for
//               --init-from read and check the weights, whose shapes decide the model's sizes
//   checkFits:  the batch's largest buffer against the adapter's limits
//   prepareRun: count the photos (before decoding any), take RUN/lock, remove temps a crash left, build
//               or reuse the uint8 image cache (or open the prebuilt one of --data-cache), then write
//               RUN/run.json and cut RUN/log.jsonl back to the checkpoint's iteration (one log line per
//               iteration, after any number of resumes)
// A start that fails leaves --out as it was: a folder created for it is removed, the lock released.
// The folder layout and the resume rules live here once, so a run started by one trainer continues in the other.
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { ensureDir } from '../disk.ts';
import { removeStaleTemps, writeFileAtomic } from '../files.ts';
import { RunLock } from '../run-lock.ts';
import { openPrebuiltCache, prepareDataset } from '../data/index.ts';
import { listImages } from '../data/scan.ts';
import type { CacheReport, ImageCache } from '../data/cache.ts';
import { BatchLoader } from '../../train/data/loader.ts';
import { decodeCheckpoint, resumeProblem, type Checkpoint } from '../../train/checkpoint.ts';
import { readWeightsFile, type WeightsFile } from '../../train/weights-file.ts';
import { DEFAULT_CONFIG, largestActivationPerImage, parseGeneratorUpsample, stridedLayers } from '../../model/dcgan.ts';
import { BATCHNORM_MODES, DEFAULT_G_UPSAMPLE, DEFAULT_SAMPLING, EMA_RAMPUP, parseChoice, type BatchNormMode, type TrainingConfig } from '../../train/gan.ts';
import { parseKernelSet, type KernelSet } from '../../kernels/kernel-set.ts';
import { DEFAULT_TUNE_BUDGET_S, parseTuneMode, type TuneMode } from '../../train/tune.ts';
import { commandLine, numberFlag, parseFlags, type Options } from './args.ts';
import { CHECKPOINT_FILE } from './paths.ts';

const TRAIN_FLAGS = {
  data: { type: 'string' }, 'data-cache': { type: 'string' }, match: { type: 'string' }, out: { type: 'string' }, resume: { type: 'string' },
  'init-from': { type: 'string' },
  epochs: { type: 'string' }, 'batch-size': { type: 'string' }, 'image-size': { type: 'string' },
  ngf: { type: 'string' }, ndf: { type: 'string' }, nz: { type: 'string' }, lr: { type: 'string' },
  beta1: { type: 'string' }, seed: { type: 'string' }, 'max-iters': { type: 'string' },
  'sample-every': { type: 'string' }, patience: { type: 'string' }, 'cache-dir': { type: 'string' },
  'checkpoint-every': { type: 'string' }, 'keep-epochs': { type: 'boolean' }, 'kernel-set': { type: 'string' }, tune: { type: 'string' },
  'tune-budget': { type: 'string' }, holdout: { type: 'string' },
  'g-upsample': { type: 'string' }, ema: { type: 'string' }, bn: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const TRAIN_FLAGS_USAGE = `--data DIR|--data-cache FILE [--match 'dog.*'] [--out RUN] [--epochs 25] [--batch-size 64]
       [--image-size 64] [--ngf 64] [--ndf 64] [--nz 100] [--lr 0.0002] [--beta1 0.5] [--seed 1]
       [--max-iters N] [--sample-every 100] [--patience 50] [--checkpoint-every 10] [--keep-epochs]
       [--cache-dir DIR] [--kernel-set fast|simple] [--tune auto|off|force] [--tune-budget 60] [--holdout N]
       [--g-upsample nearest|transposed] [--ema DECAY] [--bn train|eval]
       --g-upsample nearest (the default: Upsample + 3x3 conv, draws better at every epoch measured);
       transposed: PyTorch's DCGAN example exactly, its Generator's key layout`;

export const RESUME_USAGE = `--resume RUN [--epochs N] [--max-iters N] [--lr X] [--beta1 X] [--sample-every N]
       [--patience N] [--checkpoint-every MINUTES] [--keep-epochs] [--data DIR|--data-cache FILE]
       [--cache-dir DIR] [--kernel-set fast|simple] [--tune auto|off|force] [--tune-budget 60] [--bn train|eval]`;

/** --ema when not given: 0, no moving average (see the README for what was measured) */
const DEFAULT_EMA = 0;

/** Flags that define the model or the data a checkpoint was trained on: a resumed run cannot change them. */
const FIXED_ON_RESUME = ['image-size', 'ngf', 'ndf', 'nz', 'batch-size', 'seed', 'match', 'out', 'holdout', 'g-upsample', 'ema'] as const;

/** --holdout's default: 1,000 photos, or a tenth of them when there are fewer than 10,000 */
export const defaultHoldout = (photos: number): number => Math.min(1000, Math.floor(photos / 10));

/** What a run needs besides the training config; saved in RUN/run.json so --resume needs no other flags. */
interface RunSettings {
  /** the photos (decoded into the cache of --cache-dir); exactly one of dataDir and dataCache is set */
  dataDir?: string;
  /** a prebuilt uint8 image cache (src/node/data/cache.ts), read as it is: no photos, no sharp */
  dataCache?: string;
  match?: string;
  epochs: number;
  sampleEvery: number;
  patience: number;
  /** minutes between checkpoints besides the epoch ends (0: after every iteration) */
  checkpointEvery: number;
  /** keep RUN/checkpoint-epoch-NNN.safetensors of every epoch, not only the latest */
  keepEpochs: boolean;
  cacheDir?: string;
  /** the kernel versions (src/kernels/kernel-set.ts): they change speed, not results beyond float rounding */
  kernelSet: KernelSet;
  /**
   * photos never trained on, for the SWD at each epoch's end (src/train/swd.ts); chosen by heldOutSplit
   * (src/train/data/loader.ts). Undefined until prepareRun counts the photos (--holdout, else defaultHoldout);
   * a run.json without it is a run from before holdouts: 0.
   */
  holdout?: number;
  /** batchnorm statistics of the sample grids (src/train/gan.ts SamplingOptions); a resume may change it */
  bn: BatchNormMode;
}

const DEFAULT_SETTINGS = {
  epochs: 25, sampleEvery: 100, patience: 50, checkpointEvery: 10, keepEpochs: false, kernelSet: 'fast' as KernelSet, bn: DEFAULT_SAMPLING.bn,
};

/** A run whose flags are checked and whose resume state is read; nothing is written yet. */
interface RunPlan {
  runDir: string;
  config: TrainingConfig;
  settings: RunSettings;
  maxIters: number;
  /** the conv plans (src/train/tune.ts): a choice of this invocation, not kept in run.json (default auto) */
  tune: TuneMode;
  /** seconds the tuning may take before the first step (--tune-budget; Infinity: no limit), also not kept */
  tuneBudget: number;
  /** the checkpoint to continue from (--resume), null for a fresh run */
  checkpoint: Checkpoint | null;
  /** the weights a fresh run starts from (--init-from): G, and D where the file has it */
  init: WeightsFile | null;
  /** what --resume changed, as 'flag old → new' */
  changed: string[];
  /**
   * the command that retries this run with another learning rate (for the divergence guard's advice):
   * --resume when a checkpoint is kept, else the same fresh start
   */
  retryCommand: (lr: number | string, resumable: boolean) => string;
}

export interface PreparedRun extends RunPlan {
  cache: ImageCache;
  report: CacheReport;
  loader: BatchLoader;
  logFile: string;
  lock: RunLock;
}

type Flags = Record<string, string | boolean | undefined>;

/** Parse the trainer flags (plus `extra`); null when --help was given and the usage printed. */
export function parseTrainFlags(argv: string[], usage: string, extra: Options = {}): Flags | null {
  const flags = parseFlags(argv, { ...TRAIN_FLAGS, ...extra }, usage);
  if (flags.help) {
    console.log(usage);
    return null;
  }
  return flags;
}

/** Read a JSON file of the run folder, naming the file when it is not JSON. */
function readRunJson(file: string): Partial<RunSettings> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {}; // a folder whose run.json is gone: the checkpoint has the config, the flags the rest
  }
  try {
    return JSON.parse(text) as Partial<RunSettings>;
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}): fix or delete it (--resume then needs --data DIR)`);
  }
}

/** Check every flag and, for --resume, read what the run folder holds. Writes nothing. */
export function planRun(flags: Flags, usage: string, script: 'train' | 'train:chrome' = 'train'): RunPlan {
  const n = (name: string, fallback: number, o?: Parameters<typeof numberFlag>[3]) => numberFlag(flags, name, fallback, o);
  const maxIters = n('max-iters', Infinity, { min: 1 });
  const tune = parseTuneMode(flags.tune ?? 'auto');
  const tuneBudget = numberFlag(flags, 'tune-budget', DEFAULT_TUNE_BUDGET_S, { integer: false, min: 0 }) || Infinity;
  const lrOf = (fallback: number) => n('lr', fallback, { integer: false, min: 0 });
  const beta1Of = (fallback: number) => n('beta1', fallback, { integer: false, min: 0, max: 0.999999 });
  const later = (saved: Partial<RunSettings>) => ({
    epochs: n('epochs', saved.epochs ?? DEFAULT_SETTINGS.epochs, { min: 1 }),
    sampleEvery: n('sample-every', saved.sampleEvery ?? DEFAULT_SETTINGS.sampleEvery, { min: 1 }),
    patience: n('patience', saved.patience ?? DEFAULT_SETTINGS.patience, { min: 1 }),
    checkpointEvery: n('checkpoint-every', saved.checkpointEvery ?? DEFAULT_SETTINGS.checkpointEvery, { integer: false, min: 0 }),
    keepEpochs: flags['keep-epochs'] === true || (saved.keepEpochs ?? DEFAULT_SETTINGS.keepEpochs),
    kernelSet: parseKernelSet(flags['kernel-set'] ?? saved.kernelSet ?? DEFAULT_SETTINGS.kernelSet),
    bn: parseChoice('bn', String(flags.bn ?? saved.bn ?? DEFAULT_SETTINGS.bn), BATCHNORM_MODES),
  });

  if (flags.resume && flags['init-from']) {
    throw new Error('give --resume RUN (continue a run, optimizer state and all) or --init-from FILE (a new run from its weights), not both');
  }
  if (flags.resume) {
    const runDir = path.resolve(String(flags.resume));
    const file = path.join(runDir, CHECKPOINT_FILE);
    if (!existsSync(file)) throw new Error(`nothing to resume: ${file} does not exist (give the run folder that --out named)`);
    const checkpoint = decodeCheckpoint(readFileSync(file), file);
    const problem = resumeProblem(checkpoint);
    if (problem) throw new Error(problem);
    const saved = readRunJson(path.join(runDir, 'run.json'));
    const old = checkpoint.config;
    const current: Record<(typeof FIXED_ON_RESUME)[number], string | number | undefined> = {
      'image-size': old.model.imageSize, ngf: old.model.ngf, ndf: old.model.ndf, nz: old.model.nz,
      'batch-size': old.batchSize, seed: old.seed, match: saved.match, out: runDir, holdout: saved.holdout ?? 0,
      'g-upsample': old.model.gUpsample ?? 'transposed', ema: old.ema ?? 0,
    };
    for (const name of FIXED_ON_RESUME) {
      const given = flags[name];
      if (given === undefined) continue;
      const same = name === 'out' ? path.resolve(String(given)) === runDir
        : name === 'match' || name === 'g-upsample' ? given === current[name] : Number(given) === current[name];
      if (!same) {
        throw new Error(
          `--${name} cannot change on a resumed run (${runDir} was trained with --${name} ${current[name] ?? '(none)'}): ` +
            `drop --${name}, or start a new run with --out`,
        );
      }
    }
    const data = flags.data || flags['data-cache'] ? dataFlags(flags) : { dataDir: saved.dataDir, dataCache: saved.dataCache };
    if (!data.dataDir && !data.dataCache) throw new Error(`${path.join(runDir, 'run.json')} does not say where the photos are: give --data DIR`);
    const config: TrainingConfig = { ...old, lr: lrOf(old.lr), beta1: beta1Of(old.beta1) };
    const settings: RunSettings = {
      ...data, match: saved.match, cacheDir: (flags['cache-dir'] as string | undefined) ?? saved.cacheDir, ...later(saved), holdout: saved.holdout ?? 0,
    };
    const changed: string[] = [];
    const note = (flag: string, before: unknown, after: unknown) => before !== after && changed.push(`--${flag} ${before} → ${after}`);
    note('lr', old.lr, config.lr);
    note('beta1', old.beta1, config.beta1);
    for (const [flag, key] of [['epochs', 'epochs'], ['sample-every', 'sampleEvery'], ['patience', 'patience'], ['checkpoint-every', 'checkpointEvery'], ['keep-epochs', 'keepEpochs'], ['kernel-set', 'kernelSet'], ['bn', 'bn'], ['data', 'dataDir'], ['data-cache', 'dataCache']] as const) {
      if (saved[key] !== undefined) note(flag, saved[key], settings[key]);
    }
    return { runDir, config, settings, maxIters, tune, tuneBudget, checkpoint, init: null, changed, retryCommand: (lr) => `${commandLine(script)} --resume ${flags.resume} --lr ${lr}` };
  }

  if (!flags.data && !flags['data-cache']) throw new Error(`--data DIR is required: the folder of photos to train on (or --data-cache FILE, a prebuilt image cache)\n${usage}`);
  const init = flags['init-from'] ? readInitWeights(String(flags['init-from'])) : null;
  const imageSize = n('image-size', DEFAULT_CONFIG.imageSize, { min: 8 });
  stridedLayers(imageSize); // refuses sizes that are not a power of two
  const sizes = { imageSize, nz: n('nz', DEFAULT_CONFIG.nz, { min: 1 }), ngf: n('ngf', DEFAULT_CONFIG.ngf, { min: 1 }), ndf: n('ndf', DEFAULT_CONFIG.ndf, { min: 1 }), nc: 3 };
  const config: TrainingConfig = {
    // the nearest or transposed G: the file's layout with --init-from, else the flag
    model: init
      ? { ...initModelConfig(init, flags, sizes.ndf), gUpsample: init.models.G!.sizes.gUpsample ?? 'transposed' }
      : { ...sizes, gUpsample: parseGeneratorUpsample(String(flags['g-upsample'] ?? DEFAULT_G_UPSAMPLE)) },
    batchSize: n('batch-size', 64, { min: 2 }),
    lr: lrOf(2e-4),
    beta1: beta1Of(0.5),
    seed: n('seed', 1, { min: 0, max: 2 ** 32 - 1 }),
  };
  const ema = numberFlag(flags, 'ema', DEFAULT_EMA, { integer: false, min: 0, max: 0.999999 });
  if (ema > 0) Object.assign(config, { ema, emaRampup: EMA_RAMPUP });
  const settings: RunSettings = {
    ...dataFlags(flags), match: flags.match as string | undefined, cacheDir: flags['cache-dir'] as string | undefined, ...later({}),
    holdout: flags.holdout === undefined ? undefined : n('holdout', 0, { min: 0 }),
  };
  const out = String(flags.out ?? path.join('runs', new Date().toISOString().replace(/[:.]/g, '-')));
  const runDir = path.resolve(out);
  if (existsSync(path.join(runDir, CHECKPOINT_FILE))) {
    throw new Error(`${runDir} already holds a run: continue it with --resume ${out}, or choose another --out`);
  }
  // --resume once a checkpoint is kept; before that the same command with the learning rate replaced
  const retryCommand = (lr: number | string, resumable: boolean) => {
    if (resumable) return `${commandLine(script)} --resume ${out} --lr ${lr}`;
    const args = Object.entries(flags).filter(([k, v]) => k !== 'lr' && v !== undefined && v !== false)
      .map(([k, v]) => (v === true ? `--${k}` : `--${k} ${/^[\w./:@=+-]+$/.test(String(v)) ? v : `'${String(v)}'`}`));
    if (!flags.out) args.push(`--out ${out}`);
    return `${commandLine(script)} ${args.join(' ')} --lr ${lr}`;
  };
  return { runDir, config, settings, maxIters, tune, tuneBudget, checkpoint: null, init, changed: [], retryCommand };
}

/** The weights of --init-from FILE (a run folder means its checkpoint), with at least a Generator. */
function readInitWeights(given: string): WeightsFile {
  let file = path.resolve(given);
  if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, CHECKPOINT_FILE);
  if (!existsSync(file)) throw new Error(`--init-from: ${file} does not exist`);
  const weights = readWeightsFile(readFileSync(file), file);
  if (!weights.models.G) throw new Error(`--init-from: ${file} holds a Discriminator only: a run starts from at least G's weights`);
  return weights;
}

/**
 * The model of a run started from weights: their shapes decide G's sizes (and ndf where D is there);
 * a size flag that says otherwise is refused. Without D, D is new with --ndf (default G's ngf).
 */
function initModelConfig(init: WeightsFile, flags: Flags, ndfFlag: number): TrainingConfig['model'] {
  const G = init.models.G!.sizes;
  const D = init.models.D?.sizes;
  if (G.nc !== 3) throw new Error(`--init-from: ${init.source}'s Generator draws ${G.nc} channel(s); the photos are RGB (3)`);
  const fromFile: Record<string, number> = { 'image-size': G.imageSize, nz: G.nz!, ngf: G.ngf!, ...(D ? { ndf: D.ndf! } : {}) };
  for (const [flag, value] of Object.entries(fromFile)) {
    if (flags[flag] !== undefined && Number(flags[flag]) !== value) {
      throw new Error(`--${flag} ${flags[flag]} does not match --init-from ${init.source}, whose shapes give --${flag} ${value}: drop --${flag}`);
    }
  }
  return { imageSize: G.imageSize, nz: G.nz!, ngf: G.ngf!, ndf: D ? D.ndf! : flags.ndf !== undefined ? ndfFlag : G.ngf!, nc: 3 };
}

/** --data or --data-cache, not both. */
function dataFlags(flags: Flags): Pick<RunSettings, 'dataDir' | 'dataCache'> {
  if (flags.data && flags['data-cache']) throw new Error('give --data DIR or --data-cache FILE, not both');
  return flags.data ? { dataDir: String(flags.data) } : { dataCache: path.resolve(String(flags['data-cache'])) };
}

/** The limits of an adapter that bound one tensor (a storage binding, and any buffer). */
type BufferLimits = Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>;

/**
 * Refuse a batch whose largest tensor cannot be one buffer on this adapter, before any photo is decoded.
 * The fixed-noise samples (64 images) go through G as one batch too.
 */
export function checkFits(config: TrainingConfig, limits: BufferLimits, adapterName = 'this adapter'): void {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const perImage = largestActivationPerImage(config.model) * 4;
  const batch = Math.max(config.batchSize, 64);
  if (perImage * batch <= limit) return;
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  const fits = Math.floor(limit / perImage);
  const what = `--batch-size ${config.batchSize} at --image-size ${config.model.imageSize} (ngf ${config.model.ngf}, ndf ${config.model.ndf})`;
  const advice = fits >= 64 ? `use --batch-size ${fits} or less` : `use a smaller --image-size, --ngf or --ndf (even the 64 sample images do not fit)`;
  throw new Error(`${what} needs a ${mb(perImage * batch)} buffer, over the ${mb(limit)} that ${adapterName} allows: ${advice}`);
}

/** The run folder and its data, ready to train. Throws (leaving --out as it was) when the start fails. */
export async function prepareRun(plan: RunPlan): Promise<PreparedRun> {
  const { runDir, config, settings, checkpoint } = plan;
  // photos are counted before any is decoded, so an impossible batch size costs nothing
  const prebuilt = settings.dataCache ? await openPrebuiltCache(settings.dataCache, config.model.imageSize) : null;
  const where = settings.dataCache ? `in ${settings.dataCache}` : `found under ${path.resolve(settings.dataDir!)}`;
  const photos = prebuilt ? prebuilt.cache.count : (await listImages(settings.dataDir!, settings.match)).length;
  if (photos < config.batchSize) {
    await prebuilt?.cache.close();
    throw new Error(`--batch-size ${config.batchSize} is more than the ${photos} photos ${where}: use --batch-size ${photos} or less, or add photos`);
  }
  settings.holdout ??= defaultHoldout(photos);
  if (photos - settings.holdout < config.batchSize) {
    await prebuilt?.cache.close();
    throw new Error(`--holdout ${settings.holdout} leaves ${photos - settings.holdout} of the ${photos} photos ${where} to train on, fewer than --batch-size ${config.batchSize}: use a smaller --holdout (0: none)`);
  }

  const created = !existsSync(runDir);
  ensureDir(runDir);
  let lock: RunLock | null = null;
  let prepared = false;
  // a signal or error before the run is prepared must leave --out as it was
  const abandon = () => {
    if (prepared) return;
    lock?.release();
    if (created) rmSync(runDir, { recursive: true, force: true });
  };
  process.once('exit', abandon);
  try {
    lock = RunLock.acquire(runDir);
    const samplesDir = path.join(runDir, 'samples');
    const removed = [runDir, samplesDir].filter((d) => existsSync(d)).flatMap((d) => removeStaleTemps(d));
    if (removed.length > 0) console.error(`note: removed ${removed.length} temporary file(s) a stopped trainer left: ${removed.map((f) => path.basename(f)).join(', ')}`);

    const { cache, report } = prebuilt ?? await prepareDataset({
      dataDir: settings.dataDir!, match: settings.match, imageSize: config.model.imageSize, cacheDir: settings.cacheDir,
    });
    const loader = new BatchLoader(cache, { batchSize: config.batchSize, seed: config.seed, holdout: settings.holdout });

    ensureDir(samplesDir);
    writeFileAtomic(path.join(runDir, 'run.json'), JSON.stringify({ ...settings, config }, null, 2));
    const logFile = path.join(runDir, 'log.jsonl');
    if (checkpoint) cutLog(logFile, checkpoint.iteration);
    else rmSync(logFile, { force: true });
    prepared = true;
    return { ...plan, cache, report, loader, logFile, lock };
  } catch (e) {
    abandon();
    throw e;
  } finally {
    process.off('exit', abandon);
  }
}

/**
 * Keep the log lines up to the checkpoint's iteration: the iterations after it were trained by a run that
 * stopped without saving them, and the resumed run trains them again. A torn last line (a crash in the
 * middle of an append) is dropped too.
 */
function cutLog(logFile: string, iteration: number): number {
  if (!existsSync(logFile)) return 0;
  const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const kept = lines.filter((line) => {
    try {
      const entry = JSON.parse(line) as { iteration?: number };
      return entry.iteration === undefined || entry.iteration <= iteration;
    } catch {
      return false;
    }
  });
  if (kept.length !== lines.length) writeFileAtomic(logFile, kept.map((l) => l + '\n').join(''));
  return lines.length - kept.length;
}

