// The settings of a training run, declared once: one row per flag of `npm run train` (train:chrome takes
// the same flags). A row says what kind of value the flag takes, its default and range, one line of help,
// where the value is kept, what --resume may do with it, and whether the page needs it. From this table come
//   - the flags parseArgs reads, each value's check and the usage --help prints (src/node/cli/run-flags.ts; what a start makes of them: run-plan.ts),
//   - the training config kept in the checkpoint ('config' rows) and RUN/run.json ('run' rows),
//   - the resume rules: a 'fixed' row defines the model or the data and is refused if it differs; a
//     'may change' row takes the new value; an 'invocation' row is a choice of this start only, kept nowhere,
//   - the page's settings under train:chrome (RunDescription.settings, src/train/protocol.ts): every row the
//     page needs is sent, and the page reports what it applied (test/train-chrome-settings.test.ts checks
//     each one); a row the page does not need says why (Node does that part), or why train:chrome refuses it.
// No Node imports: the page reads the same table.
import { G_UPSAMPLE_MODES } from '../model/dcgan.ts';
import { KERNEL_SETS } from '../kernels/kernel-set.ts';
import { BATCHNORM_MODES, DEFAULT_G_UPSAMPLE, DEFAULT_SAMPLING, type TrainingConfig } from './gan.ts';
import { DEFAULT_TUNE_BUDGET_S, TUNE_MODES } from './tune.ts';

interface BaseSetting {
  flag: string;
  /** the placeholder of the usage line ('DIR', 'N'); absent: the default */
  placeholder?: string;
  help: string;
  /**
   * where the value is kept: a path into the checkpoint's TrainingConfig ('config': 'model.ngf'), a key of
   * RUN/run.json ('run'), or nowhere ('invocation': this start only)
   */
  kept: { config: string } | { run: string } | 'invocation';
  /** --resume: 'fixed' (defines the model or the data; refused when it differs), 'may change', or 'invocation' */
  onResume: 'fixed' | 'may change' | 'invocation';
  /**
   * train:chrome: 'page' (sent to the page, which applies it), 'node' with why only Node needs it, or
   * 'refused' with the line train:chrome answers
   */
  page: 'page' | { node: string } | { refused: string };
  /** what a checkpoint or run.json from before this setting existed means (absent: the default) */
  legacy?: number | string | boolean;
}

interface NumberSetting extends BaseSetting {
  kind: 'integer' | 'number';
  /** null: none (no limit, or computed: the help says how) */
  default: number | null;
  min?: number;
  max?: number;
}
interface TextSetting extends BaseSetting {
  kind: 'text';
  default: string | null;
}
interface ChoiceSetting extends BaseSetting {
  kind: 'choice';
  choices: readonly string[];
  default: string;
}
interface SwitchSetting extends BaseSetting {
  kind: 'switch';
  default: boolean;
}
export type Setting = NumberSetting | TextSetting | ChoiceSetting | SwitchSetting;

/** --ema when not given (the README's "Sample quality" has what was measured) */
const DEFAULT_EMA = 0.999;

const node = (why: string) => ({ node: why });

