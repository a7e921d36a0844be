// Command-line flags with clear one-line errors, on node:util's parseArgs.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parseFlags(argv: string[], options: Options, usage: string): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options), options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new Error(`${(e as Error).message.split('\n')[0]}\n${usage}`);
  }
}

/**
 * `--lr -1` as `--lr=-1`: parseArgs reads a value that starts with '-' as a possible flag and calls it
 * "ambiguous"; a negative number after a flag that takes a value is meant as that value, and then gets
 * the flag's own range check ("--lr must be a number ≥ 0, got '-1'").
 */
function joinNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : null;
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|inf)/i.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** A numeric flag: integer or not, within [min, max], or the default when absent. */
export function numberFlag(values: Record<string, unknown>, name: string, fallback: number, { integer = true, min = -Infinity, max = Infinity } = {}): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    const range = `${integer ? 'an integer' : 'a number'}${min > -Infinity ? ` ≥ ${min}` : ''}${max < Infinity ? ` and ≤ ${max}` : ''}`;
    throw new Error(`--${name} must be ${range}, got '${raw}'`);
  }
  return v;
}

/**
 * The command as the user types it, for usage and retry lines: `npm run train --` inside this repository
 * (its npm scripts), `webgpu-dcgan train` through the package's bin anywhere else (bin/webgpu-dcgan.mjs
 * says which in WEBGPU_DCGAN_COMMAND; a script run with plain node is the repository's).
 */
export function commandLine(script: 'train' | 'train:chrome' | 'generate' | 'bench' | 'export' | 'eval' | 'tune-lr'): string {
  const bin = process.env.WEBGPU_DCGAN_COMMAND;
  return bin ? `${bin} ${script.replace(':', '-')}` : `npm run ${script} --`;
}
