// What a trainer's flags mean for this start, checked before anything is written (both trainers):
//   a fresh run: every value from its flag or the settings table's default, the training config from the
//     'config' rows, the run folder new;
//   --resume RUN: RUN/checkpoint.safetensors and RUN/run.json read, the flags that would change the model or
//     the data refused ('fixed' rows), those that may change applied;
//   --init-from FILE: the weights read and checked, their shapes deciding the model's sizes.
// The resume rules live here once, so a run started by one trainer continues in the other.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { decodeCheckpoint, resumeProblem, type Checkpoint } from '../../train/checkpoint.ts';
import { readWeightsFile, type WeightsFile } from '../../train/weights-file.ts';
import { stridedLayers } from '../../model/dcgan.ts';
import { EMA_RAMPUP, type BatchNormMode, type TrainingConfig } from '../../train/gan.ts';
import type { KernelSet } from '../../kernels/kernel-set.ts';
import type { TuneMode } from '../../train/tune.ts';
import { RUN_SETTINGS, keptValue, valueAt, type Setting, type SettingFlag, type SettingValues } from '../../train/run-settings.ts';
import { commandLine } from './args.ts';
import { CHECKPOINT_FILE } from './paths.ts';
import { dataValues, valueOf, type Flags } from './run-flags.ts';

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
export interface RunPlan {
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
  /** print the kernels of this start's first step (--trace-kernels), a choice of this invocation too */
  traceKernels: boolean;
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
  return {
    maxIters: values['max-iters'] ?? Infinity, tune: values.tune as TuneMode, tuneBudget: values['tune-budget'] || Infinity,
    traceKernels: values['trace-kernels'] === true,
  };
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