export const RUN_SETTINGS = [
  // the data and the run folder
  { flag: 'data', kind: 'text', default: null, placeholder: 'DIR', help: 'the folder of photos (JPEG/PNG/WebP, searched recursively)', kept: { run: 'dataDir' }, onResume: 'may change', page: node('Node decodes the photos and serves the batches') },
  { flag: 'data-cache', kind: 'text', default: null, placeholder: 'FILE', help: 'a prebuilt uint8 image cache instead of --data', kept: { run: 'dataCache' }, onResume: 'may change', page: node('Node reads the cache and serves the batches') },
  { flag: 'match', kind: 'text', default: null, placeholder: "'dog.*'", help: 'only the photos whose file name matches this glob', kept: { run: 'match' }, onResume: 'fixed', page: node('Node chooses the photos') },
  { flag: 'holdout', kind: 'integer', default: null, min: 0, placeholder: 'N', help: 'photos never trained on, for the SWD at each epoch end (default 1,000, or a tenth of fewer than 10,000)', kept: { run: 'holdout' }, onResume: 'fixed', page: node('Node serves the held-out photos'), legacy: 0 },
  { flag: 'cache-dir', kind: 'text', default: null, placeholder: 'DIR', help: 'where decoded photos and tuned conv plans are kept (default $XDG_CACHE_HOME/webgpu-dcgan)', kept: { run: 'cacheDir' }, onResume: 'may change', page: node('Node keeps the cache and the tuned plans') },
  { flag: 'out', kind: 'text', default: null, placeholder: 'RUN', help: 'the run folder (default runs/<date>)', kept: 'invocation', onResume: 'fixed', page: node('Node writes the run folder') },
  { flag: 'resume', kind: 'text', default: null, placeholder: 'RUN', help: 'continue the run in this folder, optimizer state and all', kept: 'invocation', onResume: 'invocation', page: node('Node reads the checkpoint and sends it to the page') },
  { flag: 'init-from', kind: 'text', default: null, placeholder: 'FILE|RUN', help: "a new run from G's (and D's) weights: a checkpoint or a PyTorch state_dict", kept: 'invocation', onResume: 'invocation', page: { refused: '--init-from is for npm run train: start the run there (--max-iters 1 is enough), then continue it here with --resume RUN' } },
  // the model and its optimisation: the checkpoint's TrainingConfig
  { flag: 'image-size', kind: 'integer', default: 64, min: 8, help: 'a power of two', kept: { config: 'model.imageSize' }, onResume: 'fixed', page: 'page' },
  { flag: 'ngf', kind: 'integer', default: 64, min: 1, help: "G's width", kept: { config: 'model.ngf' }, onResume: 'fixed', page: 'page' },
  { flag: 'ndf', kind: 'integer', default: 64, min: 1, help: "D's width", kept: { config: 'model.ndf' }, onResume: 'fixed', page: 'page' },
  { flag: 'nz', kind: 'integer', default: 100, min: 1, help: 'the length of the noise vector', kept: { config: 'model.nz' }, onResume: 'fixed', page: 'page' },
  { flag: 'g-upsample', kind: 'choice', choices: G_UPSAMPLE_MODES, default: DEFAULT_G_UPSAMPLE, help: "nearest: Upsample + 3x3 conv (drew better at every epoch measured); transposed: PyTorch's example and its keys", kept: { config: 'model.gUpsample' }, onResume: 'fixed', page: 'page', legacy: 'transposed' },
  { flag: 'batch-size', kind: 'integer', default: 64, min: 2, help: 'images per step', kept: { config: 'batchSize' }, onResume: 'fixed', page: 'page' },
  { flag: 'lr', kind: 'number', default: 2e-4, min: 0, help: "Adam's learning rate (G and D)", kept: { config: 'lr' }, onResume: 'may change', page: 'page' },
  { flag: 'beta1', kind: 'number', default: 0.5, min: 0, max: 0.999999, help: "Adam's beta1", kept: { config: 'beta1' }, onResume: 'may change', page: 'page' },
  { flag: 'seed', kind: 'integer', default: 1, min: 0, max: 2 ** 32 - 1, help: 'weights, noise and the order of the photos', kept: { config: 'seed' }, onResume: 'fixed', page: 'page' },
  { flag: 'ema', kind: 'number', default: DEFAULT_EMA, min: 0, max: 0.999999, placeholder: 'DECAY', help: "a moving average of G's weights with this decay, warmed up (0: none)", kept: { config: 'ema' }, onResume: 'fixed', page: 'page', legacy: 0 },
  // the schedule and how it runs: RUN/run.json, or this start only
  { flag: 'epochs', kind: 'integer', default: 25, min: 1, help: 'passes over the photos', kept: { run: 'epochs' }, onResume: 'may change', page: 'page' },
  { flag: 'max-iters', kind: 'integer', default: null, min: 1, placeholder: 'N', help: 'stop after this many iterations in all (default: no limit)', kept: 'invocation', onResume: 'invocation', page: 'page' },
  { flag: 'sample-every', kind: 'integer', default: 100, min: 1, help: 'iterations between sample grids', kept: { run: 'sampleEvery' }, onResume: 'may change', page: 'page' },
  { flag: 'patience', kind: 'integer', default: 50, min: 1, help: 'iterations the divergence guard waits before stopping a collapsed run', kept: { run: 'patience' }, onResume: 'may change', page: 'page' },
  { flag: 'checkpoint-every', kind: 'number', default: 10, min: 0, help: 'minutes between checkpoints besides the epoch ends (0: every iteration)', kept: { run: 'checkpointEvery' }, onResume: 'may change', page: 'page' },
  { flag: 'keep-epochs', kind: 'switch', default: false, help: "keep every epoch's checkpoint, not only the latest", kept: { run: 'keepEpochs' }, onResume: 'may change', page: 'page' },
  { flag: 'kernel-set', kind: 'choice', choices: KERNEL_SETS, default: 'fast', help: 'simple: the readable kernels only (slower, same values)', kept: { run: 'kernelSet' }, onResume: 'may change', page: 'page' },
  { flag: 'tune', kind: 'choice', choices: TUNE_MODES, default: 'auto', help: 'conv plans measured on this adapter (auto: reuse kept choices; force: again; off: the heuristic)', kept: 'invocation', onResume: 'invocation', page: 'page' },
  { flag: 'tune-budget', kind: 'number', default: DEFAULT_TUNE_BUDGET_S, min: 0, help: 'seconds the tuning may take (0: no limit)', kept: 'invocation', onResume: 'invocation', page: 'page' },
  { flag: 'trace-kernels', kind: 'switch', default: false, help: "print each kernel this start's first step dispatches, by layer, pass and conv plan (and keep it in RUN/kernel-trace.txt)", kept: 'invocation', onResume: 'invocation', page: 'page' },
  { flag: 'bn', kind: 'choice', choices: BATCHNORM_MODES, default: DEFAULT_SAMPLING.bn, help: "the sample grids' batchnorm statistics: the drawn batch's (train) or the running ones (eval)", kept: { run: 'bn' }, onResume: 'may change', page: 'page' },
] as const satisfies readonly Setting[];

