// The trainers' command line (`npm run train`, `npm run train:chrome`): one flag per row of the settings
// table (src/train/run-settings.ts), the usage and --help made from the same rows, and each value read and
// checked against its row. What the values then mean for a start (fresh, --resume, --init-from) is
// ./run-plan.ts; the run folder and its data, ./run-setup.ts.
import path from 'node:path';
import { RUN_SETTINGS, helpOf, parseSetting, usageOf, type Setting, type SettingValues } from '../../train/run-settings.ts';
import { parseFlags, type Options } from './args.ts';

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

/** The given flag's value (checked against its row), else `otherwise`. */
export function valueOf(flags: Flags, s: Setting, otherwise: unknown): unknown {
  const raw = flags[s.flag];
  return raw === undefined ? otherwise : parseSetting(s, raw);
}

/** --data or --data-cache, not both (the cache's path made absolute: run.json must not depend on the working folder). */
export function dataValues(flags: Flags): Pick<SettingValues, 'data' | 'data-cache'> {
  if (flags.data && flags['data-cache']) throw new Error('give --data DIR or --data-cache FILE, not both');
  return flags.data ? { data: String(flags.data), 'data-cache': null } : { data: null, 'data-cache': path.resolve(String(flags['data-cache'])) };
}

