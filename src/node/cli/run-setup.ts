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
import { largestActivationPerImage, stridedLayers } from '../../model/dcgan.ts';
import { EMA_RAMPUP, type BatchNormMode, type TrainingConfig } from '../../train/gan.ts';
import type { KernelSet } from '../../kernels/kernel-set.ts';
import type { TuneMode } from '../../train/tune.ts';
import {
  RUN_SETTINGS, helpOf, keptValue, parseSetting, usageOf, valueAt, type Setting, type SettingFlag, type SettingValues,
} from '../../train/run-settings.ts';
import { commandLine, parseFlags, type Options } from './args.ts';
import { CHECKPOINT_FILE } from './paths.ts';

/** The flags of both trainers: one per row of the settings table (src/train/run-settings.ts), and --help. */
const TRAIN_FLAGS = {
  ...Object.fromEntries(RUN_SETTINGS.map((s) => [s.flag, { type: s.kind === 'switch' ? 'boolean' : 'string' }])),
  help: { type: 'boolean', short: 'h' },
} as Options;

const STARTS = ['data', 'data-cache', 'resume', 'init-from'];
export const TRAIN_FLAGS_USAGE = `--data DIR|--data-cache FILE ${usageOf((s) => !STARTS.includes(s.flag))}`;
export const RESUME_USAGE = `--resume RUN ${usageOf((s) => s.onResume !== 'fixed' && !STARTS.includes(s.flag))} [--data DIR|--data-cache FILE]`;
/** A line per flag, what it does and its default; the usage of --help ends with it. */
export const TRAIN_FLAGS_HELP = `${helpOf(() => true)}
A resumed run keeps its model and data: ${RUN_SETTINGS.filter((s) => s.onResume === 'fixed').map((s) => `--${s.flag}`).join(', ')} cannot change.`;

/** --holdout's default: 1,000 photos, or a tenth of them when there are fewer than 10,000 */
export const defaultHoldout = (photos: number): number => Math.min(1000, Math.floor(photos / 10));

/**
 * What a run needs besides the training config, saved in RUN/run.json so --resume needs no other flags:
 * the 'run' rows of the settings table, under their run.json keys.
 */
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
   * photos never trained on, for the SWD at each epoch's end (src/metrics/swd.ts); chosen by heldOutSplit
   * (src/train/data/loader.ts). Undefined until prepareRun counts the photos (--holdout, else defaultHoldout);
   * a run.json without it is a run from before holdouts: 0.
   */
  holdout?: number;
  /** batchnorm statistics of the sample grids (src/train/gan.ts SamplingOptions); a resume may change it */
  bn: BatchNormMode;
}