export type SettingFlag = (typeof RUN_SETTINGS)[number]['flag'];
type ValueOf<S> = S extends { kind: 'switch' } ? boolean : S extends { kind: 'choice' } ? string
  : S extends { kind: 'integer' | 'number' } ? number | null : string | null;
/** A value for every setting, by flag (null: none given and no default) */
export type SettingValues = { -readonly [S in (typeof RUN_SETTINGS)[number] as S['flag']]: ValueOf<S> };

/** One flag's value from its text (or true for a switch), checked against its row: one line naming the flag otherwise. */
export function parseSetting(s: Setting, raw: string | boolean): number | string | boolean {
  if (s.kind === 'switch') return raw === true || raw === 'true';
  const text = String(raw);
  if (s.kind === 'text') return text;
  if (s.kind === 'choice') {
    if (s.choices.includes(text)) return text;
    throw new Error(`--${s.flag} must be one of ${s.choices.join(', ')}, not '${text}'`);
  }
  const v = Number(text);
  const { min = -Infinity, max = Infinity } = s;
  if (text.trim() === '' || !Number.isFinite(v) || (s.kind === 'integer' && !Number.isInteger(v)) || v < min || v > max) {
    const range = `${s.kind === 'integer' ? 'an integer' : 'a number'}${min > -Infinity ? ` ≥ ${min}` : ''}${max < Infinity ? ` and ≤ ${max}` : ''}`;
    throw new Error(`--${s.flag} must be ${range}, got '${text}'`);
  }
  return v;
}

/** The value at a dotted path of an object ('model.ngf'), undefined where it is absent. */
export function valueAt(object: object, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, key) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined), object);
}

/**
 * A setting's value as a run kept it: from the checkpoint's config or run.json; the row's legacy value where
 * an older run lacks it; undefined for an 'invocation' row or a value never given (e.g. --match).
 */
export function keptValue(s: Setting, config: TrainingConfig, runJson: Record<string, unknown>): unknown {
  if (s.kept === 'invocation') return undefined;
  const v = 'config' in s.kept ? valueAt(config, s.kept.config) : runJson[s.kept.run];
  return v ?? s.legacy;
}

/** The settings sent to the page under train:chrome: every row the page needs, by flag. */
export type PageSettings = Pick<SettingValues, Extract<(typeof RUN_SETTINGS)[number], { page: 'page' }>['flag']>;

export function pageSettings(values: SettingValues): PageSettings {
  return Object.fromEntries(RUN_SETTINGS.filter((s) => s.page === 'page').map((s) => [s.flag, values[s.flag]])) as PageSettings;
}

/** The usage lines of the rows `which` keeps, `[--flag default]` each, wrapped at about 110 columns. */
export function usageOf(which: (s: Setting) => boolean, indent = '       '): string {
  const parts = RUN_SETTINGS.filter(which).map((s: Setting) => {
    const value = s.kind === 'switch' ? '' : ` ${s.kind === 'choice' ? s.choices.join('|') : s.placeholder ?? s.default}`;
    return `[--${s.flag}${value}]`;
  });
  const lines: string[] = [];
  for (const p of parts) {
    if (lines.length && lines[lines.length - 1].length + p.length < 105) lines[lines.length - 1] += ` ${p}`;
    else lines.push(p);
  }
  return lines.join(`\n${indent}`);
}

/** One line per row the usage lists: flag, default, help. */
export function helpOf(which: (s: Setting) => boolean): string {
  return RUN_SETTINGS.filter(which).map((s: Setting) => {
    const d = s.default === null || s.default === false ? '' : ` (default ${s.default})`;
    return `  --${s.flag.padEnd(17)}${s.help}${d}`;
  }).join('\n');
}