/** A run whose flags are checked and whose resume state is read; nothing is written yet. */
interface RunPlan {
  runDir: string;
  config: TrainingConfig;
  settings: RunSettings;
  /** every setting's value for this start, by flag (the page's settings are taken from it) */
  values: SettingValues;
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
function readRunJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {}; // a folder whose run.json is gone: the checkpoint has the config, the flags the rest
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}): fix or delete it (--resume then needs --data DIR)`);
  }
}

/** The given flag's value (checked against its row), else `otherwise`. */
function valueOf(flags: Flags, s: Setting, otherwise: unknown): unknown {
  const raw = flags[s.flag];
  return raw === undefined ? otherwise : parseSetting(s, raw);
}

/** Set the value at a dotted path ('model.ngf'), creating the objects on the way. */
function setAt(object: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  const last = keys.pop()!;
  let o = object;
  for (const k of keys) o = (o[k] ??= {}) as Record<string, unknown>;
  o[last] = value;
}

/** The 'run' rows of `values` under their run.json keys (absent where there is no value). */
function runSettingsOf(values: SettingValues): RunSettings {
  const entries = RUN_SETTINGS.flatMap((s: Setting) => (typeof s.kept === 'object' && 'run' in s.kept && values[s.flag as SettingFlag] !== null ? [[s.kept.run, values[s.flag as SettingFlag]]] : []));
  return Object.fromEntries(entries) as RunSettings;
}

/** The plan's invocation-only choices, from the values. */
function invocationOf(values: SettingValues) {
  return { maxIters: values['max-iters'] ?? Infinity, tune: values.tune as TuneMode, tuneBudget: values['tune-budget'] || Infinity };
}

/** Check every flag and, for --resume, read what the run folder holds. Writes nothing. */
export function planRun(flags: Flags, usage: string, script: 'train' | 'train:chrome' = 'train'): RunPlan {
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
    const values: Record<string, unknown> = {};
    const changed: string[] = [];
    for (const s of RUN_SETTINGS as readonly Setting[]) {
      const kept = s.flag === 'out' ? runDir : keptValue(s, old, saved);
      const given = s.flag === 'out' && flags.out !== undefined ? path.resolve(String(flags.out)) : valueOf(flags, s, undefined);
      if (s.onResume === 'fixed' && given !== undefined && given !== kept) {
        throw new Error(
          `--${s.flag} cannot change on a resumed run (${runDir} was trained with --${s.flag} ${kept ?? '(none)'}): ` +
            `drop --${s.flag}, or start a new run with --out`,
        );
      }
      values[s.flag] = given ?? kept ?? s.default;
      const before = typeof s.kept === 'object' ? ('config' in s.kept ? valueAt(old, s.kept.config) : saved[s.kept.run]) : undefined;
      if (s.onResume === 'may change' && before !== undefined && before !== values[s.flag]) changed.push(`--${s.flag} ${before} → ${values[s.flag]}`);
    }
    // --data and --data-cache replace each other: the photos moved, or a cache stands in for them
    if (flags.data || flags['data-cache']) Object.assign(values, { data: null, 'data-cache': null }, dataValues(flags));
    if (!values.data && !values['data-cache']) throw new Error(`${path.join(runDir, 'run.json')} does not say where the photos are: give --data DIR`);
    const config = structuredClone(old) as TrainingConfig;
    for (const s of RUN_SETTINGS as readonly Setting[]) {
      if (s.onResume === 'may change' && typeof s.kept === 'object' && 'config' in s.kept) setAt(config as unknown as Record<string, unknown>, s.kept.config, values[s.flag]);
    }
    const v = values as SettingValues;
    return {
      runDir, config, settings: runSettingsOf(v), values: v, ...invocationOf(v), checkpoint, init: null, changed,
      retryCommand: (lr) => `${commandLine(script)} --resume ${flags.resume} --lr ${lr}`,
    };
  }

  if (!flags.data && !flags['data-cache']) throw new Error(`--data DIR is required: the folder of photos to train on (or --data-cache FILE, a prebuilt image cache)\n${usage}`);
  const values = Object.fromEntries((RUN_SETTINGS as readonly Setting[]).map((s) => [s.flag, valueOf(flags, s, s.default)])) as SettingValues;
  Object.assign(values, dataValues(flags));
  const init = flags['init-from'] ? readInitWeights(String(flags['init-from'])) : null;
  stridedLayers(values['image-size']!); // refuses sizes that are not a power of two
  const config = { model: { nc: 3 } } as Record<string, unknown>;
  for (const s of RUN_SETTINGS as readonly Setting[]) if (typeof s.kept === 'object' && 'config' in s.kept) setAt(config, s.kept.config, values[s.flag as SettingFlag]);
  const trainingConfig = config as unknown as TrainingConfig;
  // the moving average's warm-up for new runs; --ema 0 keeps none
  if (values.ema) trainingConfig.emaRampup = EMA_RAMPUP;
  else delete trainingConfig.ema;
  if (init) {
    // the file's shapes and layout decide the model (a size flag that says otherwise is refused)
    trainingConfig.model = { ...initModelConfig(init, flags, values.ndf!), gUpsample: init.models.G!.sizes.gUpsample ?? 'transposed' };
    Object.assign(values, { 'image-size': trainingConfig.model.imageSize, nz: trainingConfig.model.nz, ngf: trainingConfig.model.ngf, ndf: trainingConfig.model.ndf, 'g-upsample': trainingConfig.model.gUpsample });
  }
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
  const settings = runSettingsOf(values);
  if (values.holdout === null) delete settings.holdout; // prepareRun counts the photos first
  return { runDir, config: trainingConfig, settings, values, ...invocationOf(values), checkpoint: null, init, changed: [], retryCommand };
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

/** --data or --data-cache, not both (the cache's path made absolute: run.json must not depend on the working folder). */
function dataValues(flags: Flags): Pick<SettingValues, 'data' | 'data-cache'> {
  if (flags.data && flags['data-cache']) throw new Error('give --data DIR or --data-cache FILE, not both');
  return flags.data ? { data: String(flags.data), 'data-cache': null } : { data: null, 'data-cache': path.resolve(String(flags['data-cache'])) };
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

